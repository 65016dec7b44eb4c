"""Incremental ingest: load files, chunk, embed only what is new or changed, write a new generation.

A small change is written as a delta over the live base segment (rag.store), so its cost follows
the change, not the library; a large one, or a delta grown past :func:`merge_at`, rewrites the base.

Documents are keyed by file stem. A document whose content hash is unchanged keeps its chunks and
vectors; a changed one is re-chunked and re-embedded; a document whose source lies under a given
directory but is gone from it is dropped. A file that fails to load is reported and, if it was
indexed before, keeps its previous version: bad input never loses data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .chunking import Chunk, chunk_document, indexed_text
from .config import Settings
from .dense import choose_kind
from .errors import DocumentError, IndexStoreError, UnsupportedFormatError
from .loaders import LoadedDocument, iter_paths, load_document
from .sparse import Collection, collection_after
from .store import (
    LEXICAL,
    DocumentEntry,
    DocumentRecord,
    GenerationData,
    IndexStore,
    Manifest,
    live_generation,
    open_index,
    write_delta_generation,
    write_generation,
    write_lock,
)

log = logging.getLogger(__name__)

MERGE_MIN_CHUNKS, MERGE_MAX_CHUNKS, MERGE_SHARE = 1024, 16384, 4  # see merge_at


@dataclass
class IngestReport:
    """What an ingest did; ``errors`` and ``skipped`` hold (path, reason) pairs."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    n_documents: int = 0
    n_chunks: int = 0
    embedded_chunks: int = 0
    seconds: float = 0.0
    generation: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged; {self.n_documents} documents, {self.n_chunks} chunks "
            f"({self.embedded_chunks} embedded) in {self.seconds:.1f} s"
        )


def ingest(
    paths: Sequence[str | Path],
    settings: Settings,
    rebuild: bool = False,
    progress: bool = False,
    embeddings=None,
) -> IngestReport:
    """Bring the index at ``settings.index_dir`` in line with ``paths`` (files and directories)."""
    t0 = time.perf_counter()
    report = IngestReport()
    files = iter_paths(paths)  # a missing path raises before anything is touched
    loaded = _load_all(files, report, progress)
    if embeddings is None:
        from .embeddings import get_embeddings

        embeddings = get_embeddings(settings.model, backend=settings.embed_backend)

    index_dir = Path(settings.index_dir)
    with write_lock(index_dir):
        old = None if rebuild or live_generation(index_dir) is None else open_for_writing(index_dir)
        try:
            if old is not None and old.manifest.model_id != embeddings.model_id:
                raise IndexStoreError(
                    f"index at {index_dir} was built with model '{old.manifest.model_id}', not "
                    f"'{embeddings.model_id}'; vectors of two models cannot be mixed: rerun with --rebuild"
                )
            reuse = old is not None and _same_chunking(old.manifest, settings)
            scanned_dirs = [Path(p).resolve() for p in paths if Path(p).is_dir()]
            plan = _plan(old, loaded, scanned_dirs, report, reuse)
            if old is not None and not report.changed and reuse:
                report.n_documents, report.n_chunks = len(old.manifest.documents), old.n_chunks
                report.unchanged = sorted(old.manifest.documents)
                report.seconds = time.perf_counter() - t0
                return report
            write_next(index_dir, old, plan, settings, embeddings, progress, report, t0)
        finally:
            if old is not None:
                old.close()
        report.unchanged = sorted(d for d, src in plan.items() if src is None)
    report.seconds = time.perf_counter() - t0
    return report


def delete_documents(doc_ids: Iterable[str], settings: Settings) -> IngestReport:
    """Remove documents by id without re-embedding anything else."""
    t0 = time.perf_counter()
    report = IngestReport()
    index_dir = Path(settings.index_dir)
    wanted = set(doc_ids)
    with write_lock(index_dir):
        old = open_for_writing(index_dir)
        try:
            missing = sorted(wanted - set(old.manifest.documents))
            if missing:
                raise DocumentError(", ".join(missing), "no such document in the index")
            plan: dict[str, LoadedDocument | None] = {d: None for d in old.manifest.documents if d not in wanted}
            report.removed = sorted(wanted)
            write_next(index_dir, old, plan, settings, None, False, report, t0)
        finally:
            old.close()
    report.seconds = time.perf_counter() - t0
    return report


