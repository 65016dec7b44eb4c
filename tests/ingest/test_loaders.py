"""Loading every supported format, the metadata it yields, and every kind of bad file."""

from __future__ import annotations

import pytest

from rag.errors import DocumentError, UnsupportedFormatError
from rag.ingest.loaders import derive_title, iter_paths, load_document
from rag.text import collapse_whitespace

from tests import docs_factory as f
from tests.helpers import CORPUS


@pytest.mark.parametrize("writer,name", [(f.write_txt, "a.txt"), (f.write_md, "a.md"), (f.write_html, "a.html"), (f.write_pdf, "a.pdf"), (f.write_docx, "a.docx")])
def test_every_format_loads_text_title_dates(tmp_path, writer, name):
    doc = load_document(writer(tmp_path / name))
    flat = collapse_whitespace(doc.text)
    for sentence in f.SAMPLE_BODY:
        assert sentence in flat
    assert doc.title == f.SAMPLE_TITLE
    assert doc.doc_id == "a"
    assert "2024-01-05" in doc.dates
    assert len(doc.content_hash) == 64
    assert "không được lấy" not in doc.text  # script content never becomes text


def test_docx_tables_are_kept(tmp_path):
    assert "Số giường: 250" in load_document(f.write_docx(tmp_path / "t.docx")).text


def test_corpus_metadata():
    doc = load_document(CORPUS / "001_74a51137ac984768.txt")
    assert doc.doc_id == "001_74a51137ac984768"
    assert doc.title.startswith("Bệnh viện Bãi Cháy dự Hội nghị tổng kết")
    assert "2024-01-05" in doc.dates
    assert "\u00a0" not in load_document(CORPUS / "002_3c259da17feec9a5.txt").text


def test_title_from_first_sentence_when_no_heading():
    text = "Theo báo cáo của Bác sĩ CK2 Nguyễn Hoài Nam, bệnh viện có 161 CBCNV. Câu thứ hai."
    assert derive_title(text) == "Theo báo cáo của Bác sĩ CK2 Nguyễn Hoài Nam, bệnh viện có 161 CBCNV"


def test_missing_path(tmp_path):
    with pytest.raises(DocumentError, match="no such file"):
        iter_paths([tmp_path / "khong-co.txt"])


def test_empty_file(tmp_path):
    (tmp_path / "e.txt").write_text("  \n ", encoding="utf-8")
    with pytest.raises(DocumentError, match="empty"):
        load_document(tmp_path / "e.txt")


def test_encrypted_pdf(tmp_path):
    with pytest.raises(DocumentError, match="encrypted"):
        load_document(f.write_pdf(tmp_path / "locked.pdf", encrypt=True))


def test_corrupt_pdf(tmp_path):
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.7\nthis is not really a pdf\n%%EOF")
    with pytest.raises(DocumentError, match="bad.pdf"):
        load_document(tmp_path / "bad.pdf")


def test_corrupt_docx(tmp_path):
    (tmp_path / "bad.docx").write_bytes(b"PK\x03\x04 broken zip")
    with pytest.raises(DocumentError, match="corrupt or unreadable .docx"):
        load_document(tmp_path / "bad.docx")


def test_unsupported_extension(tmp_path):
    (tmp_path / "a.pptx").write_bytes(b"x")
    with pytest.raises(UnsupportedFormatError, match="unsupported file type '.pptx'"):
        load_document(tmp_path / "a.pptx")


def test_iter_paths_expands_directories(tmp_path):
    f.write_txt(tmp_path / "b.txt")
    (tmp_path / "sub").mkdir()
    f.write_md(tmp_path / "sub" / "c.md")
    (tmp_path / ".hidden.txt").write_text("x", encoding="utf-8")
    assert [p.name for p in iter_paths([tmp_path])] == ["b.txt", "c.md"]
