"""Legacy Vietnamese encodings (TCVN3, VNI) converted to Unicode; binary files called binary."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest

from rag.errors import DocumentError
from rag.ingest.formats.legacy import convert_legacy, to_unicode
from rag.ingest.loaders import iter_paths, load_document

from tests.helpers import CORPUS

DATA = Path(__file__).parent / "data"
SAMPLE = (
    "Bệnh viện Bãi Cháy khám cho 383.605 lượt người, điều trị nội trú 41.258 lượt.\n"
    "Giám đốc Sở Y tế Quảng Ninh là ông Nguyễn Trọng Diện. Đội ngũ y bác sĩ đã nỗ lực vượt khó.\n"
    "Ngày 5/1/2024, tỉnh tổ chức hội nghị tổng kết công tác chăm sóc sức khỏe nhân dân năm 2023."
)


def reference_table(encoding: str) -> dict[str, str]:
    """Unicode letter → its bytes (as Latin-1 characters) in ``encoding``, from tests/ingest/data."""
    rows = (line.split("\t") for line in (DATA / f"{encoding}.tsv").read_text(encoding="utf-8").splitlines())
    return dict(row for row in rows if len(row) == 2 and not row[0].startswith("#"))


def legacy_bytes(text: str, encoding: str) -> bytes:
    """``text`` written in a legacy encoding with the inverse table in tests/ingest/data (one byte a character)."""
    table = reference_table(encoding)
    return "".join(table.get(ch, ch) for ch in text).encode("latin-1")


# the 134 non-ASCII letters of Vietnamese: 12 vowels × 6 tones less the 6 plain ASCII vowels, and đ; both cases
_TONES = "\u0300\u0301\u0309\u0303\u0323"  # huyền, sắc, hỏi, ngã, nặng
_LOWER = [unicodedata.normalize("NFC", v + t) for v in "aăâeêioôơuưy" for t in ("", *_TONES)]
LETTERS = sorted({c for c in _LOWER + ["đ"] if not c.isascii()} | {c.upper() for c in _LOWER + ["đ"] if not c.isascii()})
TCVN3_UPPER = "ĂÂÊÔƠƯĐ"  # TCVN3 has codes for these capitals only; the others are typed in lowercase codes


def test_the_reference_tables_cover_every_letter():
    assert len(LETTERS) == 134
    assert set(reference_table("vni")) == set(LETTERS)
    assert set(reference_table("tcvn3")) == {c for c in LETTERS if c.islower() or c in TCVN3_UPPER}


def in_context(letter: str) -> str:
    """A sentence with ``letter`` inside a word, alone and at the end (detection needs some text)."""
    return f"{SAMPLE.splitlines()[0]} Chữ t{letter}n, {letter} và {letter}"


# TCVN3 capitals other than TCVN3_UPPER are the lowercase codes shown by a capitals font (.VnTimeH):
# the text holds no case to recover, so they have no sample of their own
SAMPLES = [("vni", c) for c in LETTERS] + [("tcvn3", c) for c in LETTERS if c.islower() or c in TCVN3_UPPER]


@pytest.mark.parametrize(("encoding", "letter"), SAMPLES)
def test_every_letter_converts_exactly(encoding, letter):
    text = in_context(letter)
    assert convert_legacy(legacy_bytes(text, encoding).decode("latin-1")) == (text, encoding)
    assert to_unicode(legacy_bytes(f"t{letter}n {letter}", encoding).decode("latin-1"), encoding) == f"t{letter}n {letter}"


def test_known_vni_bytes_written_by_hand():
    # typed in a VNI-Times font and saved: "khẳng định", "đột quỵ" (the letters viparse leaves alone)
    raw = "Beänh vieän ñaõ khaúng ñònh: ngöôøi bò ñoät quî ñöôïc caáp cöùu kòp thôøi."
    assert convert_legacy(raw) == ("Bệnh viện đã khẳng định: người bị đột quỵ được cấp cứu kịp thời.", "vni")


@pytest.mark.parametrize("encoding", ["tcvn3", "vni"])
def test_legacy_text_file_round_trips_exactly(tmp_path, encoding):
    (tmp_path / "bc.txt").write_bytes(legacy_bytes(SAMPLE, encoding))
    doc = load_document(tmp_path / "bc.txt")
    assert doc.text == SAMPLE
    assert doc.encoding == encoding
    assert doc.title == "Bệnh viện Bãi Cháy khám cho 383.605 lượt người, điều trị nội trú 41.258 lượt"
    assert doc.date == "2024-01-05"


def test_known_tcvn3_bytes_written_by_hand(tmp_path):
    # typed in a .VnTime font and saved: independent of the test tables above
    (tmp_path / "abc.txt").write_bytes("BÖnh viÖn B·i Ch¸y kh¸m cho 383.605 l­ît ng­êi".encode("latin-1"))
    doc = load_document(tmp_path / "abc.txt")
    assert doc.text == "Bệnh viện Bãi Cháy khám cho 383.605 lượt người" and doc.encoding == "tcvn3"


def test_legacy_text_saved_as_utf8_is_converted_too(tmp_path):
    (tmp_path / "u.md").write_text(legacy_bytes(SAMPLE, "vni").decode("latin-1"), encoding="utf-8")
    doc = load_document(tmp_path / "u.md")
    assert doc.text == SAMPLE and doc.encoding == "vni"


def test_legacy_docx_is_converted_and_flagged(tmp_path):
    import docx

    document = docx.Document()
    document.add_heading(legacy_bytes("Báo cáo tổng kết ngành y tế", "tcvn3").decode("latin-1"), level=1)
    for line in SAMPLE.split("\n"):
        document.add_paragraph(legacy_bytes(line, "tcvn3").decode("latin-1"))
    document.save(str(tmp_path / "cu.docx"))
    doc = load_document(tmp_path / "cu.docx")
    assert doc.encoding == "tcvn3"
    assert doc.title == "Báo cáo tổng kết ngành y tế"
    assert doc.text == "Báo cáo tổng kết ngành y tế\n" + SAMPLE


def test_unicode_documents_are_left_alone():
    for path in iter_paths([CORPUS]):
        doc = load_document(path)
        assert doc.encoding is None


def test_random_bytes_are_called_binary_not_legacy(tmp_path):
    (tmp_path / "rac.txt").write_bytes(os.urandom(4096))
    with pytest.raises(DocumentError, match="tệp nhị phân, không phải văn bản"):
        load_document(tmp_path / "rac.txt")


def test_latin1_text_that_is_not_vietnamese_stays_an_encoding_error(tmp_path):
    (tmp_path / "fr.txt").write_bytes("Le café où l'on mange une crème brûlée très sucrée.".encode("latin-1"))
    with pytest.raises(DocumentError, match="not valid UTF-8 .*save it as UTF-8"):
        load_document(tmp_path / "fr.txt")


def test_utf16_with_bom_is_text(tmp_path):
    (tmp_path / "w.txt").write_bytes("Trạm Y tế C có 6 nhân viên.".encode("utf-16"))
    assert load_document(tmp_path / "w.txt").text == "Trạm Y tế C có 6 nhân viên."
