"""Split a document into overlapping passages on sentence boundaries, with exact offsets.

Invariant: ``doc_text[chunk.start:chunk.end] == chunk.text`` for every chunk, so a citation can
always be shown and checked against the source. What gets embedded and BM25-indexed is
:func:`indexed_text`: the passage under its document title (many key sentences never name their
hospital, so the title carries that context).
"""

from __future__ import annotations

from rag.index.records import Chunk
from rag.text import sentence_spans

DEFAULT_CHUNK_CHARS = 500
DEFAULT_OVERLAP_CHARS = 120
MIN_CHUNK_CHARS = 150  # a lone heading-like sentence is merged forward rather than indexed alone
MAX_GROWTH = 1.5  # ...as long as the merged passage stays under max_chars × MAX_GROWTH


def chunk_document(
    doc_id: str,
    title: str,
    text: str,
    max_chars: int = DEFAULT_CHUNK_CHARS,
    overlap_chars: int = DEFAULT_OVERLAP_CHARS,
) -> list[Chunk]:
    """Greedily pack whole sentences into passages of at most ``max_chars``.

    Each passage after the first starts with the trailing sentences of the previous one that fit
    in ``overlap_chars``, so a fact split across a boundary is still whole in one passage.
    A single sentence longer than ``max_chars`` is cut at clause or word boundaries.
    """
    if max_chars <= 0 or overlap_chars < 0 or overlap_chars >= max_chars:
        raise ValueError("need max_chars > overlap_chars >= 0")
    units = [piece for s, e in sentence_spans(text) for piece in _cut_long(text, s, e, max_chars)]
    chunks: list[Chunk] = []
    i = 0
    while i < len(units):
        j = i
        while j + 1 < len(units) and (
            units[j + 1][1] - units[i][0] <= max_chars
            or (units[j][1] - units[i][0] < MIN_CHUNK_CHARS and units[j + 1][1] - units[i][0] <= max_chars * MAX_GROWTH)
        ):
            j += 1
        start, end = units[i][0], units[j][1]
        chunks.append(Chunk(doc_id, title, start, end, text[start:end], len(chunks)))
        if j + 1 >= len(units):
            break
        # Step back over trailing sentences that fit in the overlap, but always move forward.
        k = j + 1
        while k - 1 > i and end - units[k - 1][0] <= overlap_chars:
            k -= 1
        i = k
    return chunks


def _cut_long(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Split one over-long sentence at '; ' or ', ' or spaces, keeping exact offsets."""
    pieces: list[tuple[int, int]] = []
    while end - start > max_chars:
        window = text[start : start + max_chars]
        cut = max(window.rfind("; "), window.rfind(", "))
        if cut < max_chars // 3:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = max_chars - 1
        pieces.append((start, start + cut + 1))
        start += cut + 1
        while start < end and text[start].isspace():
            start += 1
        # strip the trailing space kept in the piece
        s, e = pieces[-1]
        while e > s and text[e - 1].isspace():
            e -= 1
        pieces[-1] = (s, e)
    if start < end:
        pieces.append((start, end))
    return pieces
