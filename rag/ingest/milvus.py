"""Ingest, delete and migrate into Milvus: the FAISS ingest's semantics (:mod:`rag.ingest.plan`), written in place."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from rag.config import Settings
from rag.errors import DocumentError, IndexStoreError
from rag.index.milvus.client import MilvusIndex
from rag.index.milvus.schema import PreparedDocument, make_meta
from rag.index.milvus.writer import MilvusWriter
from rag.index.records import Chunk, DocumentRecord, Manifest, indexed_text
from rag.ingest.chunking import chunk_document
from rag.ingest.loaders import LoadedDocument, iter_paths
from rag.ingest.plan import load_all, plan_changes, same_chunking, scanned_dirs
from rag.ingest.report import IngestReport


def prepare_documents(docs: Sequence[LoadedDocument], settings: Settings, embeddings, progress: bool = False) -> list[PreparedDocument]:
    """Chunk and embed documents (in this process)."""
    chunked = [(doc, chunk_document(doc.doc_id, doc.title, doc.text, settings.chunk_chars, settings.overlap_chars)) for doc in docs]
    texts = [indexed_text(c.title, c.text, settings.title_prefix) for _, chunks in chunked for c in chunks]
    vectors = embeddings.encode_passages(texts, show_progress=progress) if texts else np.zeros((0, embeddings.dim), np.float32)
    out, at = [], 0
    for doc, chunks in chunked:
        record = DocumentRecord(doc.doc_id, doc.title, doc.source, doc.content_hash, list(doc.dates), doc.text)
        out.append(PreparedDocument(record, chunks, vectors[at : at + len(chunks)], doc.ocr_pages, doc.encoding))
        at += len(chunks)
    return out


class MilvusIngest:
    """One ingest into Milvus, shared by the in-process and the Ray paths.

    :meth:`plan` opens the index and decides what changes (with :func:`rag.ingest.plan.plan_changes`, as the FAISS
    ingest does); :meth:`put` writes prepared documents as they come; :meth:`finish` removes what is gone
    and makes everything live.
    """

    def __init__(self, settings: Settings, model_id: str, dim: int, rebuild: bool = False, index: MilvusIndex | None = None) -> None:
        self.settings = settings
        self.index = index or MilvusIndex.connect(settings, create=True)
        self.model_id, self.dim, self.rebuild = model_id, dim, rebuild
        self.old: Manifest | None = None
        if not rebuild and self.index.exists():
            self.index.check_model(model_id, dim)
            self.old = self.index.manifest
        self.reuse = self.old is not None and same_chunking(self.old, settings)
        self.writer: MilvusWriter | None = None

    def plan(self, loaded: dict[str, LoadedDocument], paths: Sequence[str | Path], report: IngestReport) -> dict[str, LoadedDocument | None]:
        known = self.old.documents if self.old is not None else {}
        return plan_changes(known, loaded, scanned_dirs(paths), report, self.reuse)

    def nothing_to_do(self, report: IngestReport) -> bool:
        return self.old is not None and self.reuse and not report.changed

    def start(self) -> None:
        meta = make_meta(self.model_id, self.dim, self.settings)
        if self.old is not None:
            meta["dense_kind"] = self.index.meta().get("dense_kind", meta["dense_kind"])
        self.writer = MilvusWriter(self.index, meta, fresh=self.old is None)

    def put(self, items: Sequence[PreparedDocument]) -> None:
        assert self.writer is not None
        self.writer.put(items)

    def finish(self, report: IngestReport) -> None:
        assert self.writer is not None
        self.writer.remove(report.removed)
        report.generation = self.writer.commit()

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()

    def counts(self) -> tuple[int, int]:
        manifest = self.index.manifest
        return len(manifest.documents), manifest.n_chunks


def ingest_milvus(
    paths: Sequence[str | Path],
    settings: Settings,
    rebuild: bool = False,
    progress: bool = False,
    embeddings=None,
    batch_chunks: int = 512,
) -> IngestReport:
    """Bring the Milvus index in line with ``paths``: the FAISS ingest's semantics, written in place."""
    t0 = time.perf_counter()
    report = IngestReport()
    files = iter_paths(paths)
    index = MilvusIndex.connect(settings, create=True)  # an unreachable URI fails before any work
    loaded = load_all(files, report, progress, settings)
    if embeddings is None:
        from rag.embeddings import get_embeddings

        embeddings = get_embeddings(settings.model, backend=settings.embed_backend)
    job = MilvusIngest(settings, embeddings.model_id, embeddings.dim, rebuild, index)
    try:
        plan = job.plan(loaded, paths, report)
        report.unchanged = sorted(d for d, src in plan.items() if src is None)
        if job.nothing_to_do(report):
            report.n_documents, report.n_chunks = job.counts()
            report.seconds = time.perf_counter() - t0
            return report
        job.start()
        todo = [plan[d] for d in sorted(plan) if plan[d] is not None]
        bar = _progress(progress, sum(1 for _ in todo), "Nhúng tài liệu")
        for group in _document_groups(todo, settings, batch_chunks):
            prepared = prepare_documents(group, settings, embeddings)
            job.put(prepared)
            report.embedded_chunks += sum(len(p.chunks) for p in prepared)
            bar.update(len(group))
        bar.close()
        job.finish(report)
    except BaseException:
        job.abort()
        raise
    report.n_documents, report.n_chunks = job.counts()
    report.seconds = time.perf_counter() - t0
    return report


