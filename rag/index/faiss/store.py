"""A loaded, read-only index generation (FAISS + BM25 + SQLite chunk store), searched concurrently.

Segments. The files at the top of a generation are its *base* segment. Adding, changing or
deleting a few reports does not rewrite it (:func:`rag.index.faiss.writer.write_delta_generation`):
the next generation hard-links the base files, lists the base chunks that no longer exist in
``deleted.npy`` and puts the chunks added since in a small *delta* segment (exact flat FAISS
index, BM25 scored with the whole generation's counts, see :class:`rag.index.faiss.sparse.Collection`),
so the cost follows the change, not the library. Delta chunk ids follow the base's; searches merge
both segments and skip deleted chunks. Each segment may also hold the vectors of its chunks'
sentences (:mod:`rag.index.faiss.sentences`), looked up by the answer scorer through
:attr:`IndexStore.sentence_vectors`.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from rag.errors import IndexStoreError
from rag.index.faiss.dense import dense_top_k, excluding, load_dense
from rag.index.faiss.generations import CURRENT, DELETED, DELTA, LEXICAL, SEGMENT_STATS, live_generation, read_manifest
from rag.index.faiss.rows import VectorRows
from rag.index.faiss.sentences import SegmentSentences, SentenceVectors
from rag.index.faiss.sparse import Collection, SegmentedBM25, load_bm25
from rag.index.records import ChunkRecord, DocumentRecord, indexed_text
from rag.query.restore import FILENAME as RESTORER_FILE
from rag.query.restore import SyllableRestorer, for_segments


class Segment:
    """One segment's files (a generation's top level, or its ``delta/``); ids are local, records global.

    ``searchable=False`` skips the FAISS index: ingest reads chunks, vectors and tokens only.
    """

    def __init__(self, directory: Path, offset: int, mmap: bool, searchable: bool) -> None:
        self.path, self.offset = directory, offset
        try:
            self.dense = load_dense(directory / "dense.faiss") if searchable else None  # in memory (see load_dense)
            self.bm25 = {name: load_bm25(directory / name, mmap=mmap) for name in LEXICAL}
        except Exception as exc:  # faiss raises RuntimeError, bm25s OSError/ValueError/KeyError
            raise IndexStoreError(f"corrupt index at {directory}: {exc.__class__.__name__}: {exc}") from None
        try:
            self.vector_rows = VectorRows(directory / "vectors.npy")
        except (OSError, ValueError) as exc:
            raise IndexStoreError(f"corrupt index at {directory}: vectors.npy: {exc}") from None
        db_path = directory / "chunks.sqlite"
        if not db_path.is_file():
            raise IndexStoreError(f"corrupt index: {db_path} is missing")
        self.db = sqlite3.connect(f"file:{db_path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        self.rows = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        sizes = {self.rows, len(self.vector_rows)} | ({self.dense.ntotal} if self.dense is not None else set())
        if len(sizes) != 1:
            raise IndexStoreError(
                f"corrupt index at {directory}: chunk counts disagree (store {self.rows}, vectors "
                f"{len(self.vector_rows)}, faiss {self.dense.ntotal if self.dense is not None else '-'})"
            )
        self.sentences = SegmentSentences.open(directory, mmap)  # optional: None falls back to the model

    def records(self, local_ids: Sequence[int]) -> dict[int, ChunkRecord]:
        """Records by global id for local ids (queried in batches under SQLite's parameter limit)."""
        out: dict[int, ChunkRecord] = {}
        ids = [int(i) for i in local_ids]
        for start in range(0, len(ids), 900):
            batch = ids[start : start + 900]
            rows = self.db.execute(
                f"SELECT c.id, c.doc_id, d.title, c.start, c.end, c.text FROM chunks c "
                f"JOIN documents d ON d.doc_id = c.doc_id WHERE c.id IN ({','.join('?' * len(batch))})",
                batch,
            ).fetchall()
            out.update((row[0] + self.offset, ChunkRecord(row[0] + self.offset, *row[1:])) for row in rows)
        return out

    def all_chunks(self) -> Iterator[ChunkRecord]:
        cursor = self.db.execute(
            "SELECT c.id, c.doc_id, d.title, c.start, c.end, c.text FROM chunks c "
            "JOIN documents d ON d.doc_id = c.doc_id ORDER BY c.id"
        )
        for row in cursor:
            yield ChunkRecord(row[0] + self.offset, *row[1:])

    def ids_by_document(self) -> Iterator[tuple[int, str]]:
        for cid, doc_id in self.db.execute("SELECT id, doc_id FROM chunks ORDER BY id"):
            yield cid + self.offset, doc_id

    def ids_of(self, doc_id: str) -> list[int]:
        return [r[0] + self.offset for r in self.db.execute("SELECT id FROM chunks WHERE doc_id = ? ORDER BY id", (doc_id,))]

    def doc_ids(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT doc_id FROM documents")]

    def document(self, doc_id: str) -> DocumentRecord | None:
        row = self.db.execute(
            "SELECT doc_id, title, source, content_hash, dates, text FROM documents WHERE doc_id = ?", (doc_id,)
        ).fetchone()
        if row is None:
            return None
        return DocumentRecord(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5])

    def vectors(self) -> np.ndarray:
        """This segment's vectors by local id (memory-mapped)."""
        return np.load(self.path / "vectors.npy", mmap_mode="r")

    def close(self) -> None:
        self.db.close()
        self.vector_rows.close()
        if self.sentences is not None:
            self.sentences.close()


class IndexStore:
    """A loaded, read-only generation: its base segment, less deleted chunks, plus its delta.

    Thread-safe for concurrent searches. ``bm25`` and ``bm25_folded`` rank the whole generation
    (:func:`rag.sparse.bm25_top_k`), :meth:`dense_search` does the same for vectors.
    """

    def __init__(self, generation: Path, mmap: bool = False, searchable: bool = True) -> None:
        self.path = generation
        self.manifest = m = read_manifest(generation)
        self.base = Segment(generation, 0, mmap, searchable)
        self.delta = Segment(generation / DELTA, m.base_rows, mmap, searchable) if m.delta_chunks else None
        self.deleted = np.zeros(0, dtype=np.int64)
        try:
            if m.deleted_chunks:
                self.deleted = np.load(generation / DELETED, allow_pickle=False).astype(np.int64)
            stats = json.loads((generation / SEGMENT_STATS).read_text(encoding="utf-8")) if self.segmented else {}
        except (OSError, ValueError) as exc:
            raise IndexStoreError(f"corrupt index at {generation}: segment files: {exc}") from None
        counts = (self.base.rows, len(self.deleted), self.delta.rows if self.delta else 0)
        if counts != (m.base_rows, m.deleted_chunks, m.delta_chunks) or m.base_rows - m.deleted_chunks + m.delta_chunks != m.n_chunks:
            raise IndexStoreError(
                f"corrupt index at {generation}: chunk counts disagree (base {counts[0]}, deleted {counts[1]}, "
                f"delta {counts[2]}; manifest {m.base_rows}, {m.deleted_chunks}, {m.delta_chunks}, live {m.n_chunks})"
            )
        self._exclude = excluding(self.deleted) if len(self.deleted) and searchable else None
        self._deleted_set = set(self.deleted.tolist())
        for name in LEXICAL:
            lexical = self.base.bm25[name]
            if self.segmented:
                try:
                    collection = Collection(m.n_chunks, float(stats[name]["avg_len"]), lexical, stats[name]["deleted_df"])
                except (KeyError, TypeError, ValueError) as exc:
                    raise IndexStoreError(f"corrupt index at {generation}: {SEGMENT_STATS}: {exc!r}") from None
                lexical = SegmentedBM25(collection, self.delta.bm25[name] if self.delta else None, self.deleted, m.base_rows)
            setattr(self, name, lexical)

    @property
    def n_chunks(self) -> int:
        return self.manifest.n_chunks

    @property
    def segmented(self) -> bool:
        """Whether chunks were added or deleted since the base segment was written."""
        return self.delta is not None or len(self.deleted) > 0

    def _segments(self) -> list[Segment]:
        return [self.base] + ([self.delta] if self.delta is not None else [])

    @functools.cached_property
    def restorer(self) -> SyllableRestorer:
        """The diacritic restorer of this generation (:mod:`rag.query.restore`), loaded on first use.

        Each segment's counts were written with it; a generation older than that is counted from
        its chunks here, once per loaded store.
        """
        prefix = self.manifest.title_prefix
        return for_segments(
            [(s.path / RESTORER_FILE, lambda s=s: (indexed_text(c.title, c.text, prefix) for c in s.all_chunks())) for s in self._segments()]
        )

    @functools.cached_property
    def sentence_vectors(self) -> SentenceVectors | None:
        """The stored vectors of the candidate sentences of every segment (:mod:`rag.index.faiss.sentences`);
        None when no segment has them."""
        parts = [s.sentences for s in self._segments() if s.sentences is not None]
        return SentenceVectors(parts) if parts else None

    def dense_search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Chunk ids and cosine scores of the ``k`` nearest live passages of both segments.

        ``allowed``: sorted live chunk ids a filtered search may return (None: all).
        """
        base_allowed = delta_allowed = None
        if allowed is not None:
            split = int(np.searchsorted(allowed, self.manifest.base_rows))
            base_allowed, delta_allowed = allowed[:split], allowed[split:] - self.manifest.base_rows
        exclude = self._exclude if allowed is None else None  # the allowed ids are live ones
        ids, scores = dense_top_k(self.base.dense, vector, k, self.base.vector_rows, exclude=exclude, allowed=base_allowed)
        if self.delta is None:
            return ids, scores
        delta_ids, delta_scores = dense_top_k(self.delta.dense, vector, k, self.delta.vector_rows, allowed=delta_allowed)
        ids, scores = np.concatenate([ids, delta_ids + self.delta.offset]), np.concatenate([scores, delta_scores])
        order = np.lexsort((ids, -scores))[:k]
        return ids[order], scores[order]

    def chunks(self, ids: Sequence[int]) -> list[ChunkRecord]:
        """Records for chunk ids, in the order given."""
        if not len(ids):
            return []
        wanted = np.asarray(ids, dtype=np.int64)
        by_id: dict[int, ChunkRecord] = {}
        for segment in self._segments():
            mine = wanted[(wanted >= segment.offset) & (wanted < segment.offset + segment.rows)]
            if len(mine):
                by_id.update(segment.records((mine - segment.offset).tolist()))
        return [by_id[int(i)] for i in ids]

    def all_chunks(self) -> Iterator[ChunkRecord]:
        """Every live chunk in id order."""
        for segment in self._segments():
            for record in segment.all_chunks():
                if record.chunk_id not in self._deleted_set:
                    yield record

    def chunk_ids_by_document(self) -> dict[str, list[int]]:
        rows: dict[str, list[int]] = {}
        for segment in self._segments():
            for cid, doc_id in segment.ids_by_document():
                if cid not in self._deleted_set:
                    rows.setdefault(doc_id, []).append(cid)
        return rows

    def chunk_ids_of(self, doc_id: str) -> list[int]:
        """A document's live chunk ids (one indexed query per segment, not a pass over the library)."""
        return [cid for segment in self._segments() for cid in segment.ids_of(doc_id) if cid not in self._deleted_set]

    def document(self, doc_id: str) -> DocumentRecord | None:
        """A live document; a changed one's current version lives in the delta."""
        if doc_id not in self.manifest.documents:
            return None
        record = self.delta.document(doc_id) if self.delta is not None else None
        return record or self.base.document(doc_id)

    def vectors(self) -> np.ndarray | StackedRows:
        """All passage vectors by chunk id (memory-mapped; deleted base rows still hold theirs)."""
        if self.delta is None:
            return self.base.vectors()
        return StackedRows(self.base.vectors(), self.delta.vectors())

    def close(self) -> None:
        for segment in self._segments():
            segment.close()


class StackedRows:
    """Two row matrices read as one (base rows, then delta rows): ``rows[ids]``, ``np.asarray(rows)``."""

    def __init__(self, first: np.ndarray, second: np.ndarray) -> None:
        self.first, self.second = first, second
        self.shape = (len(first) + len(second), first.shape[1])

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, ids):
        if np.isscalar(ids):
            i = int(ids)
            return self.first[i] if i < len(self.first) else self.second[i - len(self.first)]
        ids = np.asarray(ids, dtype=np.int64)
        out = np.empty((len(ids), self.shape[1]), dtype=np.float32)
        low = ids < len(self.first)
        out[low] = self.first[ids[low]]
        out[~low] = self.second[ids[~low] - len(self.first)]
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = np.concatenate([np.asarray(self.first), np.asarray(self.second)])
        return out if dtype is None else out.astype(dtype)


def open_index(index_dir: str | Path, model_id: str | None = None, mmap: bool = False, searchable: bool = True) -> IndexStore:
    """Load the live generation of ``index_dir``; refuse one built with another model."""
    index_dir = Path(index_dir)
    generation = live_generation(index_dir)
    if generation is None:
        raise IndexStoreError(
            f"no index in {index_dir}: build one with `python -m rag ingest corpus/ --index {index_dir}`"
        )
    if not generation.is_dir():
        raise IndexStoreError(f"corrupt index: {index_dir / CURRENT} points at missing {generation.name}")
    store = IndexStore(generation, mmap=mmap, searchable=searchable)
    if model_id is not None and store.manifest.model_id != model_id:
        store.close()
        raise IndexStoreError(
            f"index at {index_dir} was built with model '{store.manifest.model_id}' but '{model_id}' is "
            f"configured; vectors of two models cannot be mixed: use the same model, or rebuild with "
            f"`python -m rag ingest corpus/ --rebuild`"
        )
    return store


