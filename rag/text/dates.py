"""Dates mentioned in a document, as ISO strings (the library lists them next to each report)."""

from __future__ import annotations

import re

_DMY = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})/((?:19|20)\d{2})(?![\d/])")
_NGAY = re.compile(r"ngày\s+(\d{1,2})\s+tháng\s+(\d{1,2})\s+năm\s+((?:19|20)\d{2})", re.IGNORECASE)
_MY = re.compile(r"tháng\s+(\d{1,2})[/\s]+(?:năm\s+)?((?:19|20)\d{2})", re.IGNORECASE)


def find_dates(text: str) -> list[str]:
    """ISO dates ("2024-01-05") and months ("2023-10") mentioned in ``text``, in order, unique."""
    found: list[str] = []

    def add(value: str) -> None:
        if value not in found:
            found.append(value)

    hits: list[tuple[int, str]] = []
    full_spans: list[tuple[int, int]] = []
    for pattern in (_DMY, _NGAY):
        for m in pattern.finditer(text):
            day, month, year = int(m.group(1)), int(m.group(2)), m.group(3)
            if 1 <= day <= 31 and 1 <= month <= 12:
                hits.append((m.start(), f"{year}-{month:02d}-{day:02d}"))
                full_spans.append(m.span())
    for m in _MY.finditer(text):
        month, year = int(m.group(1)), m.group(2)
        inside_full_date = any(s <= m.start() < e for s, e in full_spans)
        if 1 <= month <= 12 and not inside_full_date:
            hits.append((m.start(), f"{year}-{month:02d}"))
    for _, value in sorted(hits):
        add(value)
    return found
