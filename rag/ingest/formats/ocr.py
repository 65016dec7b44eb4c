"""OCR of scanned pages and images, offline, with Tesseract (Debian's tesseract-ocr + tesseract-ocr-vie).

PDF pages without a text layer are rendered by pypdfium2 (pdfplumber's dependency) at 300 dpi;
.png/.jpg/.tif files are read by Pillow, every frame of a multi-page TIFF. Each page goes to the
tesseract binary directly, one OpenMP thread per process and as many pages at once as there are
cores: Tesseract's own threads spin when the machine is busy (a page at 300 dpi took 23.7 s with
them and 8.4 s without on a loaded 2-core machine), and pytesseract cannot set a child's
environment without setting the whole process's (FAISS and ONNX Runtime read the same OpenMP
limit). ocrmypdf was not used: it rewrites the whole PDF through Ghostscript to add a text layer
we would only read back. A missing Tesseract or Vietnamese model is a per-file error that says how
to install them.
"""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from rag.errors import DocumentError
from rag.ingest.formats.extracted import Extracted

LANGUAGE = "vie"
DPI = 300
PAGE_TIMEOUT_S = 600
INSTALL_HINT = "install Tesseract and its Vietnamese model: sudo apt-get install tesseract-ocr tesseract-ocr-vie"
MAX_PIXELS = 12_000 * 12_000  # a larger "image" is a decompression bomb, not a scan
_ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}


def check_tesseract(path: object) -> None:
    """Raise a DocumentError saying how to install Tesseract when it or its Vietnamese model is missing."""
    try:
        listed = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, timeout=60, env=_ENV)
    except (FileNotFoundError, PermissionError):
        raise DocumentError(path, f"this file needs OCR but Tesseract is not installed; {INSTALL_HINT}") from None
    if LANGUAGE not in listed.stdout.split():
        raise DocumentError(path, f"this file needs OCR but Tesseract has no Vietnamese model ('{LANGUAGE}'); {INSTALL_HINT}")


def ocr_image(image, path: object = "") -> str:
    """The text Tesseract reads on one page image (grayscale first: scans are often colour JPEGs)."""
    buffer = io.BytesIO()
    image.convert("L").save(buffer, format="PNG")
    try:
        result = subprocess.run(
            ["tesseract", "stdin", "stdout", "-l", LANGUAGE],
            input=buffer.getvalue(), capture_output=True, timeout=PAGE_TIMEOUT_S, env=_ENV,
        )
    except subprocess.TimeoutExpired:
        raise DocumentError(path, f"OCR of a page took over {PAGE_TIMEOUT_S} s; split the scan or lower its resolution") from None
    if result.returncode != 0:
        raise DocumentError(path, f"Tesseract failed on a page ({result.stderr.decode(errors='replace').strip()[-200:]})")
    return result.stdout.decode("utf-8", errors="replace")


def ocr_pages(path: object, images: Iterable) -> list[str]:
    """OCR of page images in order, as many at once as there are cores (and no more rendered pages held)."""
    workers = max(1, os.cpu_count() or 1)
    out: list[str] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        running: list[Future[str]] = []
        for image in images:
            running.append(pool.submit(ocr_image, image, path))
            if len(running) == workers:
                out.extend(f.result() for f in running)
                running = []
        out.extend(f.result() for f in running)
    return out


def ocr_pdf_pages(path: object, data: bytes, pages: list[int]) -> dict[int, str]:
    """OCR text of the given (0-based) pages of a PDF, rendered at 300 dpi."""
    import pypdfium2 as pdfium

    check_tesseract(path)
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise DocumentError(path, f"cannot render the scanned PDF for OCR ({exc})") from None
    try:
        # rendering stays on this thread (pdfium is not thread-safe); one page image at a time per core
        images = (document[n].render(scale=DPI / 72).to_pil() for n in pages)
        return dict(zip(pages, ocr_pages(path, images)))
    finally:
        document.close()


def image_text(path: object, data: bytes) -> Extracted:
    """OCR of an image file; each frame of a multi-page TIFF is a page."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    check_tesseract(path)
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as image:
            pages = ocr_pages(path, [frame.copy() for frame in ImageSequence.Iterator(image)])
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        raise DocumentError(path, f"corrupt or unreadable image ({exc})") from None
    if not any(p.strip() for p in pages):
        raise DocumentError(path, "OCR found no text in the image")
    return Extracted(text="\n\n".join(pages), ocr_pages=len(pages))
