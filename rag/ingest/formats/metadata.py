"""A document's title and date from its normalised text (and what the file's metadata says).

The title is the first heading, or the first line when it reads as one, joined across soft line
breaks (a heading wrapped over two lines); otherwise a short title taken from the lead sentence, cut
at a phrase boundary rather than mid-phrase. The date is the first date in the header lines (where
Vietnamese reports state it: "Quảng Ninh, ngày 5 tháng 1 năm 2024"), else the file's metadata.
"""

from __future__ import annotations

import re

from rag.text import find_dates, split_sentences

TITLE_MAX_CHARS = 160  # a title cut from a lead sentence: long enough to name the report (it prefixes every chunk)
HEADING_MAX_CHARS = 200  # a heading line is kept whole up to this length
TITLE_MIN_CHARS = 15  # a phrase boundary closer to the start leaves too little to name the report
HEADER_LINES = 8
_SENTENCE_PUNCT = (".", ":", ";", ",", "!", "?")
_PHRASE_BOUNDARY = re.compile(r"\s[–—-]\s|[,;:]\s|\s\(")


def derive_title(text: str, markdown: bool = False) -> str:
    """The first heading-like line (soft breaks joined), else a short title from the lead sentence."""
    lines = text.split("\n")
    first = lines[0].strip()
    if markdown and first.startswith("#"):
        return shorten(first.lstrip("#").strip(), HEADING_MAX_CHARS)
    title = first
    for line in lines[1:]:
        if not line or not continues(title, line) or len(title) + 1 + len(line) > HEADING_MAX_CHARS:
            break
        title = f"{title} {line}"
    if len(lines) > 1 and len(title) <= HEADING_MAX_CHARS and not title.endswith(_SENTENCE_PUNCT):
        return title
    sentences = split_sentences(first)
    return shorten(sentences[0] if sentences else first)


def continues(previous: str, line: str) -> bool:
    """Whether ``line`` carries on ``previous`` after a soft break: a lowercase start, or a heading in capitals."""
    if previous.endswith(_SENTENCE_PUNCT):
        return False
    return line[0].islower() or (previous.isupper() and line.isupper())


def shorten(sentence: str, limit: int = TITLE_MAX_CHARS) -> str:
    """The sentence when short enough, else its longest lead ending at a phrase boundary (a word cut and "…" last)."""
    sentence = sentence.strip().rstrip(".")
    if len(sentence) <= limit:
        return sentence
    bounds = [m.start() for m in _PHRASE_BOUNDARY.finditer(sentence, 0, limit + 1)]
    bounds = [b for b in bounds if TITLE_MIN_CHARS <= b <= limit]
    if bounds:
        return sentence[: bounds[-1]].rstrip()
    cut = sentence.rfind(" ", 0, limit)
    return sentence[: cut if cut > 0 else limit].rstrip(" ,;:–-") + "…"


def document_date(text: str, meta_date: str | None) -> str | None:
    """The first date of the header lines (a full date before a month), else the file's metadata date."""
    header = "\n".join(text.split("\n", HEADER_LINES)[:HEADER_LINES])
    found = find_dates(header)
    full = [d for d in found if len(d) == 10]
    if full or found:
        return (full or found)[0]
    return meta_date[:10] if meta_date else None


def document_dates(text: str, date: str | None) -> list[str]:
    """Every date the text mentions, the document's own date first."""
    found = find_dates(text)
    return ([date] if date else []) + [d for d in found if d != date]
