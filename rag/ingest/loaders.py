"""Load reports (.txt, .md, .html, .pdf, .docx, .xlsx, .csv, scanned PDFs and images) into normalised text with document metadata.

Each format goes through a well-kept parser (rag.ingest.formats: BeautifulSoup, pdfplumber,
python-docx, openpyxl, Tesseract for scans); tables become one line per row with their headers. Every failure is a
:class:`DocumentError` naming the file and saying what the user can do about it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import DocumentError, UnsupportedFormatError
from rag.ingest.formats.extracted import Extracted
from rag.ingest.formats.html import html_text
from rag.ingest.formats.legacy import convert_legacy, to_unicode
from rag.ingest.formats.metadata import HEADING_MAX_CHARS, derive_title, document_date, document_dates, shorten
from rag.ingest.formats.ocr import image_text
from rag.ingest.formats.pdf import pdf_text
from rag.ingest.formats.sheets import csv_text, xlsx_text
from rag.ingest.formats.text import plain_text
from rag.ingest.formats.word import docx_text
from rag.text import normalize

SUPPORTED_EXTENSIONS = (".txt", ".md", ".html", ".htm", ".pdf", ".docx", ".xlsx", ".csv", ".png", ".jpg", ".jpeg", ".tif", ".tiff")
_PARSERS: dict[str, Callable[[Path, bytes], Extracted]] = {
    ".txt": plain_text,
    ".md": plain_text,
    ".html": lambda _path, data: html_text(data),
    ".htm": lambda _path, data: html_text(data),
    ".pdf": pdf_text,
    ".docx": docx_text,
    ".xlsx": xlsx_text,
    ".csv": csv_text,
    **{ext: image_text for ext in (".png", ".jpg", ".jpeg", ".tif", ".tiff")},
}


@dataclass(frozen=True)
class LoadedDocument:
    """One report: ``text`` is normalised (see :func:`rag.text.normalize`); offsets refer to it."""

    doc_id: str
    title: str
    text: str
    source: str
    content_hash: str
    dates: list[str] = field(default_factory=list)  # every date mentioned, the document's own date first
    date: str | None = None  # the report's date: its header's, else the file metadata's
    encoding: str | None = None  # the legacy encoding the text was converted from ("tcvn3", "vni")
    ocr_pages: int = 0  # pages (or images) whose text came from OCR


def load_document(path: str | Path) -> LoadedDocument:
    """Read one file; raises :class:`DocumentError` (or its subclass for unknown formats)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise UnsupportedFormatError(
            path, f"unsupported file type '{suffix or '(none)'}' (supported: {', '.join(SUPPORTED_EXTENSIONS)})"
        )
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DocumentError(path, "file not found") from None
    except OSError as exc:
        raise DocumentError(path, f"cannot read file ({exc.strerror or exc})") from None
    if not data.strip():
        raise DocumentError(path, "file is empty")

    extracted = _PARSERS[suffix](path, data)
    raw, encoding = (extracted.text, extracted.encoding) if extracted.encoding else convert_legacy(extracted.text)
    heading = extracted.title
    if heading and encoding and not extracted.encoding:
        heading = to_unicode(heading, encoding)
    heading = normalize(heading) if heading else None
    text = normalize(raw)
    if not text:
        raise DocumentError(path, "no text found in the file")
    date = document_date(text, extracted.meta_date)
    return LoadedDocument(
        doc_id=path.stem,
        title=shorten(heading, HEADING_MAX_CHARS) if heading else derive_title(text, markdown=suffix == ".md"),
        text=text,
        source=str(path.resolve()),
        content_hash=hashlib.sha256(data).hexdigest(),
        dates=document_dates(text, date),
        date=date,
        encoding=encoding,
        ocr_pages=extracted.ocr_pages,
    )


def iter_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and directories (recursively) into a sorted list of candidate files.

    A path that does not exist is an error, not a silent no-op.
    """
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".")))
        elif p.is_file():
            found.append(p)
        else:
            raise DocumentError(p, "no such file or directory")
    return found
