"""Normalisation and diacritic folding: the one form of a document every offset refers to.

Hand-written because no library does these well for Vietnamese (see rag/text/__init__.py).
"""

from __future__ import annotations

import re
import unicodedata

# Every horizontal whitespace character (NBSP, thin spaces, tabs…) becomes one ASCII space.
_HSPACE = re.compile(r"[^\S\n]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def normalize(text: str) -> str:
    """NFC, unified line ends, one space for any run of horizontal whitespace, ≤1 blank line.

    Every offset in the index refers to this form of a document, so it must be deterministic.
    """
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = _CONTROL.sub(" ", text)
    text = _HSPACE.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _MANY_NEWLINES.sub("\n\n", text).strip()


def collapse_whitespace(text: str) -> str:
    """NFC and every whitespace run (newlines included) → one space; for comparing spans."""
    return " ".join(unicodedata.normalize("NFC", text).split())


class _FoldTable(dict):
    """``str.translate`` table: each character's folded form, computed once on first sight."""

    def __missing__(self, code: int) -> str:
        decomposed = unicodedata.normalize("NFD", chr(code).replace("đ", "d").replace("Đ", "D"))
        folded = unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))
        self[code] = folded
        return folded


_FOLD = _FoldTable()


def fold(text: str) -> str:
    """Remove Vietnamese diacritics: "Bãi Cháy" → "Bai Chay", "Đ" → "D" (case is kept).

    Length-preserving for NFC input (each precomposed letter maps to one base letter), so
    offsets computed on the folded form are valid on the original.
    """
    if text.isascii():  # nothing to fold, and most tokens of accent-less text are
        return text
    # Character by character equals decompose-strip-recompose of the whole text (the marks that
    # canonical reordering moves are all stripped; NFC recomposes across the joins), ~3× faster.
    return unicodedata.normalize("NFC", text.translate(_FOLD))


def has_diacritics(text: str) -> bool:
    """True when the text carries any Vietnamese accent or đ."""
    return fold(text) != text
