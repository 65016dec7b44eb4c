"""Writing index generations atomically: a full base segment, or a delta over the live base.

A write builds a complete new generation beside the live one and only then points CURRENT at it,
so a crash, Ctrl-C or bad input mid-build leaves the previous index live and intact. Nothing is
pickled: JSON, SQLite, numpy ``.npy`` and FAISS's own format only. Callers hold
:func:`rag.index.faiss.generations.write_lock`.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import Settings
from rag.index.faiss.dense import build_dense_index, choose_kind, load_dense, save_dense, update_dense_index
from rag.index.faiss.generations import CURRENT, DELETED, DELTA, DOCUMENTS, LEXICAL, MANIFEST, SEGMENT_STATS, read_manifest, write_manifest
from rag.index.faiss.sparse import TOKENIZERS, add_binary_vocabulary, add_impacts, build_bm25, load_tokens, save_bm25, tokenize_corpus
from rag.index.faiss.rows import VectorRows
from rag.index.faiss.sentences import SentenceRows
from rag.index.records import Chunk, DocumentEntry, DocumentRecord, Manifest, indexed_text
from rag.query.restore import FILENAME as RESTORER_FILE
from rag.query.restore import SyllableRestorer


@dataclass
class GenerationData:
    """Everything a segment holds, in chunk-id order.

    ``previous``, ``reused`` and ``sentences`` are optional: the segment directory these chunks partly come from
    and, per chunk, its id there (-1 for a new chunk). With them :func:`write_generation` updates
    that segment's FAISS index and BM25 token cache instead of rebuilding them.
    """

    documents: list[DocumentRecord]
    chunks: list[Chunk]
    vectors: np.ndarray
    previous: Path | None = None
    reused: np.ndarray | None = None
    sentences: SentenceRows | None = None  # the vectors of the chunks' sentences (None: none stored)


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
        write_manifest(tmp, manifest)
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
    previous, reused = _reuse_plan(data)
    _write_chunk_store(directory / "chunks.sqlite", data, previous, reused)
    lap("chunk_store")
    vectors = np.ascontiguousarray(data.vectors, dtype=np.float32)
    np.save(directory / "vectors.npy", vectors)
    if data.sentences is not None:
        data.sentences.save(directory)
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
        if sub == "bm25":  # the diacritic restorer counts this segment's accented syllables
            SyllableRestorer.from_token_ids(corpus.vocab, corpus.ids, corpus.offsets).save(directory / RESTORER_FILE)
            lap("restorer")
        save_bm25(build_bm25(corpus, collection=collections[sub] if collections else None), directory / sub)
        lap("bm25_index")
    timings["bm25_cached"] = float(cached_subs)


def upgrade_generation(index_dir: Path, generation: Path) -> Path:
    """The same generation again in the current layout, made live atomically (callers hold the write lock).

    Every file is linked from ``generation``; what an index written before the binary BM25
    vocabularies, the compact BM25 postings (:mod:`rag.index.faiss.impacts`) and the documents
    table lacks is added (:func:`write_delta_generation` does the
    same for the base it keeps), so a user's existing index opens fast without re-indexing.
    """
    manifest = read_manifest(generation)

    def build(tmp: Path, lap: Lap, timings: dict[str, float]) -> None:
        _link_base(generation, tmp)
        for extra in (DELETED, SEGMENT_STATS, DELTA):
            if (generation / extra).exists():
                _link_tree(generation / extra, tmp / extra)
        for name in LEXICAL if (tmp / DELTA).is_dir() else ():
            add_binary_vocabulary(tmp / DELTA / name)
        lap("link")

    return _commit(index_dir, manifest, build, None)


def _link_base(source: Path, target: Path) -> None:
    """The base segment's files of generation ``source`` in ``target`` (hard links), in the current layout."""
    for path in source.rglob("*"):
        relative = path.relative_to(source)
        if relative.parts[0] in (DELTA, DELETED, SEGMENT_STATS, MANIFEST, DOCUMENTS) or not path.is_file():
            continue
        _link_tree(path, target / relative)
    for name in LEXICAL:  # a base written before the binary vocabularies or compact postings gains them here, once
        add_binary_vocabulary(target / name)
        add_impacts(target / name)


def _link_tree(source: Path, destination: Path) -> None:
    """Hard-link a file, or every file under a directory (copies where links fail)."""
    for path in [source] if source.is_file() else [p for p in source.rglob("*") if p.is_file()]:
        target = destination if path == source else destination / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:  # another file system, or links not supported
            shutil.copy2(path, target)


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


def build_manifest(data: GenerationData, settings: Settings, model_id: str, dim: int, seconds: float) -> Manifest:
    """The manifest of a base segment holding ``data``, cut and indexed as ``settings`` say."""
    counts: dict[str, int] = {}
    for c in data.chunks:
        counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
    return Manifest(
        model_id=model_id,
        dim=dim,
        dense_kind=choose_kind(len(data.chunks), settings.dense_index, settings.approx_threshold),
        title_prefix=settings.title_prefix,
        chunk_chars=settings.chunk_chars,
        overlap_chars=settings.overlap_chars,
        n_chunks=len(data.chunks),
        built_at=time.time(),
        build_seconds=seconds,
        documents={
            d.doc_id: DocumentEntry(
                title=d.title, source=d.source, content_hash=d.content_hash, dates=d.dates, n_chunks=counts.get(d.doc_id, 0)
            )
            for d in data.documents
        },
    )
