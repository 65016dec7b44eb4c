"""The period a question names, and which passages are of that period: a bounded boost in the fusion.

"Năm 2024", "quý I/2024", "6 tháng đầu năm 2024", a bare "2023" and "năm nay"/"năm ngoái" (relative
to the newest document's year) give the years asked about. A passage is of that period when its
document's own date (the manifest's first date, as for date filters), its title or its own text
names one of those years. Dates and
periods are read with the one set of date patterns, :func:`rag.text.spans.dates`; only the years
inside the spans it finds are taken, and a bare year of the question ("2023", "nam 2024" typed
without accents) counts when it stands alone (not "1.234", "28/2023/NQ").

The boost is added to the fused score (in units of one retriever's rank-1 reciprocal-rank score), so
it reorders passages of close scores and never removes one: an undated document stays.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path

from rag.text.spans import dates
from rag.text import fold

_YEAR = re.compile(r"(?<![\d.,/])((?:19|20)\d{2})(?![\d.,/]?\d)")
_SPAN_YEAR = re.compile(r"(?:19|20)\d{2}")
_ISO_YEAR = re.compile(r"^((?:19|20)\d{2})(?:-|$)")
_RANGE = re.compile(r"((?:19|20)\d{2})\s*[–—-]\s*((?:19|20)\d{2})|từ\s+năm\s+((?:19|20)\d{2})\s+(?:đến|tới)\s+(?:năm\s+)?((?:19|20)\d{2})", re.I)
MAX_RANGE_YEARS = 12  # "giai đoạn 2021–2025" names each of its years; longer spans name none


@lru_cache(maxsize=1)
def _relative() -> tuple[tuple[re.Pattern[str], int], ...]:
    data = tomllib.loads((Path(__file__).resolve().parents[1] / "lang" / "vi" / "periods.toml").read_text(encoding="utf-8"))
    return tuple((re.compile(rf"\b{re.escape(fold(word).lower())}\b"), int(offset)) for word, offset in data["relative_years"].items())


def span_years(text: str) -> frozenset[int]:
    """Years named by the date and period spans of ``text`` ("quý I/2024" → 2024, "2021–2025" → 2021…2025)."""
    years: set[int] = set()
    for found in dates(text):
        span = text[found.start : found.end]
        ranged = _RANGE.search(span)
        if ranged:
            first, last = (int(y) for y in ranged.groups() if y)
            if 0 <= last - first <= MAX_RANGE_YEARS:
                years.update(range(first, last + 1))
            continue
        years.update(int(y) for y in _SPAN_YEAR.findall(span))
    return frozenset(years)


def asked_years(question: str, newest: int | Callable[[], int | None] | None = None) -> frozenset[int]:
    """The years ``question`` asks about (empty: it names no period).

    Spans of the date patterns, and bare years; "năm nay"/"năm ngoái" only when no year is named,
    relative to ``newest`` (the year of the library's newest document, or a function giving it,
    called only then; None: not resolved).
    """
    years = set(span_years(question)) | {int(y) for y in _YEAR.findall(question)}
    if years or newest is None:
        return frozenset(years)
    folded = fold(question).lower()
    offsets = [offset for pattern, offset in _relative() if pattern.search(folded)]
    base = newest() if callable(newest) and offsets else newest
    return frozenset() if not offsets or not isinstance(base, int) else frozenset(base + offset for offset in offsets)


def date_years(iso_dates: Iterable[str]) -> frozenset[int]:
    """Years of manifest dates ("2024-01-05", "2024-06", "2024")."""
    return frozenset(int(m.group(1)) for d in iso_dates if (m := _ISO_YEAR.match(d)))


def newest_year(documents: Mapping[str, object]) -> int | None:
    """The year of the newest dated document (entries with a ``dates`` list), None when none is dated."""
    years = [y for entry in documents.values() for y in date_years(getattr(entry, "dates", ()) or ())]
    return max(years, default=None)


def boosted(fused: list[tuple[int, float]], matches: Mapping[int, bool], boost: float) -> list[tuple[int, float]]:
    """``fused`` (chunk id, score) with ``boost`` added to the matching ids, best first, ties by id."""
    out = [(cid, score + (boost if matches.get(cid) else 0.0)) for cid, score in fused]
    return sorted(out, key=lambda item: (-item[1], item[0]))


class PassagePeriods:
    """The years each passage is of (its document's dates and title, its own text), cached per library.

    ``documents`` is the library's doc id → entry mapping (entries with ``dates``); a new mapping
    (another generation) empties the caches.
    """

    def __init__(self, max_cached: int = 20_000) -> None:
        self._library: object | None = None
        self._newest: Callable[[], int | None] = lambda: None
        self._newest_year: int | None = None
        self._newest_known = False
        self._documents: dict[str, frozenset[int]] = {}
        self._passages: dict[int, frozenset[int]] = {}
        self._max = max_cached

    def use(self, library: object, newest: Callable[[], int | None]) -> None:
        """Cache for ``library`` (any object a generation replaces); ``newest`` gives its newest document's year."""
        if library is not self._library:
            self._library, self._newest, self._newest_known = library, newest, False
            self._documents.clear()
            self._passages.clear()

    def newest(self) -> int | None:
        """The year of the library's newest document (computed once per library, when first asked)."""
        if not self._newest_known:
            self._newest_year, self._newest_known = self._newest(), True
        return self._newest_year

    def of(self, chunk_id: int, doc_id: str, title: str, text: str, doc_dates: Iterable[str]) -> frozenset[int]:
        """Years of a passage: its document's ``doc_dates`` (its own date) and title, and the spans of its text."""
        if len(self._passages) > self._max:
            self._passages.clear()
            self._documents.clear()
        if doc_id not in self._documents:
            self._documents[doc_id] = date_years(doc_dates) | span_years(title)
        if chunk_id not in self._passages:
            self._passages[chunk_id] = span_years(text)
        return self._documents[doc_id] | self._passages[chunk_id]
