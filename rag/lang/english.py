"""The one English detector: is a question written in English (the reports are Vietnamese)?

Used by retrieval (English questions trust the cross-lingual dense list only, and get no accent
restoration) and by question analysis (English question words, the glossary). It lives beside
the stack, with the word lists it reads (``glossary.toml`` ``[words]``: markers and function
words), so both reach it.
"""

from __future__ import annotations

import re

from rag.lang.lexicon import load_lexicon
from rag.text import has_diacritics

_LEX = load_lexicon()
_MARKERS = _LEX.english_markers | _LEX.english_function_words
_WORD = re.compile(r"\d+(?:[.,/]\d+)*%?|[^\W\d_]+")
MIN_MARKERS = 2  # one marker is often a folded Vietnamese word ("the" = thể, "to" = tổ)
MIN_MARKER_SHARE = 0.25  # of the lower-case words: a long accent-less question meets two by chance


def looks_english(text: str) -> bool:
    """English: every lower-case word is unaccented, and English markers are at least two and a
    quarter of the lower-case words.

    Capitalised words (names) may carry accents: "Which centers did Lê Hồng Trung visit?" is
    English; an accent-less Vietnamese question rarely holds two English function words.
    """
    tokens = _WORD.findall(text)
    lower = [t for t in tokens if not t[:1].isupper() and not t[:1].isdigit()]
    if not lower or any(has_diacritics(t) for t in lower):
        return False
    return sum(t.lower() in _MARKERS for t in tokens) >= max(MIN_MARKERS, MIN_MARKER_SHARE * len(lower))


__all__ = ["looks_english"]
