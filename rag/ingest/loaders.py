"""Load reports (.txt, .md, .html, .pdf, .docx) into normalised text with document metadata.

Each format goes through a well-kept parser (rag.ingest.formats: BeautifulSoup, pdfplumber,
python-docx); tables become one line per row with their headers. Every failure is a
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
from rag.ingest.formats.pdf import pdf_text
from rag.ingest.formats.text import plain_text
from rag.ingest.formats.word import docx_text
from rag.text import find_dates, normalize, split_sentences

SUPPORTED_EXTENSIONS = (".txt", ".md", ".html", ".htm", ".pdf", ".docx")
TITLE_MAX_CHARS = 160
_PARSERS: dict[str, Callable[[Path, bytes], Extracted]] = {
    ".txt": plain_text,
    ".md": plain_text,
    ".html": lambda _path, data: html_text(data),
    ".htm": lambda _path, data: html_text(data),
    ".pdf": pdf_text,
    ".docx": docx_text,
}


@dataclass(frozen=True)
class LoadedDocument:
    """One report: ``text`` is normalised (see :func:`rag.text.normalize`); offsets refer to it."""

    doc_id: str
    title: str
    text: str
    source: str
    content_hash: str
    dates: list[str] = field(default_factory=list)


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
    heading = normalize(extracted.title) if extracted.title else None
    text = normalize(extracted.text)
    if not text:
        raise DocumentError(path, "no text found in the file")
    return LoadedDocument(
        doc_id=path.stem,
        title=heading or derive_title(text, markdown=suffix == ".md"),
        text=text,
        source=str(path.resolve()),
        content_hash=hashlib.sha256(data).hexdigest(),
        dates=find_dates(text),
    )


def derive_title(text: str, markdown: bool = False) -> str:
    """The first line when it looks like a heading, else the first sentence (shortened)."""
    first_line = text.split("\n", 1)[0].strip()
    if markdown and first_line.startswith("#"):
        return first_line.lstrip("#").strip()
    has_more = "\n" in text
    if has_more and len(first_line) <= TITLE_MAX_CHARS and not first_line.endswith((".", ":", ";", ",")):
        return first_line
    sentence = split_sentences(first_line)[0] if first_line else text[:TITLE_MAX_CHARS]
    return _shorten(sentence.rstrip("."))


def _shorten(sentence: str) -> str:
    if len(sentence) <= TITLE_MAX_CHARS:
        return sentence
    cut = sentence.rfind(" ", 0, TITLE_MAX_CHARS)
    return sentence[: cut if cut > 0 else TITLE_MAX_CHARS].rstrip(" ,;:–-") + "…"


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
