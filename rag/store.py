"""The on-disk index: manifest, chunk store (SQLite), vectors, FAISS and BM25, written atomically.

Layout of an index directory::

    index/
      CURRENT            name of the live generation (replaced atomically with os.replace)
      .lock              held by writers so two ingests never interleave
      gen-<time>-<rand>/ manifest.json, chunks.sqlite, vectors.npy, dense.faiss, bm25/, bm25_folded/

A write builds a complete new generation beside the live one and only then points CURRENT at it,
so a crash, Ctrl-C or bad input mid-build leaves the previous index live and intact. Nothing is
pickled: JSON, SQLite, numpy ``.npy`` and FAISS's own format only.
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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ValidationError

from .chunking import Chunk, indexed_text
from .errors import IndexStoreError

FORMAT_VERSION = 1
CURRENT = "CURRENT"


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
    n_chunks: int
    built_at: float
    build_seconds: float = 0.0
    documents: dict[str, DocumentEntry]


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


class IndexStore:
    """A loaded, read-only generation. Thread-safe for concurrent searches."""

    def __init__(self, generation: Path, mmap: bool = False) -> None:
        from .dense import load_dense
        from .sparse import load_bm25

        self.path = generation
        self.manifest = read_manifest(generation)
        try:
            self.dense = load_dense(generation / "dense.faiss")  # in memory (see load_dense)
            self.bm25 = load_bm25(generation / "bm25", mmap=mmap)
            self.bm25_folded = load_bm25(generation / "bm25_folded", mmap=mmap)
        except Exception as exc:  # faiss raises RuntimeError, bm25s OSError/ValueError/KeyError
            raise IndexStoreError(f"corrupt index at {generation}: {exc.__class__.__name__}: {exc}") from None
        try:
            self.vector_rows = VectorRows(generation / "vectors.npy")
        except (OSError, ValueError) as exc:
            raise IndexStoreError(f"corrupt index at {generation}: vectors.npy: {exc}") from None
        db_path = generation / "chunks.sqlite"
        if not db_path.is_file():
            raise IndexStoreError(f"corrupt index: {db_path} is missing")
        self._db = sqlite3.connect(f"file:{db_path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        n_rows = self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        sizes = {self.dense.ntotal, n_rows, self.manifest.n_chunks}
        if len(sizes) != 1:
            raise IndexStoreError(
                f"corrupt index at {generation}: chunk counts disagree (faiss {self.dense.ntotal}, "
                f"store {n_rows}, manifest {self.manifest.n_chunks})"
            )

    @property
    def n_chunks(self) -> int:
        return self.manifest.n_chunks

    def chunks(self, ids: Sequence[int]) -> list[ChunkRecord]:
        """Records for chunk ids, in the order given."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(
            f"SELECT c.id, c.doc_id, d.title, c.start, c.end, c.text FROM chunks c "
            f"JOIN documents d ON d.doc_id = c.doc_id WHERE c.id IN ({marks})",
            [int(i) for i in ids],
        ).fetchall()
        by_id = {row[0]: ChunkRecord(*row) for row in rows}
        return [by_id[int(i)] for i in ids]

    def all_chunks(self) -> Iterator[ChunkRecord]:
        cursor = self._db.execute(
            "SELECT c.id, c.doc_id, d.title, c.start, c.end, c.text FROM chunks c "
            "JOIN documents d ON d.doc_id = c.doc_id ORDER BY c.id"
        )
        for row in cursor:
            yield ChunkRecord(*row)

    def chunk_ids_by_document(self) -> dict[str, list[int]]:
        rows: dict[str, list[int]] = {}
        for cid, doc_id in self._db.execute("SELECT id, doc_id FROM chunks ORDER BY id"):
            rows.setdefault(doc_id, []).append(cid)
        return rows

    def document(self, doc_id: str) -> DocumentRecord | None:
        row = self._db.execute(
            "SELECT doc_id, title, source, content_hash, dates, text FROM documents WHERE doc_id = ?", (doc_id,)
        ).fetchone()
        if row is None:
            return None
        return DocumentRecord(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5])

    def vectors(self) -> np.ndarray:
        """All passage vectors in chunk-id order (memory-mapped)."""
        return np.load(self.path / "vectors.npy", mmap_mode="r")

    def close(self) -> None:
        self._db.close()
        self.vector_rows.close()


