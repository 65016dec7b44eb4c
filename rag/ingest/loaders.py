"""Load reports (.txt, .md, .html, .pdf, .docx) into normalised text with document metadata.

Each format goes through a well-kept parser (BeautifulSoup, pypdf, python-docx); every failure is
a :class:`DocumentError` naming the file and saying what the user can do about it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import DocumentError, UnsupportedFormatError
from rag.text import find_dates, normalize, split_sentences

SUPPORTED_EXTENSIONS = (".txt", ".md", ".html", ".htm", ".pdf", ".docx")
TITLE_MAX_CHARS = 160


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

    if suffix in (".txt", ".md"):
        raw, heading = _decode_text(path, data), None
    elif suffix in (".html", ".htm"):
        raw, heading = _html_text(path, data)
    elif suffix == ".pdf":
        raw, heading = _pdf_text(path, data), None
    else:
        raw, heading = _docx_text(path, data), None

    text = normalize(raw)
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


_LEGACY_HINT = (
    "it looks like text typed with a legacy Vietnamese font encoding (TCVN3/ABC or VNI); "
    "convert it to Unicode (e.g. UniKey's converter, 'TCVN3 → Unicode') and save as UTF-8"
)


def _decode_text(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        hint = _LEGACY_HINT if _looks_legacy_vietnamese(data) else "save it as UTF-8 and try again"
        raise DocumentError(
            path, f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); {hint}"
        ) from None


def _looks_legacy_vietnamese(data: bytes) -> bool:
    """TCVN3 and VNI reuse Latin-1 high bytes for Vietnamese letters: many of them between ASCII words."""
    high = sum(b >= 0x80 for b in data)
    return high > 0 and high / max(1, len(data)) > 0.02


def _html_text(path: Path, data: bytes) -> tuple[str, str | None]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    heading = soup.find(["h1", "title"])
    title = normalize(heading.get_text(" ")) if heading else None
    block_tags = ["p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "br", "section", "article"]
    for tag in soup.find_all(block_tags):
        tag.insert_after("\n")
    body = soup.body or soup
    return body.get_text(""), title or None


def _pdf_text(path: Path, data: bytes) -> str:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DocumentError(path, "the PDF is encrypted (password-protected); save an unprotected copy")
        pages = [page.extract_text() or "" for page in reader.pages]
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentError(path, f"corrupt or unreadable PDF ({exc})") from None
    text = "\n\n".join(pages)
    if not text.strip():
        raise DocumentError(path, "the PDF has no extractable text (a scan?); run OCR on it first")
    return text


def _docx_text(path: Path, data: bytes) -> str:
    import io
    import zipfile

    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise DocumentError(path, f"corrupt or unreadable .docx file ({exc})") from None
    except Exception as exc:  # python-docx raises its own PackageNotFoundError and lxml errors
        raise DocumentError(path, f"corrupt or unreadable .docx file ({type(exc).__name__}: {exc})") from None
    blocks = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            blocks.append(" | ".join(cell.text.strip() for cell in row.cells))
    return "\n".join(blocks)

