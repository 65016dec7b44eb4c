"""Vietnamese numbers as values, and values written back the Vietnamese way.

"383.605" (a dot groups thousands) = 383605; "95,25%" (a comma is the decimal mark) = 95.25;
"14 nghìn" = 14000; "1,1 triệu" = 1100000; "hai mươi" = 20. Values are :class:`~decimal.Decimal`
so that a computed figure is exact ("95,25 − 90,1 = 5,15", not 5.149999…). The number words and
scales come from the lexicon (``rag/lang/vi/quantity.toml``).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from rag.lang import load_lexicon
from rag.text import fold

_LEX = load_lexicon()
# accented words as written, and their folded forms for accent-less text ("nam" is "năm" = 5 there)
_SCALES: dict[str, int] = {**{fold(k): int(v) for k, v in _LEX.number_scales.items()}, **_LEX.number_scales}
_DIGIT_WORDS: dict[str, int] = {
    **{fold(k): int(v) for k, v in _LEX.number_words.items() if int(v) < 10},
    **{k: int(v) for k, v in _LEX.number_words.items() if int(v) < 10},
}

_TENS = frozenset(("mươi", "mười", "muoi", "chục", "chuc"))
_DIGITS = re.compile(r"^\d{1,3}(?:\.\d{3})+(?:,\d+)?$|^\d+(?:,\d+)?$")


def parse_number(written: str) -> Decimal | None:
    """The value of a written number, or None: digits in Vietnamese format, an optional "%",
    an optional scale word after it ("nghìn", "triệu", "tỷ"), or number words ("hai mươi lăm")."""
    text = " ".join(written.strip().rstrip("%").split())
    if not text:
        return None
    parts = text.split()
    scale = 1
    if len(parts) == 2 and parts[1].lower() in _SCALES and re.match(r"^\d", parts[0]):
        scale = _SCALES[parts[1].lower()]
        parts = parts[:-1]
    if len(parts) == 1 and _DIGITS.match(parts[0]):
        try:
            return (Decimal(parts[0].replace(".", "").replace(",", ".")) * scale).normalize()
        except InvalidOperation:
            return None
    if scale == 1:
        value = words_value(parts)
        return Decimal(value) if value is not None else None
    return None


def words_value(tokens: list[str]) -> int | None:
    """The value of Vietnamese number words ("ba trăm lẻ năm" → 305, "hai mươi" → 20), else None."""
    total = group = pending = 0
    seen = False
    for raw in tokens:
        w = raw.lower()
        key = w if w in _DIGIT_WORDS or w in _SCALES or w in _TENS else fold(w)
        if key in ("lẻ", "linh", "le"):
            pass
        elif key in _TENS:  # "hai mươi" = 20, "mười hai" = 12 (no digit before: ten)
            group, pending = group + (pending or 1) * 10, 0
        elif key in ("trăm", "tram"):
            group, pending = group + (pending or 1) * 100, 0
        elif key in _SCALES:
            total, group, pending = total + (group + pending or 1) * _SCALES[key], 0, 0
        elif key in _DIGIT_WORDS:
            pending = _DIGIT_WORDS[key]
        else:
            return None
        seen = True
    return total + group + pending if seen else None


def format_number(value: Decimal, decimals: int | None = None) -> str:
    """``value`` in Vietnamese format: "37.520", "5,15"; ``decimals`` rounds (trailing zeros dropped)."""
    if decimals is not None:
        value = round(value, decimals)
    sign = "-" if value < 0 else ""
    text = f"{abs(value):f}"
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    grouped = f"{int(whole):,}".replace(",", ".")
    return sign + grouped + ("," + frac if frac else "")


def decimals_of(written: str) -> int:
    """How many decimals a written number shows ("95,25%" → 2, "383.605" → 0)."""
    body = written.strip().rstrip("%").split()[0] if written.strip() else ""
    return len(body.split(",", 1)[1]) if "," in body else 0


__all__ = ["decimals_of", "format_number", "parse_number", "words_value"]
