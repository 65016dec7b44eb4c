"""OCR of scans with the real Tesseract: images, PDF pages without a text layer, a missing Tesseract."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from rag.errors import DocumentError
from rag.ingest.loaders import load_document
from rag.text import collapse_whitespace

from tests import docs_factory as f
from tests.helpers import ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr missing (scripts/test.sh installs it)"),
]
FIGURES = ["12.345", "7,5%", "2022", "5/1/2024"]


def test_scanned_image_is_read_with_its_figures(tmp_path):
    f.render_scan([f.SAMPLE_TITLE, *f.SAMPLE_BODY]).save(tmp_path / "scan.png")
    doc = load_document(tmp_path / "scan.png")
    assert doc.ocr_pages == 1
    flat = collapse_whitespace(doc.text)
    for figure in FIGURES:
        assert figure in flat
    assert "Bệnh viện Đa khoa Thử Nghiệm" in doc.title
    assert doc.date == "2024-01-05"


def test_only_pages_without_a_text_layer_are_ocred(tmp_path):
    path = f.write_scan_pdf(tmp_path / "mixed.pdf", [f.SAMPLE_BODY], text_page=[f.SAMPLE_TITLE])
    doc = load_document(path)
    assert doc.ocr_pages == 1  # of two pages: the first has text
    assert doc.title == f.SAMPLE_TITLE
    flat = collapse_whitespace(doc.text)
    for figure in FIGURES:
        assert figure in flat


def test_missing_tesseract_is_a_clear_per_file_error(tmp_path):
    f.render_scan(["Trạm Y tế C"]).save(tmp_path / "scan.png")
    code = "import sys\nfrom rag.ingest.loaders import load_document\ntry:\n    load_document(sys.argv[1])\nexcept Exception as e:\n    print(e)"
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "scan.png")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "PATH": str(tmp_path)},
    )
    assert "scan.png" in result.stdout and "Tesseract is not installed" in result.stdout
    assert "apt-get install tesseract-ocr tesseract-ocr-vie" in result.stdout


def test_corrupt_image(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    with pytest.raises(DocumentError, match="corrupt or unreadable image"):
        load_document(tmp_path / "bad.jpg")


def test_every_frame_of_a_multipage_tiff_is_a_page(tmp_path):
    first, second = f.render_scan(["Trạm Y tế xã Pà Cò có 6 nhân viên."], dpi=200), f.render_scan(["Tỷ lệ tiêm chủng đạt 98,5%."], dpi=200)
    first.save(tmp_path / "two.tif", save_all=True, append_images=[second])
    doc = load_document(tmp_path / "two.tif")
    assert doc.ocr_pages == 2
    assert doc.text.index("6 nhân viên") < doc.text.index("98,5%")
