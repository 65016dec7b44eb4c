"""The on-disk index: manifest, chunk store (SQLite), vectors, FAISS and BM25, written atomically.

Layout of an index directory::

    index/
      CURRENT            name of the live generation (replaced atomically with os.replace)
      .lock              held by writers so two ingests never interleave
      gen-<time>-<rand>/ manifest.json, chunks.sqlite, vectors.npy, dense.faiss, bm25/, bm25_folded/
                         and, after incremental changes: delta/ (the same files), deleted.npy,
                         bm25_segments.json

A write builds a complete new generation beside the live one and only then points CURRENT at it,
so a crash, Ctrl-C or bad input mid-build leaves the previous index live and intact. Nothing is
pickled: JSON, SQLite, numpy ``.npy`` and FAISS's own format only.

Segments. The files at the top of a generation are its *base* segment. Adding, changing or
deleting a few reports does not rewrite it (:func:`write_delta_generation`): the next generation
hard-links the base files, lists the base chunks that no longer exist in ``deleted.npy`` and puts
the chunks added since in a small *delta* segment (exact flat FAISS index, BM25 scored with the
whole generation's counts, see :class:`rag.sparse.Collection`), so the cost follows the change,
not the library. Delta chunk ids follow the base's; searches merge both segments and skip deleted
chunks. When the delta and the deletions outgrow a share of the base, the next ingest merges
everything into a new base (``rag.ingest``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ValidationError

from .chunking import Chunk, indexed_text
from .errors import IndexStoreError

FORMAT_VERSION = 1
CURRENT = "CURRENT"
DELTA = "delta"
DELETED = "deleted.npy"
SEGMENT_STATS = "bm25_segments.json"
LEXICAL = ("bm25", "bm25_folded")


class DocumentEntry(BaseModel):
    """What the manifest records per document (its chunks live in the chunk store)."""

    title: str
    source: str
    content_hash: str
    dates: list[str] = []
    n_chunks: int


class Manifest(BaseModel):
    """Describes a generation; checked on load so vectors from two models never mix."""

    format_version: int = FORMAT_VERSION
    model_id: str
    dim: int
    dense_kind: str
    title_prefix: bool
    chunk_chars: int
    overlap_chars: int
    n_chunks: int  # live chunks
    built_at: float
    build_seconds: float = 0.0
    documents: dict[str, DocumentEntry]
    base_chunks: int | None = None  # rows of the base segment, deleted ones included (None: n_chunks)
    delta_chunks: int = 0
    deleted_chunks: int = 0

    @property
    def base_rows(self) -> int:
        return self.n_chunks if self.base_chunks is None else self.base_chunks


@dataclass(frozen=True)
class ChunkRecord:
    """A stored passage with its document's title (``text == doc_text[start:end]``)."""

    chunk_id: int
    doc_id: str
    title: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class DocumentRecord:
    """A stored document: its normalised text and metadata."""

    doc_id: str
    title: str
    source: str
    content_hash: str
    dates: list[str]
    text: str


# ---------------------------------------------------------------------------------------------
# Reading


def live_generation(index_dir: Path) -> Path | None:
    """The directory of the live generation, or None when no index was ever built here."""
    pointer = index_dir / CURRENT
    if pointer.is_file():
        name = pointer.read_text(encoding="utf-8").strip()
        return index_dir / name
    if (index_dir / "manifest.json").is_file():  # a generation directory given directly
        return index_dir
    return None


def read_manifest(generation: Path) -> Manifest:
    path = generation / "manifest.json"
    try:
        manifest = Manifest.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise IndexStoreError(f"corrupt index: {path} is missing") from None
    except (ValidationError, ValueError) as exc:
        raise IndexStoreError(f"corrupt index: {path} is not a valid manifest ({exc.__class__.__name__})") from None
    if manifest.format_version != FORMAT_VERSION:
        raise IndexStoreError(
            f"index at {generation} has format version {manifest.format_version}, this program reads "
            f"version {FORMAT_VERSION}: rebuild it with `python -m rag ingest corpus/ --rebuild`"
        )
    return manifest


