"""What a format parser returns: raw text plus what the file itself says about title, date and provenance."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Extracted:
    """Raw (not yet normalised) text; ``title``/``meta_date`` when the file states them."""

    text: str
    title: str | None = None
    meta_date: str | None = None  # ISO date or datetime from the file's metadata
    encoding: str | None = None  # legacy encoding the text was converted from ("tcvn3", "vni")
    ocr_pages: int = 0  # pages (or images) whose text came from OCR
