"""OCR of scanned pages and images, offline, with Tesseract (Debian's tesseract-ocr + tesseract-ocr-vie).

pytesseract drives the tesseract binary on page images: PDF pages without a text layer are
rendered by pypdfium2 (pdfplumber's dependency) at 300 dpi; .png/.jpg/.tif files are read by
Pillow, every frame of a multi-page TIFF. ocrmypdf was not used: it rewrites the whole PDF through
Ghostscript to add a text layer we would only read back. A missing Tesseract or Vietnamese model
is a per-file error that says how to install them.
"""

from __future__ import annotations

import io

from rag.errors import DocumentError
from rag.ingest.formats.extracted import Extracted

LANGUAGE = "vie"
DPI = 300
INSTALL_HINT = "install Tesseract and its Vietnamese model: sudo apt-get install tesseract-ocr tesseract-ocr-vie"
MAX_PIXELS = 12_000 * 12_000  # a larger "image" is a decompression bomb, not a scan


def check_tesseract(path: object) -> None:
    """Raise a DocumentError saying how to install Tesseract when it or its Vietnamese model is missing."""
    import pytesseract

    try:
        languages = pytesseract.get_languages(config="")
    except (pytesseract.TesseractNotFoundError, OSError):
        raise DocumentError(path, f"this file needs OCR but Tesseract is not installed; {INSTALL_HINT}") from None
    if LANGUAGE not in languages:
        raise DocumentError(path, f"this file needs OCR but Tesseract has no Vietnamese model ('{LANGUAGE}'); {INSTALL_HINT}")


def ocr_image(image) -> str:
    """The text Tesseract reads on one page image (grayscale first: scans are often colour JPEGs)."""
    import pytesseract

    return pytesseract.image_to_string(image.convert("L"), lang=LANGUAGE)


def ocr_pdf_pages(path: object, data: bytes, pages: list[int]) -> dict[int, str]:
    """OCR text of the given (0-based) pages of a PDF, rendered at 300 dpi."""
    import pypdfium2 as pdfium

    check_tesseract(path)
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise DocumentError(path, f"cannot render the scanned PDF for OCR ({exc})") from None
    out: dict[int, str] = {}
    try:
        for n in pages:
            image = document[n].render(scale=DPI / 72).to_pil()
            out[n] = ocr_image(image)
    finally:
        document.close()
    return out


def image_text(path: object, data: bytes) -> Extracted:
    """OCR of an image file; each frame of a multi-page TIFF is a page."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    check_tesseract(path)
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as image:
            pages = [ocr_image(frame.copy()) for frame in ImageSequence.Iterator(image)]
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        raise DocumentError(path, f"corrupt or unreadable image ({exc})") from None
    if not any(p.strip() for p in pages):
        raise DocumentError(path, "OCR found no text in the image")
    return Extracted(text="\n\n".join(pages), ocr_pages=len(pages))
