"""BM25 tokens: lower-cased syllables and numbers with their separators, accented or folded.

Tokens must keep one-letter syllables ("y", "ở") and numbers with their separators ("383.605",
"95,25%", "5/1/2024"); no word segmentation (it measured no better).
"""

from __future__ import annotations

import re
import unicodedata

from rag.text.normalize import fold

# A number keeps its inner separators: 383.605, 95,25%, 5/1/2024, 28/2023; a word is a run of
# letters (any script), so one-letter syllables such as "y" and "ở" survive.
_TOKEN = re.compile(r"\d+(?:[.,/]\d+)*%?|[^\W\d_]+")


def tokenize(text: str) -> list[str]:
    """Lower-cased syllable and number tokens, accents kept.

    A number written with thousands dots ("383.605") also yields its bare digits ("383605"),
    so a user who types the figure without separators still matches.
    """
    tokens: list[str] = []
    for match in _TOKEN.finditer(unicodedata.normalize("NFC", text).lower()):
        token = match.group()
        tokens.append(token)
        if token[0].isdigit() and "." in token and re.fullmatch(r"\d{1,3}(?:\.\d{3})+", token):
            tokens.append(token.replace(".", ""))
    return tokens


def tokenize_folded(text: str) -> list[str]:
    """Tokens of the diacritic-folded text, so accent-less questions match accented reports."""
    return tokenize(fold(text))