def open_for_writing(index_dir: Path) -> IndexStore:
    """The live generation as ingest reads it: chunks, vectors, tokens; no FAISS, BM25 memory-mapped."""
    return open_index(index_dir, mmap=True, searchable=False)


def merge_at(base_rows: int) -> int:
    """Delta plus deleted chunks from which the next write merges everything into a new base segment.

    A quarter of the base, at least 1,024 (merging a small library costs little) and at most
    16,384: the delta is rewritten whole on each change, so it must stay small, while merging a
    million chunks (about two minutes) then comes once per ~16k chunks changed.
    """
    return min(MERGE_MAX_CHUNKS, max(MERGE_MIN_CHUNKS, base_rows // MERGE_SHARE))


def write_next(
    index_dir: Path,
    old: IndexStore | None,
    plan: dict[str, LoadedDocument | None],
    settings: Settings,
    embeddings,
    progress: bool,
    report: IngestReport,
    t0: float,
) -> None:
    """Write the generation ``plan`` describes: a delta over ``old``'s base when the change is small, else a new base.

    ``embeddings`` may be None when nothing is to be embedded (deletions). Fills the report's
    counts and generation name. Callers hold the write lock.
    """
    model_id = embeddings.model_id if embeddings is not None else old.manifest.model_id
    appended = _append(old, plan, settings, embeddings, progress) if old is not None and _same_chunking(old.manifest, settings) else None
    if appended is not None:
        delta, deleted, collections, entries = appended
        n_live = old.manifest.base_rows - len(deleted) + len(delta.chunks)
        manifest = old.manifest.model_copy(
            update={
                "model_id": model_id,
                "n_chunks": n_live,
                "built_at": time.time(),
                "build_seconds": time.perf_counter() - t0,
                "documents": entries,
                "base_chunks": old.manifest.base_rows,
                "delta_chunks": len(delta.chunks),
                "deleted_chunks": len(deleted),
            }
        )
        generation = write_delta_generation(index_dir, old.path, delta, deleted, collections, manifest)
        report.embedded_chunks = int((delta.reused < 0).sum())
        report.n_documents, report.n_chunks = len(entries), n_live
    else:
        data, report.embedded_chunks = _assemble(old, plan, settings, embeddings, progress)
        dim = int(data.vectors.shape[1]) if data.vectors.size else (embeddings.dim if embeddings is not None else old.manifest.dim)
        manifest = _manifest(data, settings, model_id, dim, time.perf_counter() - t0)
        generation = write_generation(index_dir, data, manifest)
        report.n_documents, report.n_chunks = len(data.documents), len(data.chunks)
    report.generation = generation.name


def _load_all(files: list[Path], report: IngestReport, progress: bool) -> dict[str, LoadedDocument]:
    from tqdm import tqdm

    loaded: dict[str, LoadedDocument] = {}
    for path in tqdm(files, desc="Đọc tài liệu", unit="file", disable=not progress):
        try:
            doc = load_document(path)
        except UnsupportedFormatError as exc:
            log.warning("skipped %s", exc)
            report.skipped.append((exc.path, exc.reason))
            continue
        except DocumentError as exc:
            report.errors.append((exc.path, exc.reason))
            continue
        if doc.doc_id in loaded:
            report.errors.append(
                (str(path), f"duplicate document id '{doc.doc_id}' (also {loaded[doc.doc_id].source}); rename one file")
            )
            continue
        loaded[doc.doc_id] = doc
    return loaded


def _same_chunking(manifest: Manifest, settings: Settings) -> bool:
    return (manifest.chunk_chars, manifest.overlap_chars, manifest.title_prefix) == (
        settings.chunk_chars,
        settings.overlap_chars,
        settings.title_prefix,
    )


def _plan(
    old: IndexStore | None,
    loaded: dict[str, LoadedDocument],
    scanned_dirs: list[Path],
    report: IngestReport,
    reuse: bool,
) -> dict[str, LoadedDocument | None]:
    """Map each document of the next generation to a fresh load, or None to keep the stored one."""
    plan: dict[str, LoadedDocument | None] = {}
    known = old.manifest.documents if old is not None else {}
    failed_paths = {Path(p).resolve() for p, _ in report.errors}
    for doc_id, entry in known.items():
        if doc_id in loaded:
            continue
        if scanned_dirs and _gone(Path(entry.source).resolve(), scanned_dirs, failed_paths):
            report.removed.append(doc_id)
        else:
            plan[doc_id] = None
    for doc_id, doc in loaded.items():
        if doc_id not in known:
            report.added.append(doc_id)
            plan[doc_id] = doc
        elif known[doc_id].content_hash != doc.content_hash or not reuse:
            report.updated.append(doc_id)
            plan[doc_id] = doc
        else:
            plan[doc_id] = None
    return plan


def _gone(source: Path, scanned_dirs: list[Path], failed_paths: set[Path]) -> bool:
    """Whether a stored document's file lay under a scanned directory and is no longer there."""
    return any(source.is_relative_to(d) for d in scanned_dirs) and source not in failed_paths


def _append(
    old: IndexStore,
    plan: dict[str, LoadedDocument | None],
    settings: Settings,
    embeddings,
    progress: bool,
) -> tuple[GenerationData, np.ndarray, dict[str, Collection], dict[str, DocumentEntry]] | None:
    """The next generation as a delta over ``old``'s base: (delta, deleted base ids, BM25 collections, manifest entries).

    Touches only what changed: the chunks of removed and changed documents become deleted ids
    (found through the chunk store's index on doc_id), the delta keeps its other chunks and
    takes the new ones. None when a merge is due instead (:func:`merge_at`), the index kind
    must change, or the base lacks its token cache.
    """
    base_rows = old.manifest.base_rows
    known = old.manifest.documents
    gone = [d for d in known if d not in plan or plan[d] is not None]
    dropped = np.array(sorted(cid for d in gone for cid in old.chunk_ids_of(d)), dtype=np.int64)
    deleted = np.union1d(old.deleted, dropped[dropped < base_rows]).astype(np.int64)
    dropped_delta = set((dropped[dropped >= base_rows] - base_rows).tolist())
    fresh = [plan[d] for d in sorted(d for d, doc in plan.items() if doc is not None)]
    fresh_chunks = [chunk_document(doc.doc_id, doc.title, doc.text, settings.chunk_chars, settings.overlap_chars) for doc in fresh]
    kept_rows = [r for r in range(old.delta.rows) if r not in dropped_delta] if old.delta is not None else []
    n_delta = len(kept_rows) + sum(map(len, fresh_chunks))
    n_live = base_rows - len(deleted) + n_delta
    if len(deleted) + n_delta > merge_at(base_rows):
        return None
    if choose_kind(n_live, settings.dense_index, settings.approx_threshold) != old.manifest.dense_kind:
        return None
    collections: dict[str, Collection] = {}
    for name in LEXICAL:
        collection = collection_after(old.path / name, old.base.bm25[name], deleted, n_live)
        if collection is None:
            return None
        collections[name] = collection

    # the delta: its kept chunks in their order, then new and changed documents (sorted by id)
    documents: list[DocumentRecord] = []
    chunks: list[Chunk] = []
    vectors = [np.zeros((0, old.manifest.dim), dtype=np.float32)]
    if old.delta is not None:
        kept_docs = sorted(d for d in old.delta.doc_ids() if d in plan and plan[d] is None)
        documents.extend(old.delta.document(d) for d in kept_docs)
        records = old.delta.records(kept_rows) if kept_rows else {}
        position: dict[str, int] = {}
        for row in kept_rows:
            r = records[row + old.delta.offset]
            position[r.doc_id] = position.get(r.doc_id, -1) + 1
            chunks.append(Chunk(r.doc_id, r.title, r.start, r.end, r.text, position[r.doc_id]))
        vectors.append(np.asarray(old.delta.vectors()[kept_rows], dtype=np.float32))
    new_chunks = [c for doc_chunks in fresh_chunks for c in doc_chunks]
    documents.extend(DocumentRecord(doc.doc_id, doc.title, doc.source, doc.content_hash, doc.dates, doc.text) for doc in fresh)
    chunks.extend(new_chunks)
    if new_chunks:
        texts = [indexed_text(c.title, c.text, settings.title_prefix) for c in new_chunks]
        vectors.append(embeddings.encode_passages(texts, show_progress=progress))
    reused = np.concatenate([np.asarray(kept_rows, dtype=np.int64), np.full(len(new_chunks), -1, dtype=np.int64)])
    previous = old.delta.path if old.delta is not None else None
    delta = GenerationData(documents, chunks, np.concatenate(vectors), previous=previous, reused=reused)
    entries = {d: e for d, e in known.items() if d in plan and plan[d] is None}
    for doc, doc_chunks in zip(fresh, fresh_chunks):
        entries[doc.doc_id] = DocumentEntry(
            title=doc.title, source=doc.source, content_hash=doc.content_hash, dates=doc.dates, n_chunks=len(doc_chunks)
        )
    return delta, deleted, collections, entries


def _assemble(
    old: IndexStore | None,
    plan: dict[str, LoadedDocument | None],
    settings: Settings,
    embeddings,
    progress: bool,
) -> tuple[GenerationData, int]:
    """Chunks and vectors of the next generation: stored ones reused, new ones embedded.

    Kept documents come first, in their previous order, then new and changed ones (sorted by id):
    so adding reports appends to the index, and the FAISS index and BM25 token cache of the
    previous generation can be updated rather than rebuilt (see ``GenerationData.reused``).
    """
    documents: list[DocumentRecord] = []
    chunks: list[Chunk] = []
    reused: list[np.ndarray] = []  # per document: old chunk ids, or -1 for chunks to embed
    fresh: list[Chunk] = []
    old_rows = old.chunk_ids_by_document() if old is not None else {}
    kept = sorted((d for d, doc in plan.items() if doc is None), key=lambda d: (old_rows[d][0] if old_rows.get(d) else -1, d))
    if kept:
        assert old is not None
        wanted = set(kept)
        old_chunks: dict[str, list] = {}
        for record in old.all_chunks():  # one pass over the chunk store, not one query per document
            if record.doc_id in wanted:
                old_chunks.setdefault(record.doc_id, []).append(record)
    for doc_id in kept:
        assert old is not None
        record = old.document(doc_id)
        if record is None:
            raise IndexStoreError(f"corrupt index at {old.path}: document '{doc_id}' is missing its text")
        documents.append(record)
        rows = old_rows.get(doc_id, [])
        chunks.extend(Chunk(doc_id, record.title, c.start, c.end, c.text, i) for i, c in enumerate(old_chunks.get(doc_id, [])))
        reused.append(np.asarray(rows, dtype=np.int64))
    for doc_id in sorted(d for d, doc in plan.items() if doc is not None):
        doc = plan[doc_id]
        documents.append(DocumentRecord(doc.doc_id, doc.title, doc.source, doc.content_hash, doc.dates, doc.text))
        doc_chunks = chunk_document(doc.doc_id, doc.title, doc.text, settings.chunk_chars, settings.overlap_chars)
        reused.append(np.full(len(doc_chunks), -1, dtype=np.int64))
        fresh.extend(doc_chunks)
        chunks.extend(doc_chunks)

    new_vectors = None
    if fresh:
        texts = [indexed_text(c.title, c.text, settings.title_prefix) for c in fresh]
        new_vectors = embeddings.encode_passages(texts, show_progress=progress)
    dim = new_vectors.shape[1] if new_vectors is not None else (old.manifest.dim if old else 0)
    source = np.concatenate(reused) if reused else np.zeros(0, dtype=np.int64)
    vectors = np.zeros((len(chunks), dim), dtype=np.float32)
    old_pos = np.flatnonzero(source >= 0)
    if len(old_pos):
        assert old is not None
        order = np.argsort(source[old_pos], kind="stable")  # read the memory-mapped rows in file order
        vectors[old_pos[order]] = old.vectors()[source[old_pos][order]]
    if new_vectors is not None:
        vectors[source < 0] = new_vectors
    # The previous base segment's files are reused only when its chunks were cut the same way;
    # chunks that come from its delta are new rows there (their vectors are taken, not recomputed).
    if old is None or not _same_chunking(old.manifest, settings):
        return GenerationData(documents, chunks, vectors), len(fresh)
    reused_base = np.where(source < old.manifest.base_rows, source, -1)
    return GenerationData(documents, chunks, vectors, previous=old.path, reused=reused_base), len(fresh)


def _manifest(data: GenerationData, settings: Settings, model_id: str, dim: int, seconds: float) -> Manifest:
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