def _progress(enabled: bool, total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="tài liệu", disable=not enabled)


def _document_groups(docs: Sequence[LoadedDocument], settings: Settings, batch_chunks: int) -> Iterator[list[LoadedDocument]]:
    """Documents in groups of roughly ``batch_chunks`` passages (estimated from their length)."""
    step = max(1, settings.chunk_chars - settings.overlap_chars)
    group: list[LoadedDocument] = []
    size = 0
    for doc in docs:
        group.append(doc)
        size += len(doc.text) // step + 1
        if size >= batch_chunks:
            yield group
            group, size = [], 0
    if group:
        yield group


def delete_milvus(doc_ids: Iterable[str], settings: Settings) -> IngestReport:
    """Remove documents by id from the Milvus index."""
    t0 = time.perf_counter()
    report = IngestReport()
    wanted = sorted(set(doc_ids))
    index = MilvusIndex.connect(settings)
    index.require()
    manifest = index.manifest
    missing = [d for d in wanted if d not in manifest.documents]
    if missing:
        raise DocumentError(", ".join(missing), "no such document in the index")
    writer = MilvusWriter(index, index.meta(), fresh=False)
    writer.remove(wanted)
    report.generation = writer.commit()
    report.removed = wanted
    after = index.manifest
    report.n_documents, report.n_chunks = len(after.documents), after.n_chunks
    report.seconds = time.perf_counter() - t0
    return report


def migrate_faiss_to_milvus(settings: Settings, index_dir: str | Path | None = None, progress: bool = False) -> IngestReport:
    """Copy a FAISS index (chunks and vectors, no re-embedding) into Milvus, replacing what is there."""
    from rag.index.faiss.store import open_index

    t0 = time.perf_counter()
    report = IngestReport()
    store = open_index(index_dir or settings.index_dir)
    try:
        m = store.manifest
        meta = make_meta(m.model_id, m.dim, settings, m.title_prefix, m.chunk_chars, m.overlap_chars)
        index = MilvusIndex.connect(settings, create=True)
        writer = MilvusWriter(index, meta, fresh=True)
        try:
            rows = store.chunk_ids_by_document()
            vectors = store.vectors()
            bar = _progress(progress, len(m.documents), "Chép sang Milvus")
            batch: list[PreparedDocument] = []
            size = 0
            for doc_id in sorted(m.documents):
                record = store.document(doc_id)
                if record is None:
                    raise IndexStoreError(f"corrupt index at {store.path}: document '{doc_id}' is missing its text")
                ids = rows.get(doc_id, [])
                chunks = [Chunk(doc_id, record.title, c.start, c.end, c.text, i) for i, c in enumerate(store.chunks(ids))]
                entry = m.documents[doc_id]
                batch.append(PreparedDocument(record, chunks, np.asarray(vectors[ids], dtype=np.float32), entry.ocr_pages, entry.legacy_encoding))
                size += len(ids)
                if size >= 1000:
                    writer.put(batch)
                    bar.update(len(batch))
                    batch, size = [], 0
            writer.put(batch)
            bar.update(len(batch))
            bar.close()
            report.generation = writer.commit()
        except BaseException:
            writer.abort()
            raise
        report.added = sorted(m.documents)
        report.n_documents, report.n_chunks = len(m.documents), m.n_chunks
    finally:
        store.close()
    report.seconds = time.perf_counter() - t0
    return report
