"""Search filters: restrict a search or a question to a date range and/or a list of documents.

A :class:`SearchFilter` is resolved against the library (the manifest's documents) into the set of
allowed doc ids; the retrievers then search only those documents' chunks *inside* each retriever
(a FAISS ID selector or the allowed rows, the BM25 scores of the allowed rows, a Milvus boolean
filter), so a filtered search still returns ``k`` passages when the allowed documents hold ``k``.

Dates: a document's date is the first of its manifest ``dates`` (the report's own date when it
states one, see :func:`rag.ingest.formats.metadata.document_dates`), a day ("2024-01-05") or a month
("2023-10"); a month is in a range when any of its days is. Under a date range, a document without
a date is left out: nothing says it belongs to the period.

Documents are named by doc id, file name or title (case and spacing ignored); a name that matches
no document is an error (:class:`FilterError`), never an empty result.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath
from typing import Any

from rag.errors import QueryError
from rag.text import collapse_whitespace, normalize

MAX_DOCUMENTS = 100  # names in one filter
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class FilterError(QueryError):
    """A filter that cannot be applied: a bad date, an empty range, an unknown document."""


def parse_day(value: str | date | None, what: str) -> date | None:
    """``value`` as a date; a :class:`FilterError` naming ``what`` unless it is ``YYYY-MM-DD``."""
    if value is None or isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        if not _ISO_DAY.fullmatch(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        vi = {"from": "từ ngày", "to": "đến ngày"}.get(what, what)
        raise FilterError(f"Ngày không hợp lệ ({vi}: {text!r}), cần dạng YYYY-MM-DD / {what} must be a date YYYY-MM-DD") from None


def document_span(value: str) -> tuple[date, date] | None:
    """The first and last day a manifest date covers ("2024-01-05" or a month "2023-10"); None if unreadable."""
    try:
        if len(value) == 7:
            year, month = int(value[:4]), int(value[5:7])
            return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
        day = date.fromisoformat(value[:10])
        return day, day
    except ValueError:
        return None


def _key(name: str) -> str:
    return collapse_whitespace(normalize(name)).casefold()


@dataclass(frozen=True)
class SearchFilter:
    """Which documents a search may return: named ones, and/or those dated within ``[since, until]``."""

    documents: tuple[str, ...] = ()  # doc ids, file names or titles, as the user gave them
    since: date | None = None
    until: date | None = None

    @classmethod
    def parse(
        cls, documents: Iterable[str] | None = None, since: str | date | None = None, until: str | date | None = None
    ) -> SearchFilter | None:
        """A validated filter, or None when it restricts nothing; a :class:`FilterError` when it is malformed."""
        names = tuple(dict.fromkeys(n.strip() for n in (documents or ()) if n and n.strip()))
        if len(names) > MAX_DOCUMENTS:
            raise FilterError(f"Chọn tối đa {MAX_DOCUMENTS} tài liệu / at most {MAX_DOCUMENTS} documents in a filter")
        start, end = parse_day(since, "from"), parse_day(until, "to")
        if start and end and start > end:
            raise FilterError(f"Khoảng ngày trống: {start} sau {end} / the date range is empty (from is after to)")
        if not names and start is None and end is None:
            return None
        return cls(names, start, end)

    @property
    def dated(self) -> bool:
        return self.since is not None or self.until is not None

    def in_range(self, dates: Iterable[str]) -> bool:
        """Whether a document with these manifest dates lies in the range (its first date decides)."""
        first = next(iter(dates), None)
        span = document_span(first) if first else None
        if span is None:
            return False
        return (self.since is None or span[1] >= self.since) and (self.until is None or span[0] <= self.until)

    def allowed(self, documents: Mapping[str, Any]) -> frozenset[str]:
        """The doc ids of ``documents`` (doc id → manifest entry) this filter lets through.

        A :class:`FilterError` for a name that matches no document.
        """
        chosen = set(documents)
        if self.documents:
            chosen = set()
            by_name: dict[str, set[str]] = {}
            for doc_id, entry in documents.items():
                for name in (doc_id, PurePath(entry.source).name if entry.source else "", entry.title):
                    if name:
                        by_name.setdefault(_key(name), set()).add(doc_id)
            unknown = []
            for name in self.documents:
                found = {name} if name in documents else by_name.get(_key(name))
                if found:
                    chosen |= found
                else:
                    unknown.append(name)
            if unknown:
                listed = ", ".join(repr(n[:80]) for n in unknown[:5])
                raise FilterError(f"Không có tài liệu {listed} trong thư viện / no such document in the library: {listed}")
        if self.dated:
            chosen = {d for d in chosen if self.in_range(documents[d].dates)}
        return frozenset(chosen)
