"""Language detection: is a question written in English (the reports are Vietnamese)?"""

from __future__ import annotations

from rag.text.tokens import tokenize

_ENGLISH_WORDS = frozenset(
    "the how what many much did does do of in is was were which who whom whose when where why and to an "
    "for at by with from on are has have had its their that this these those percentage rate "
    # common words of questions about health reports, so short English questions are recognised
    "health hospital hospitals center centre centers department director deputy province provincial "
    "district commune station staff patients patient visits number year years month months first two "
    "according should asked work worked people beds bed".split()
)


def looks_english(text: str) -> bool:
    """A question in English: at least two and a quarter of its words are common English words."""
    words = tokenize(text)
    hits = sum(w in _ENGLISH_WORDS for w in words)
    return hits >= max(2, len(words) / 4)
