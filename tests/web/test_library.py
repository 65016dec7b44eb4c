"""The library tab's own checks of uploaded files (rag.web.library), without a server: each refusal in Vietnamese."""

from __future__ import annotations

import pytest

from rag.web.library import check_file, reason_vi

LIMIT_MB = 1


def check(tmp_path, name: str, data: bytes) -> str | None:
    path = tmp_path / name
    path.write_bytes(data)
    return check_file(path, name, LIMIT_MB * 1024 * 1024, LIMIT_MB)


@pytest.mark.parametrize(
    ("name", "data", "phrase"),
    [
        ("rong.txt", b"  \n", "tệp rỗng"),
        ("a.exe", b"MZ", "không được hỗ trợ"),
        ("khong_duoi", b"abc", "(không có đuôi)"),
        ("lon.txt", b"a" * (LIMIT_MB * 1024 * 1024 + 1), "lớn hơn giới hạn 1 MB"),
        ("gia.pdf", b"hello", "không phải tệp PDF thật"),
        ("gia.docx", b"hello", "không phải tệp DOCX thật"),
        ("anh.txt", bytes(range(256)) * 8, "tệp nhị phân"),
        ("anh.html", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "tệp nhị phân"),
    ],
)
def test_refusals_say_why_in_vietnamese(tmp_path, name, data, phrase):
    assert phrase in (check(tmp_path, name, data) or "")


def test_good_files_and_legacy_text_pass_the_first_check(tmp_path):
    assert check(tmp_path, "ok.txt", "Báo cáo năm 2023".encode()) is None
    # legacy-encoded text is text: the loader diagnoses it (then reason_vi says it in Vietnamese)
    assert check(tmp_path, "cu.txt", "B¸o c¸o tæng kÕt n¨m 2023".encode("cp1252")) is None


@pytest.mark.parametrize(
    ("reason", "phrase"),
    [
        ("file is empty", "tệp rỗng"),
        ("the PDF has no extractable text (a scan?); run OCR on it first", "bản scan"),
        ("corrupt or unreadable PDF (EOF marker not found)", "PDF bị hỏng"),
        ("the PDF is encrypted (password-protected); save an unprotected copy", "mật khẩu"),
        ("not valid UTF-8 (byte 0xb8 at offset 1); it looks like text typed with a legacy Vietnamese font encoding (TCVN3/ABC or VNI); convert", "TCVN3"),
        ("not valid UTF-8 (byte 0xff at offset 0); save it as UTF-8 and try again", "UTF-8"),
        ("corrupt or unreadable .docx file (BadZipFile)", "Word (.docx) bị hỏng"),
        ("the PDF has no text, and OCR found none on its pages", "bản scan"),
        ("this file needs OCR but Tesseract is not installed; apt-get install tesseract-ocr", "chưa cài Tesseract"),
    ],
)
def test_loader_reasons_in_vietnamese(reason, phrase):
    assert phrase in reason_vi(reason)
