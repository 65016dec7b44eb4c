"""Text typed in a legacy Vietnamese font encoding (TCVN3/ABC, VNI) converted to Unicode, by viparse.

Such text survives extraction as Latin-1 letters ("BÖnh viÖn" for "Bệnh viện"). viparse's content
detector decides which table applies (it leaves Unicode and non-Vietnamese text alone); measured
here by round trip of the corpus through TCVN3 and VNI: 99.99 % of characters exact. Detection
costs about 20 µs a character, so it only runs on text that could be legacy at all: Latin-1
letters and next to none of the letters only Unicode Vietnamese has (ạ, ơ, ư, đ, ế…).

viparse leaves two VNI letters unconverted (ỵ written "î", ẳ written "aú"); what it leaves is
replaced after it from ``rag/lang/encodings/legacy.toml`` (strings that never occur in Unicode
Vietnamese), so all 134 letters convert exactly (tests/ingest/test_legacy.py).
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from pathlib import Path

SAMPLE_CHARS = 20_000
_LATIN1_LETTERS = re.compile(r"[\u00a1-\u00ff]")
_UNICODE_VIETNAMESE = re.compile(r"[\u0100-\u024f\u1e00-\u1eff]")
MIN_LATIN1 = 3
MAX_UNICODE_SHARE = 0.05  # of the Latin-1 letters: a quoted Unicode word in a legacy document is fine


@lru_cache(maxsize=1)
def _leftovers() -> dict[str, tuple[re.Pattern[str], dict[str, str]]]:
    """Per encoding, the strings viparse leaves unconverted (one pattern, longest first) and their letters."""
    data = tomllib.loads((Path(__file__).resolve().parents[2] / "lang" / "encodings" / "legacy.toml").read_text(encoding="utf-8"))
    return {name: (re.compile("|".join(map(re.escape, sorted(table, key=len, reverse=True)))), table) for name, table in data.items()}


def _fix(text: str, encoding: str) -> str:
    """viparse's conversion of ``text`` with the letters it leaves unconverted replaced."""
    import viparse

    out = viparse.fix(text, encoding=encoding)
    if encoding not in _leftovers():
        return out
    pattern, table = _leftovers()[encoding]
    return pattern.sub(lambda m: table[m.group()], out)


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
    return _fix(text, encoding), encoding


def to_unicode(text: str, encoding: str) -> str:
    """Convert a fragment (a title) known to be in ``encoding``: too short for detection on its own."""
    return _fix(text, encoding)
