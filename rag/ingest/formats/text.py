"""Plain text and Markdown files: UTF-8 (with or without BOM), UTF-16 with a BOM, or legacy TCVN3/VNI bytes."""

from __future__ import annotations

from rag.errors import DocumentError
from rag.ingest.formats.extracted import Extracted
from rag.ingest.formats.legacy import convert_legacy

BINARY_SAMPLE = 8192
MAX_CONTROL_SHARE = 0.01  # text has next to no control bytes; random or binary data has ~12 %
_TEXT_CONTROLS = {9, 10, 12, 13, 27}
BINARY_REASON = "tệp nhị phân, không phải văn bản (binary data, not text): check that this is the right file"


def plain_text(path: object, data: bytes) -> Extracted:
    """Decode the file; bytes in no known text encoding are a clear error naming the first bad byte."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return Extracted(text=data.decode("utf-16"))
        except UnicodeDecodeError:
            raise DocumentError(path, BINARY_REASON) from None
    if looks_binary(data):
        raise DocumentError(path, BINARY_REASON)
    try:
        return Extracted(text=data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        error = exc
    # TCVN3 and VNI store Vietnamese letters in single bytes that read as Latin-1 letters
    text, encoding = convert_legacy(data.decode("latin-1"))
    if encoding is not None:
        return Extracted(text=text, encoding=encoding)
    raise DocumentError(
        path, f"not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start}); save it as UTF-8 and try again"
    )


def looks_binary(data: bytes) -> bool:
    """NUL bytes or more than a trace of other control bytes in the first 8 KiB."""
    sample = data[:BINARY_SAMPLE]
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in _TEXT_CONTROLS)
    return controls > len(sample) * MAX_CONTROL_SHARE