def open_index(index_dir: str | Path, model_id: str | None = None, mmap: bool = False) -> IndexStore:
    """Load the live generation of ``index_dir``; refuse one built with another model."""
    index_dir = Path(index_dir)
    generation = live_generation(index_dir)
    if generation is None:
        raise IndexStoreError(
            f"no index in {index_dir}: build one with `python -m rag ingest corpus/ --index {index_dir}`"
        )
    if not generation.is_dir():
        raise IndexStoreError(f"corrupt index: {index_dir / CURRENT} points at missing {generation.name}")
    store = IndexStore(generation, mmap=mmap)
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
    """Everything a generation holds, in chunk-id order.

    ``previous`` and ``reused`` are optional: the generation these chunks partly come from and,
    per chunk, its id there (-1 for a new chunk). With them :func:`write_generation` updates the
    previous generation's FAISS index and BM25 token cache instead of rebuilding them, so adding
    a report costs time in proportion to the report, not to the library.
    """

    documents: list[DocumentRecord]
    chunks: list[Chunk]
    vectors: np.ndarray
    previous: Path | None = None
    reused: np.ndarray | None = None


def write_generation(
    index_dir: Path,
    data: GenerationData,
    manifest: Manifest,
    timings: dict[str, float] | None = None,
) -> Path:
    """Write a complete generation beside the live one, then make it live atomically.

    Callers hold :func:`write_lock`. Older generations are removed after the switch. Stage
    durations in seconds go to ``timings`` when given (for the benchmarks).
    """
    from .dense import build_dense_index, load_dense, save_dense, update_dense_index
    from .sparse import TOKENIZERS, build_bm25, load_tokens, save_bm25, tokenize_corpus

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
    previous, reused = _reuse_plan(data)
    try:
        _write_chunk_store(tmp / "chunks.sqlite", data, previous, reused)
        lap("chunk_store")
        vectors = np.ascontiguousarray(data.vectors, dtype=np.float32)
        np.save(tmp / "vectors.npy", vectors)
        lap("vectors")
        index = None
        if previous is not None:
            old_to_new, new_rows = _id_maps(reused, _previous_size(previous))
            try:
                old_index = load_dense(previous / "dense.faiss")
            except Exception:  # unreadable previous index: build afresh
                old_index = None
            if old_index is not None:
                index = update_dense_index(old_index, manifest.dense_kind, old_to_new, vectors, new_rows)
        timings["dense_updated"] = float(index is not None)
        if index is None:
            index = build_dense_index(vectors, manifest.dense_kind)
        save_dense(index, tmp / "dense.faiss")
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
            save_bm25(build_bm25(corpus), tmp / sub)
            lap("bm25_index")
        timings["bm25_cached"] = float(cached_subs)
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


def _reuse_plan(data: GenerationData) -> tuple[Path | None, np.ndarray | None]:
    """The previous generation and per-chunk old ids, when they are usable; else (None, None)."""
    if data.previous is None or data.reused is None:
        return None, None
    reused = np.asarray(data.reused, dtype=np.int64)
    previous = Path(data.previous)
    if len(reused) != len(data.chunks) or not (previous / "manifest.json").is_file():
        return None, None
    n_old = _previous_size(previous)
    kept = reused[reused >= 0]
    if len(kept) and (kept.max() >= n_old or len(np.unique(kept)) != len(kept)):
        return None, None
    return previous, reused


def _previous_size(previous: Path) -> int:
    return read_manifest(previous).n_chunks


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
    for path in directory.rglob("*"):
        if path.is_file():
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
