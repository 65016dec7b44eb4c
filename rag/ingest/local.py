"""Incremental ingest: load files, chunk, embed only what is new or changed, write a new generation.

A small change is written as a delta over the live base segment (:mod:`rag.index.faiss.store`), so
its cost follows the change, not the library; a large one, or a delta grown past :func:`merge_at`,
rewrites the base. What changes is decided by :mod:`rag.ingest.plan`, shared with Milvus and Ray.

Parsing overlaps embedding: files are parsed in a background thread (:func:`rag.ingest.plan.parse_ahead`)
while the passages of those already parsed are embedded, in groups; the write transaction then
finds their vectors ready (:class:`EmbeddedAhead`). The same pass embeds each new chunk's sentences
in their answer context (``sentence_vectors``, :mod:`rag.index.faiss.sentences`), stored with the
segment so that answers look them up instead of running the model. Nothing is written before that
transaction, so a crash at any point leaves the previous generation live.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from rag.config import Settings
from rag.errors import DocumentError, IndexStoreError
from rag.index.faiss.dense import choose_kind
from rag.index.faiss.generations import LEXICAL, live_generation, read_manifest, write_lock
from rag.index.faiss.sentences import SentenceRows, chunk_sentences, segment_rows
from rag.index.faiss.sparse import Collection, collection_after
from rag.index.faiss.store import IndexStore, open_index
from rag.index.faiss.writer import GenerationData, build_manifest, write_delta_generation, write_generation
from rag.index.records import Chunk, DocumentEntry, DocumentRecord, indexed_text
from rag.ingest.chunking import chunk_document
from rag.ingest.loaders import LoadedDocument, iter_paths
from rag.ingest.plan import check_model, parse_ahead, plan_changes, same_chunking, scanned_dirs, with_flags
from rag.ingest.report import IngestReport

log = logging.getLogger(__name__)

MERGE_MIN_CHUNKS, MERGE_MAX_CHUNKS, MERGE_SHARE = 1024, 16384, 4  # see merge_at
# texts (passages and their sentences) embedded together while later files parse: enough for
# length-sorted batches to pad little, few enough that the first group starts early
EMBED_GROUP = 128


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
    documents = parse_ahead(files, report, progress, settings)  # parsing starts while the model loads
    try:
        if embeddings is None:
            from rag.embeddings import get_embeddings

            embeddings = get_embeddings(settings.model, backend=settings.embed_backend)
        ahead = EmbeddedAhead(embeddings, settings)
        loaded = ahead.consume(documents, _live_entries(Path(settings.index_dir), settings, embeddings.model_id, rebuild))
    finally:
        documents.close()  # stops the parser if embedding failed
    update_index(paths, settings, ahead, lambda known, reuse: loaded, report, rebuild, progress, t0)
    report.seconds = time.perf_counter() - t0
    return report


class EmbeddedAhead:
    """The ingest's embedder, with the passages of parsed documents encoded while later files parse.

    :meth:`consume` embeds, group by group, the chunks of every document the live index does not
    hold in this version, and their sentences' contexts (with ``sentence_vectors``) in the same
    model calls; ``encode_passages`` and ``encode_sentences`` then look vectors up by text and
    encode whatever they were not given before (the plan is made again under the write lock, so
    a document another writer changed meanwhile is still embedded, just later).
    """

    def __init__(self, embeddings, settings: Settings) -> None:
        self.model_id, self.dim = embeddings.model_id, embeddings.dim
        self._embeddings, self._settings = embeddings, settings
        self._vectors: dict[str, np.ndarray] = {}
        self._sentences: dict[str, np.ndarray] = {}  # float16, as stored: 6-7 per passage

    def consume(self, documents: Iterable[LoadedDocument], known: Mapping[str, DocumentEntry] | None) -> dict[str, LoadedDocument]:
        """Every document of ``documents`` by id, in their order; embeds those ``known`` (the live
        index's entries) does not hold with the same content hash (``known`` None: none ahead)."""
        s = self._settings
        loaded: dict[str, LoadedDocument] = {}
        passages: list[str] = []
        sentences: list[str] = []
        for doc in documents:
            loaded[doc.doc_id] = doc
            if known is None or ((entry := known.get(doc.doc_id)) is not None and entry.content_hash == doc.content_hash):
                continue
            chunks = chunk_document(doc.doc_id, doc.title, doc.text, s.chunk_chars, s.overlap_chars)
            passages.extend(indexed_text(c.title, c.text, s.title_prefix) for c in chunks)
            if s.sentence_vectors:
                sentences.extend(t for c in chunks for t in chunk_sentences(c.title, c.text))
            if len(passages) + len(sentences) >= EMBED_GROUP:
                self._embed(passages, sentences)
                passages, sentences = [], []
        self._embed(passages, sentences)
        return loaded

    def _embed(self, passages: list[str], sentences: Sequence[str] = ()) -> None:
        """Encode, in one model call, the passages and sentence contexts not encoded yet."""
        new = [t for t in dict.fromkeys(passages) if t not in self._vectors]
        new_sentences = [t for t in dict.fromkeys(sentences) if t not in self._sentences]
        batch = list(dict.fromkeys(new + [t for t in new_sentences if t not in self._vectors]))
        if batch:
            self._vectors.update(zip(batch, self._embeddings.encode_passages(batch)))
        self._sentences.update((t, np.asarray(self._vectors[t], dtype=np.float16)) for t in new_sentences)
        for t in set(batch) - set(new):  # a sentence is kept as float16 only (unless it is a passage too)
            del self._vectors[t]

    def encode_passages(self, texts: list[str], show_progress: bool = False, **_: object) -> np.ndarray:
        self._embed(texts)
        return np.stack([self._vectors[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_sentences(self, texts: list[str]) -> np.ndarray:
        """float16 vectors of sentence contexts (:func:`rag.index.faiss.sentences.chunk_sentences`)."""
        self._embed([], texts)
        return np.stack([self._sentences[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float16)


def _live_entries(index_dir: Path, settings: Settings, model_id: str, rebuild: bool) -> Mapping[str, DocumentEntry] | None:
    """The live index's document entries, as far as their chunks and vectors can be kept ({} when
    none can: a new index, a rebuild, other chunking); None when it cannot be read or holds another
    model's vectors (the write transaction then reports why). Read without the write lock: a guess
    that saves work, the transaction plans again."""
    generation = None if rebuild else live_generation(index_dir)
    if generation is None:
        return {}
    try:
        manifest = read_manifest(generation)
    except IndexStoreError:
        return None
    if manifest.model_id != model_id:
        return None
    if not same_chunking(manifest, settings):
        return {}
    return manifest.documents


Load = Callable[[Mapping[str, DocumentEntry], bool], dict[str, LoadedDocument]]


def update_index(
    paths: Sequence[str | Path],
    settings: Settings,
    embeddings,
    load: Load,
    report: IngestReport,
    rebuild: bool = False,
    progress: bool = False,
    t0: float | None = None,
) -> None:
    """One FAISS write transaction: under the write lock, plan against the live index and write the next generation.

    ``load(known, reuse)`` returns the documents loaded for this change, given the live index's
    documents and whether its chunks can be reused (local ingest loads before, Ray inside, where
    it knows what is unchanged); ``embeddings`` encodes the new passages (the model, or vectors
    Ray computed).
    """
    t0 = time.perf_counter() if t0 is None else t0
    index_dir = Path(settings.index_dir)
    with write_lock(index_dir):
        old = None if rebuild or live_generation(index_dir) is None else open_for_writing(index_dir)
        try:
            check_model(old.manifest.model_id if old is not None else None, embeddings.model_id, index_dir)
            reuse = old is not None and same_chunking(old.manifest, settings)
            known = old.manifest.documents if old is not None else {}
            plan = plan_changes(known, load(known, reuse), scanned_dirs(paths), report, reuse)
            if old is not None and not report.changed and reuse:
                report.n_documents, report.n_chunks = len(old.manifest.documents), old.n_chunks
                report.unchanged = sorted(old.manifest.documents)
                return
            write_next(index_dir, old, plan, settings, embeddings, progress, report, t0)
        finally:
            if old is not None:
                old.close()
        report.unchanged = sorted(d for d, src in plan.items() if src is None)


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


def merge_at(base_rows: int, override: int | None = None) -> int:
    """Delta plus deleted chunks from which the next write merges everything into a new base segment.

    A quarter of the base, at least 1,024 (merging a small library costs little) and at most
    16,384: the delta is rewritten whole on each change, so it must stay small, while merging a
    million chunks (about two minutes) then comes once per ~16k chunks changed. ``override``
    (``Settings.merge_at``) replaces the rule: 0 merges on every write.
    """
    if override is not None:
        return override
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
    appended = _append(old, plan, settings, embeddings, progress) if old is not None and same_chunking(old.manifest, settings) else None
    if appended is not None:
        delta, deleted, collections, entries = appended
        entries = with_flags(entries, plan, old.manifest.documents)
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
        generation = write_delta_generation(index_dir, old.path, delta, deleted, collections, manifest, timings=report.stage_seconds)
        report.writer = "write_delta_generation"
        report.embedded_chunks = int((delta.reused < 0).sum())
        report.n_documents, report.n_chunks = len(entries), n_live
    else:
        data, report.embedded_chunks = _assemble(old, plan, settings, embeddings, progress)
        dim = int(data.vectors.shape[1]) if data.vectors.size else (embeddings.dim if embeddings is not None else old.manifest.dim)
        manifest = build_manifest(data, settings, model_id, dim, time.perf_counter() - t0)
        manifest.documents = with_flags(manifest.documents, plan, old.manifest.documents if old is not None else {})
        generation = write_generation(index_dir, data, manifest, timings=report.stage_seconds)
        report.writer = "write_generation"
        report.n_documents, report.n_chunks = len(data.documents), len(data.chunks)
    report.generation = generation.name


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
    if len(deleted) + n_delta > merge_at(base_rows, settings.merge_at):
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
    sentences = _sentence_rows(old, chunks, (reused < 0).tolist(), settings, embeddings)
    delta = GenerationData(documents, chunks, np.concatenate(vectors), previous=previous, reused=reused, sentences=sentences)
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
    sentences = _sentence_rows(old, chunks, (source < 0).tolist(), settings, embeddings)
    if old is None or not same_chunking(old.manifest, settings):
        return GenerationData(documents, chunks, vectors, sentences=sentences), len(fresh)
    reused_base = np.where(source < old.manifest.base_rows, source, -1)
    return GenerationData(documents, chunks, vectors, previous=old.path, reused=reused_base, sentences=sentences), len(fresh)


def _sentence_rows(old: IndexStore | None, chunks: Sequence[Chunk], fresh: Sequence[bool], settings: Settings, embeddings) -> SentenceRows | None:
    """The sentence vectors of a segment of ``chunks``: kept chunks' from ``old``, ``fresh`` ones'
    embedded (None with ``sentence_vectors`` off). An embedder without ``encode_sentences`` (Ray's
    precomputed vectors) embeds none: answers then embed those sentences at ask time."""
    if not settings.sentence_vectors:
        return None
    encode = getattr(embeddings, "encode_sentences", None)
    dim = embeddings.dim if embeddings is not None else old.manifest.dim
    previous = old.sentence_vectors if old is not None else None
    return segment_rows([(c.title, c.text) for c in chunks], fresh, previous, encode, dim)


