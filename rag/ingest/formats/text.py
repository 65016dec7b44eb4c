"""Plain text and Markdown files: UTF-8 (with or without BOM)."""

from __future__ import annotations

from rag.errors import DocumentError
from rag.ingest.formats.extracted import Extracted

_LEGACY_HINT = (
    "it looks like text typed with a legacy Vietnamese font encoding (TCVN3/ABC or VNI); "
    "convert it to Unicode (e.g. UniKey's converter, 'TCVN3 → Unicode') and save as UTF-8"
)


def plain_text(path: object, data: bytes) -> Extracted:
    """Decode UTF-8; anything else is a clear error naming the first bad byte."""
    try:
        return Extracted(text=data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        hint = _LEGACY_HINT if looks_legacy_vietnamese(data) else "save it as UTF-8 and try again"
        raise DocumentError(
            path, f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); {hint}"
        ) from None


def looks_legacy_vietnamese(data: bytes) -> bool:
    """TCVN3 and VNI reuse Latin-1 high bytes for Vietnamese letters: many of them between ASCII words."""
    high = sum(b >= 0x80 for b in data)
    return high > 0 and high / max(1, len(data)) > 0.02
