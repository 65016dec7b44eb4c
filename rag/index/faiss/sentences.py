"""Sentence vectors of a segment, computed at ingest so that answering never runs the model on an indexed sentence.

The answer scorer embeds each candidate unit in its context: its sentence under its document title
(:func:`rag.index.records.sentence_context`, what ``rag.answer.features.unit_context`` builds). Ingest embeds the
context of every sentence of every new chunk in the pass that embeds the chunks and stores them with
the segment:

- ``sentence_keys.npy``: sorted, distinct ``uint64`` keys, the first 8 bytes of the BLAKE2b hash of
  each context's UTF-8 text (:func:`text_keys`);
- ``sentence_vectors.npy``: a ``float16`` ``(n, dim)`` matrix, row ``i`` the model's unit vector of
  the text whose key is ``keys[i]`` (float16 keeps cosines within 1e-3 of float32 at half the size).

A lookup (:class:`SentenceVectors`) is a binary search of the keys (``np.searchsorted``) and a read of
the few rows found (``os.pread``, as for the chunk vectors: nothing of a large matrix stays resident).
A key identifies a text, not a chunk: a stale row (a deleted document's sentence still in a kept base
segment) only ever answers for the same text, with that text's own vector, so it is harmless; it
costs space until the next merge rewrites the base (bounded by ``merge_at``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.index.faiss.rows import VectorRows
from rag.index.records import sentence_context
from rag.text import sentence_spans

log = logging.getLogger(__name__)

KEYS = "sentence_keys.npy"
VECTORS = "sentence_vectors.npy"
FILL_BLOCK = 65536  # keys looked up at once when a write carries a segment's rows over


def chunk_sentences(title: str, text: str) -> list[str]:
    """The distinct contexts of a chunk's sentences, split as the answerer splits a passage
    (:func:`rag.text.sentence_spans` over the passage text; clauses share their sentence's vector)."""
    return list(dict.fromkeys(sentence_context(title, text[s:e]) for s, e in sentence_spans(text)))


def text_keys(texts: Iterable[str]) -> np.ndarray:
    """The ``uint64`` key of each text: BLAKE2b, 8 bytes, of its UTF-8 encoding (stable across runs)."""
    keys = [int.from_bytes(hashlib.blake2b(t.encode("utf-8"), digest_size=8).digest(), "little") for t in texts]
    return np.array(keys, dtype=np.uint64)


@dataclass
class SentenceRows:
    """A segment's sentence vectors in memory: sorted distinct keys and their float16 rows."""

    keys: np.ndarray  # uint64, sorted, distinct
    vectors: np.ndarray  # float16, (len(keys), dim)

    @classmethod
    def build(cls, keys: np.ndarray, vectors: np.ndarray) -> SentenceRows:
        """Rows for ``keys[i]`` -> ``vectors[i]``, sorted by key; a repeated key keeps its first row."""
        keys = np.asarray(keys, dtype=np.uint64)
        unique, first = np.unique(keys, return_index=True)  # sorted keys, each one's first position
        return cls(unique, np.asarray(vectors, dtype=np.float16)[first])  # vectors: (len(keys), dim)

    def save(self, directory: Path) -> None:
        np.save(directory / KEYS, self.keys)
        np.save(directory / VECTORS, np.ascontiguousarray(self.vectors, dtype=np.float16))


class SegmentSentences:
    """One segment's stored sentence vectors, read from disk: keys loaded (or memory-mapped), rows read on demand."""

    def __init__(self, directory: Path, mmap: bool) -> None:
        self.keys = np.load(directory / KEYS, mmap_mode="r" if mmap else None, allow_pickle=False)
        self.rows = VectorRows(directory / VECTORS)
        if self.keys.dtype != np.uint64 or self.keys.ndim != 1 or len(self.keys) != len(self.rows):
            self.rows.close()
            raise ValueError(f"{len(self.keys)} keys of {self.keys.dtype} for {len(self.rows)} rows")

    @classmethod
    def open(cls, directory: Path, mmap: bool) -> SegmentSentences | None:
        """The segment's sentence vectors; None when it has none (an index written before them, or
        with ``sentence_vectors`` off) or they cannot be read (answers then embed as before)."""
        if not (directory / KEYS).is_file() or not (directory / VECTORS).is_file():
            return None
        try:
            return cls(directory, mmap)
        except (OSError, ValueError) as exc:
            log.warning("sentence vectors of %s unreadable (%s): candidate sentences will be embedded at ask time", directory, exc)
            return None

    def find(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions in ``keys`` found here, their float32 vectors)."""
        if not len(self.keys) or not len(keys):
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.rows.shape[1]), dtype=np.float32)
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        hit = np.flatnonzero(self.keys[at] == keys)
        return hit, self.rows[at[hit]].astype(np.float32)

    def __len__(self) -> int:
        return len(self.keys)

    def close(self) -> None:
        self.rows.close()


class SentenceVectors:
    """The stored sentence vectors of a generation's segments, looked up by text."""

    def __init__(self, segments: Sequence[SegmentSentences]) -> None:
        self.segments = list(segments)

    def __len__(self) -> int:
        return sum(len(s) for s in self.segments)

    def fill(self, keys: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Write into ``out[i]`` the stored vector of ``keys[i]``, for the keys some segment holds;
        returns which. Block by block, so that a merge of a large index never holds more than
        ``out`` and one block of float32 rows."""
        have = np.zeros(len(keys), dtype=bool)
        for start in range(0, len(keys), FILL_BLOCK):
            block = keys[start : start + FILL_BLOCK]
            for segment in self.segments:
                hit, vectors = segment.find(block)
                new = ~have[start + hit]
                out[start + hit[new]] = vectors[new]
                have[start + hit[new]] = True
        return have

    def lookup(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Text -> its stored vector (float32), for the texts some segment holds (the rest are absent)."""
        if not self.segments:
            return {}
        out = np.zeros((len(texts), self.segments[0].rows.shape[1]), dtype=np.float32)
        have = self.fill(text_keys(texts), out)
        return {texts[i]: out[i] for i in np.flatnonzero(have).tolist()}


Encode = Callable[[list[str]], np.ndarray]


def segment_rows(
    chunks: Sequence[tuple[str, str]],
    fresh: Sequence[bool],
    previous: SentenceVectors | None,
    encode: Encode | None,
    dim: int,
) -> SentenceRows:
    """The sentence vectors of a segment holding ``chunks`` (``(title, text)`` each): the rows
    ``previous`` holds for any of their sentences, the others' embedded by ``encode`` when their
    chunk is ``fresh`` (a kept chunk of an index written without sentence vectors stays without:
    answers embed those at ask time, ``--rebuild`` fills them in)."""
    texts: dict[str, bool] = {}  # context -> whether a fresh chunk holds it
    for (title, text), new in zip(chunks, fresh):
        for context in chunk_sentences(title, text):
            texts[context] = texts.get(context, False) or bool(new)
    ordered = list(texts)
    keys = text_keys(ordered)
    vectors = np.zeros((len(ordered), dim), dtype=np.float16)  # at 10^6 chunks ~2.2 GB, beside the passages' own
    have = previous.fill(keys, vectors) if previous is not None else np.zeros(len(ordered), dtype=bool)
    todo = [i for i, text in enumerate(ordered) if not have[i] and texts[text]]
    if todo and encode is not None:
        vectors[todo] = np.asarray(encode([ordered[i] for i in todo]), dtype=np.float16)
        have[todo] = True
    return SentenceRows.build(keys[have], vectors[have])


__all__ = [
    "KEYS",
    "VECTORS",
    "SegmentSentences",
    "SentenceRows",
    "SentenceVectors",
    "chunk_sentences",
    "segment_rows",
    "text_keys",
]