class VectorRows:
    """Scattered rows of a ``.npy`` matrix, read with ``os.pread``: ``rows_of[ids]``.

    Approximate search ends by reading the exact vectors of a few dozen candidates per query
    (:func:`rag.dense.dense_top_k`). Through a memory map every such read would fault in, and keep
    resident, the pages around it (a million chunks: a 1.5 GB file, touched all over); a plain
    read leaves them to the page cache.
    """

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, self.dtype = read_header(fh)
            self.offset = fh.tell()
        if len(shape) != 2 or fortran:
            raise ValueError(f"expected a C-ordered matrix, got shape {shape}")
        self.shape: tuple[int, int] = (int(shape[0]), int(shape[1]))
        self.row_bytes = self.shape[1] * self.dtype.itemsize
        if path.stat().st_size < self.offset + self.shape[0] * self.row_bytes:
            raise ValueError(f"truncated: {self.shape[0]} rows of {self.row_bytes} bytes announced, file is shorter")
        self._fd = os.open(path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        out = np.empty((len(rows), self.shape[1]), dtype=self.dtype)
        for i, row in enumerate(np.asarray(rows, dtype=np.int64).tolist()):
            if not 0 <= row < self.shape[0]:
                raise IndexError(f"row {row} out of range 0..{self.shape[0] - 1}")
            out[i] = np.frombuffer(os.pread(self._fd, self.row_bytes, self.offset + row * self.row_bytes), dtype=self.dtype)
        return out

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


class Segment:
    """One segment's files (a generation's top level, or its ``delta/``); ids are local, records global.

    ``searchable=False`` skips the FAISS index: ingest reads chunks, vectors and tokens only.
    """

    def __init__(self, directory: Path, offset: int, mmap: bool, searchable: bool) -> None:
        from .dense import load_dense
        from .sparse import load_bm25

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


class IndexStore:
    """A loaded, read-only generation: its base segment, less deleted chunks, plus its delta.

    Thread-safe for concurrent searches. ``bm25`` and ``bm25_folded`` rank the whole generation
    (:func:`rag.sparse.bm25_top_k`), :meth:`dense_search` does the same for vectors.
    """

    def __init__(self, generation: Path, mmap: bool = False, searchable: bool = True) -> None:
        from .dense import excluding
        from .sparse import Collection, SegmentedBM25

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

    def dense_search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Chunk ids and cosine scores of the ``k`` nearest live passages of both segments."""
        from .dense import dense_top_k

        ids, scores = dense_top_k(self.base.dense, vector, k, self.base.vector_rows, exclude=self._exclude)
        if self.delta is None:
            return ids, scores
        delta_ids, delta_scores = dense_top_k(self.delta.dense, vector, k)
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


# ---------------------------------------------------------------------------------------------
# Writing


@contextlib.contextmanager
def write_lock(index_dir: Path) -> Iterator[None]:
    """Exclusive lock so two ingests (CLI, app upload) never build over each other."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class GenerationData:
    """Everything a segment holds, in chunk-id order.

    ``previous`` and ``reused`` are optional: the segment directory these chunks partly come from
    and, per chunk, its id there (-1 for a new chunk). With them :func:`write_generation` updates
    that segment's FAISS index and BM25 token cache instead of rebuilding them.
    """

    documents: list[DocumentRecord]
    chunks: list[Chunk]
    vectors: np.ndarray
    previous: Path | None = None
    reused: np.ndarray | None = None


Lap = Callable[[str], None]


def write_generation(
    index_dir: Path,
    data: GenerationData,
    manifest: Manifest,
    timings: dict[str, float] | None = None,
) -> Path:
    """Write a complete generation (one base segment) beside the live one, then make it live atomically.

    Callers hold :func:`write_lock`. Older generations are removed after the switch. Stage
    durations in seconds go to ``timings`` when given (for the benchmarks).
    """
    return _commit(index_dir, manifest, lambda tmp, lap, timings: _write_segment(tmp, data, manifest, lap, timings), timings)


def write_delta_generation(
    index_dir: Path,
    base: Path,
    delta: GenerationData,
    deleted: np.ndarray,
    collections: dict[str, Any],
    manifest: Manifest,
    timings: dict[str, float] | None = None,
) -> Path:
    """A generation that keeps the base segment of ``base`` (hard links) with ``delta`` and ``deleted``.

    ``collections`` maps each BM25 flavour to the :class:`rag.sparse.Collection` its delta is
    scored with; their average length and deleted-chunk frequencies are saved for queries.
    """

    def build(tmp: Path, lap: Lap, timings: dict[str, float]) -> None:
        _link_base(base, tmp)
        np.save(tmp / DELETED, np.asarray(deleted, dtype=np.int64))
        stats = {name: {"avg_len": c.avg_len, "deleted_df": c.deleted_df} for name, c in collections.items()}
        (tmp / SEGMENT_STATS).write_text(json.dumps(stats, ensure_ascii=False), encoding="utf-8")
        lap("link_base")
        if delta.chunks:
            (tmp / DELTA).mkdir()
            flat = manifest.model_copy(update={"dense_kind": "flat"})
            _write_segment(tmp / DELTA, delta, flat, lap, timings, collections)

    return _commit(index_dir, manifest, build, timings)


def _commit(index_dir: Path, manifest: Manifest, build: Callable[[Path, Lap, dict[str, float]], None], timings: dict[str, float] | None) -> Path:
    """Build a generation in a temporary directory, sync it, rename it into place, point CURRENT at it."""
    timings = timings if timings is not None else {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = timings.get(stage, 0.0) + now - clock
        clock = now

    name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir(parents=True)
    try:
        build(tmp, lap, timings)
        (tmp / "manifest.json").write_text(manifest.model_dump_json(indent=1), encoding="utf-8")
        _fsync_tree(tmp)
        final = index_dir / name
        os.replace(tmp, final)
        lap("fsync")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    pointer_tmp = index_dir / f".{CURRENT}.{uuid.uuid4().hex[:6]}"
    pointer_tmp.write_text(name + "\n", encoding="utf-8")
    with open(pointer_tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(pointer_tmp, index_dir / CURRENT)
    _remove_stale(index_dir, keep=name)
    lap("switch")
    return final


def _write_segment(
    directory: Path,
    data: GenerationData,
    manifest: Manifest,
    lap: Lap,
    timings: dict[str, float],
    collections: dict[str, Any] | None = None,
) -> None:
    """Write one segment's chunk store, vectors, FAISS index and BM25 indexes into ``directory``."""
    from .dense import build_dense_index, load_dense, save_dense, update_dense_index
    from .sparse import TOKENIZERS, build_bm25, load_tokens, save_bm25, tokenize_corpus

    previous, reused = _reuse_plan(data)
    _write_chunk_store(directory / "chunks.sqlite", data, previous, reused)
    lap("chunk_store")
    vectors = np.ascontiguousarray(data.vectors, dtype=np.float32)
    np.save(directory / "vectors.npy", vectors)
    lap("vectors")
    index = None
    if previous is not None:
        old_to_new, new_rows = _id_maps(reused, _segment_rows(previous))
        try:
            old_index = load_dense(previous / "dense.faiss")
        except Exception:  # unreadable previous index: build afresh
            old_index = None
        if old_index is not None:
            index = update_dense_index(old_index, manifest.dense_kind, old_to_new, vectors, new_rows)
    timings["dense_updated"] = float(index is not None)
    if index is None:
        index = build_dense_index(vectors, manifest.dense_kind)
    save_dense(index, directory / "dense.faiss")
    del index
    lap("dense")
    cached_subs = 0
    for sub, tokenizer in TOKENIZERS.items():
        cached = load_tokens(previous / sub) if previous is not None else None
        if cached is not None and cached.n_docs == len(old_to_new):
            new_rows_list = new_rows.tolist()
            new_tokens = [tokenizer(indexed_text(data.chunks[i].title, data.chunks[i].text, manifest.title_prefix)) for i in new_rows_list]
            # old chunks first, then the new ones: pick each chunk of this generation from there
            source = reused.copy()
            source[new_rows] = len(old_to_new) + np.arange(len(new_rows))
            corpus = cached.extend(new_tokens).take(source)
            cached_subs += 1
        else:  # one chunk at a time: all texts or token lists at once would not fit at 10^6 chunks
            corpus = tokenize_corpus((indexed_text(c.title, c.text, manifest.title_prefix) for c in data.chunks), tokenizer)
        lap("bm25_tokens")
        save_bm25(build_bm25(corpus, collection=collections[sub] if collections else None), directory / sub)
        lap("bm25_index")
    timings["bm25_cached"] = float(cached_subs)


def _link_base(source: Path, target: Path) -> None:
    """The base segment's files of generation ``source`` in ``target``: hard links, copies where links fail."""
    for path in source.rglob("*"):
        relative = path.relative_to(source)
        if relative.parts[0] in (DELTA, DELETED, SEGMENT_STATS, "manifest.json") or not path.is_file():
            continue
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, destination)
        except OSError:  # another file system, or links not supported
            shutil.copy2(path, destination)


def _reuse_plan(data: GenerationData) -> tuple[Path | None, np.ndarray | None]:
    """The previous segment and per-chunk old ids, when they are usable; else (None, None)."""
    if data.previous is None or data.reused is None:
        return None, None
    reused = np.asarray(data.reused, dtype=np.int64)
    previous = Path(data.previous)
    if len(reused) != len(data.chunks) or not (previous / "vectors.npy").is_file():
        return None, None
    n_old = _segment_rows(previous)
    kept = reused[reused >= 0]
    if len(kept) and (kept.max() >= n_old or len(np.unique(kept)) != len(kept)):
        return None, None
    return previous, reused


def _segment_rows(segment: Path) -> int:
    """Rows of a segment, from its vectors' header."""
    rows = VectorRows(segment / "vectors.npy")
    rows.close()
    return len(rows)


def _id_maps(reused: np.ndarray, n_old: int) -> tuple[np.ndarray, np.ndarray]:
    """(new id of each old chunk or -1, ids of the new chunks)."""
    old_to_new = np.full(n_old, -1, dtype=np.int64)
    kept = np.flatnonzero(reused >= 0)
    old_to_new[reused[kept]] = kept
    return old_to_new, np.flatnonzero(reused < 0)


def _write_chunk_store(path: Path, data: GenerationData, previous: Path | None = None, reused: np.ndarray | None = None) -> None:
    """Write the documents and chunks; rows kept from ``previous`` are copied inside SQLite."""
    db = sqlite3.connect(path)
    try:
        db.executescript(
            """
            CREATE TABLE documents (doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, source TEXT NOT NULL,
                                    content_hash TEXT NOT NULL, dates TEXT NOT NULL, text TEXT NOT NULL);
            CREATE TABLE chunks (id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES documents(doc_id),
                                 start INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL);
            """
        )
        new_rows: range | np.ndarray = range(len(data.chunks))
        copied_docs: set[str] = set()
        if previous is not None and reused is not None and (previous / "chunks.sqlite").is_file():
            kept = np.flatnonzero(reused >= 0)
            copied_docs = {data.chunks[i].doc_id for i in kept.tolist()}
            db.execute("ATTACH DATABASE ? AS old", (str(previous / "chunks.sqlite"),))
            db.execute("CREATE TEMP TABLE id_map (old_id INTEGER PRIMARY KEY, new_id INTEGER NOT NULL)")
            db.executemany("INSERT INTO id_map VALUES (?, ?)", zip(reused[kept].tolist(), kept.tolist()))
            db.execute("CREATE TEMP TABLE kept_docs (doc_id TEXT PRIMARY KEY)")
            db.executemany("INSERT INTO kept_docs VALUES (?)", ((d,) for d in copied_docs))
            db.execute("INSERT INTO documents SELECT d.* FROM old.documents d JOIN kept_docs k ON k.doc_id = d.doc_id")
            db.execute(
                "INSERT INTO chunks SELECT m.new_id, c.doc_id, c.start, c.end, c.text FROM old.chunks c "
                "JOIN id_map m ON m.old_id = c.id ORDER BY m.new_id"
            )
            db.commit()
            db.execute("DETACH DATABASE old")
            new_rows = np.flatnonzero(reused < 0).tolist()
        db.executemany(
            "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?)",
            [
                (d.doc_id, d.title, d.source, d.content_hash, json.dumps(d.dates), d.text)
                for d in data.documents
                if d.doc_id not in copied_docs
            ],
        )
        db.executemany(
            "INSERT INTO chunks VALUES (?, ?, ?, ?, ?)",
            ((i, data.chunks[i].doc_id, data.chunks[i].start, data.chunks[i].end, data.chunks[i].text) for i in new_rows),
        )
        db.execute("CREATE INDEX chunks_doc ON chunks(doc_id)")
        db.commit()
    finally:
        db.close()


def _fsync_tree(directory: Path) -> None:
    """Flush the files written for a generation; hard-linked base files were flushed when first written."""
    for path in directory.rglob("*"):
        if path.is_file() and path.stat().st_nlink == 1:
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def _remove_stale(index_dir: Path, keep: str) -> None:
    """Drop old generations and leftovers of interrupted builds (never the live one)."""
    for path in index_dir.iterdir():
        if path.name == keep:
            continue
        if path.name.startswith("gen-") or path.name.startswith(".tmp-gen-"):
            shutil.rmtree(path, ignore_errors=True)
        elif path.name.startswith(f".{CURRENT}."):
            path.unlink(missing_ok=True)
