"""Legacy Vietnamese encodings (TCVN3, VNI) converted to Unicode; binary files called binary."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.errors import DocumentError
from rag.ingest.loaders import iter_paths, load_document

from tests.helpers import CORPUS

DATA = Path(__file__).parent / "data"
SAMPLE = (
    "Bệnh viện Bãi Cháy khám cho 383.605 lượt người, điều trị nội trú 41.258 lượt.\n"
    "Giám đốc Sở Y tế Quảng Ninh là ông Nguyễn Trọng Diện. Đội ngũ y bác sĩ đã nỗ lực vượt khó.\n"
    "Ngày 5/1/2024, tỉnh tổ chức hội nghị tổng kết công tác chăm sóc sức khỏe nhân dân năm 2023."
)


def legacy_bytes(text: str, encoding: str) -> bytes:
    """``text`` written in a legacy encoding with the inverse table in tests/ingest/data (one byte a character)."""
    rows = (line.split("\t") for line in (DATA / f"{encoding}.tsv").read_text(encoding="utf-8").splitlines())
    table = dict(row for row in rows if len(row) == 2 and not row[0].startswith("#"))
    return "".join(table.get(ch, ch) for ch in text).encode("latin-1")


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
