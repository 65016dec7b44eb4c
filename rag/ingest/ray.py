"""Distributed ingest on Ray: files are loaded, chunked and embedded on a Ray cluster.

    python -m rag ingest corpus/ --ray                      # a local Ray runtime (ray_workers CPUs)
    python -m rag ingest /shared/corpus --ray ray://head:10001 --store milvus --milvus-uri http://milvus:19530

Planning stays in the driver and is the single-process ingest's (:mod:`rag.ingest.plan`): every file
is hashed here (SHA-256 of its bytes, as the loaders do) and only new or changed files go to Ray, where
a Ray Data ``map_batches`` over an actor pool (``ray_workers`` actors, each loading the embedding model
once) parses, chunks and embeds them. Results stream back to the driver, which writes them into the
configured store: into Milvus as documents complete, into FAISS as one new generation at the end (FAISS
lives on the driver's disk). Either way the index is the one a single-process ingest would build: the
same passages, offsets and (up to float rounding) vectors.

On a remote cluster the files must be readable at the same paths on every node (a shared volume), and
the workers need this package and the ``[ray]`` extra installed (the same version as the driver).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import socket
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from rag.config import Settings
from rag.errors import DocumentError, IndexStoreError, RagError, UnsupportedFormatError
from rag.index.records import Chunk, DocumentEntry, DocumentRecord, indexed_text
from rag.ingest.loaders import SUPPORTED_EXTENSIONS, LoadedDocument, iter_paths, load_document
from rag.ingest.local import update_index
from rag.ingest.report import IngestReport
from rag.ingest.sandbox import ParseLimits, Sandbox

log = logging.getLogger(__name__)

LOCAL = ("", "local")
WRITE_CHUNKS = 256  # Milvus: passages per write while results stream in
CONNECT_TIMEOUT = 5.0  # seconds to reach a remote Ray address


class RayClusterError(RagError):
    """The Ray cluster cannot be reached or started."""


# ---------------------------------------------------------------------------------------------
# Ray side


class LoadChunkEmbed:
    """A Ray Data actor: load files, chunk them and embed the passages (the model loads once per actor).

    Input batch: ``{"path": [...]}``. Output: one row per passage, or one row per failed file
    (``kind == "error"``); the document's own fields ride on its first passage's row. Files are
    parsed in the actor's own bounded worker (:class:`rag.ingest.sandbox.Sandbox`, the driver's
    ``limits``), as in a single-process ingest: a hostile file costs its row, not the actor.
    """

    def __init__(self, model: str, chunk_chars: int, overlap_chars: int, title_prefix: bool, limits: dict[str, Any]) -> None:
        import os

        import torch

        from rag.embeddings import get_embeddings

        torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1") or 1)))
        device = "cuda" if torch.cuda.is_available() else "cpu"
        # torch here: its thread count is pinned per actor above, and the vectors are the same model's
        self.embeddings = get_embeddings(model, device=device, backend="torch")
        self.chunk_chars, self.overlap_chars, self.title_prefix = chunk_chars, overlap_chars, title_prefix
        self.sandbox = Sandbox(ParseLimits(**limits))  # its worker exits when this actor's pipe closes

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import json

        from rag.ingest.chunking import chunk_document

        rows: list[dict[str, Any]] = []
        bodies: list[str] = []
        for path in batch["path"]:
            path = str(path)
            try:
                doc = self.sandbox.load(path)
            except DocumentError as exc:
                rows.append(_row(kind="error", path=path, reason=exc.reason))
                continue
            chunks = chunk_document(doc.doc_id, doc.title, doc.text, self.chunk_chars, self.overlap_chars)
            head = dict(
                path=path, doc_id=doc.doc_id, title=doc.title, source=doc.source, content_hash=doc.content_hash,
                dates=json.dumps(doc.dates, ensure_ascii=False), n_chunks=len(chunks),
            )
            if not chunks:
                rows.append(_row(kind="doc", doc_text=doc.text, **head))
            for c in chunks:
                rows.append(_row(kind="chunk", doc_text=doc.text if c.index == 0 else "", index=c.index,
                                 start=c.start, end=c.end, text=c.text, **head))
                bodies.append(indexed_text(c.title, c.text, self.title_prefix))
        vectors = np.zeros((len(rows), self.embeddings.dim), dtype=np.float32)
        if bodies:
            mask = np.array([r["kind"] == "chunk" for r in rows])
            vectors[mask] = self.embeddings.encode_passages(bodies)
        out: dict[str, np.ndarray] = {key: np.array([r[key] for r in rows], dtype=object) for key in _ROW}
        for key in ("index", "start", "end", "n_chunks"):
            out[key] = out[key].astype(np.int64)
        out["vector"] = vectors
        out["model_id"] = np.array([self.embeddings.model_id] * len(rows), dtype=object)
        return out


_ROW = {
    "kind": "", "path": "", "reason": "", "doc_id": "", "title": "", "source": "", "content_hash": "",
    "dates": "[]", "n_chunks": 0, "doc_text": "", "index": 0, "start": 0, "end": 0, "text": "",
}


def _row(**values: Any) -> dict[str, Any]:
    return {**_ROW, **values}


# ---------------------------------------------------------------------------------------------
# Driver side


class _Prepared:
    """A document whose passages have all come back from Ray."""

    def __init__(self, loaded: LoadedDocument, chunks: list[Chunk], vectors: np.ndarray) -> None:
        self.loaded, self.chunks, self.vectors = loaded, chunks, vectors

    def as_milvus(self):
        from rag.index.milvus.schema import PreparedDocument

        d = self.loaded
        record = DocumentRecord(d.doc_id, d.title, d.source, d.content_hash, list(d.dates), d.text)
        return PreparedDocument(record, self.chunks, self.vectors, d.ocr_pages, d.encoding)


def connect_ray(address: str | None, settings: Settings) -> bool:
    """Join the Ray runtime of this process, or connect to / start one; True when started here.

    Check a remote address with :func:`_check_address` first (as :class:`_RaySession` does): Ray
    itself retries an unreachable one for minutes.
    """
    try:
        import ray
    except ImportError:
        raise RayClusterError("`--ray` needs the 'ray' extra: pip install -e '.[ray]'") from None
    address = (address or "").strip()
    if ray.is_initialized():  # a runtime this process already has (tests, notebooks, a Ray job's driver)
        return False
    common: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.ERROR, "log_to_driver": False}
    try:
        if address in LOCAL:
            ray.init(num_cpus=settings.ray_workers, **common)
        else:
            ray.init(address=address, **{k: v for k, v in common.items() if k != "include_dashboard"})
    except Exception as exc:  # ConnectionError, RuntimeError, ValueError from ray.init
        raise RayClusterError(f"cannot connect to the Ray cluster at '{address or 'local'}': {' '.join(str(exc).split())[:300]}") from None
    return True


def _check_address(address: str, timeout: float, connect: bool = True) -> None:
    """Refuse what is not a Ray address; with ``connect``, also one nothing listens at."""
    if address == "auto":
        return  # Ray finds a cluster started on this machine with `ray start`, or fails at once
    parsed = urlparse(address if "://" in address else f"gcs://{address}")
    try:
        port = parsed.port
    except ValueError:
        port = None
    if parsed.scheme not in ("gcs", "ray") or not parsed.hostname or port is None:
        hint = " (put the paths before --ray, or write --ray=ADDRESS)" if Path(address).exists() else ""
        raise RayClusterError(
            f"'{address}' is not a Ray address: use host:6379, ray://host:10001, auto, or --ray alone for a local runtime{hint}"
        )
    if not connect:
        return
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            pass
    except OSError as exc:
        raise RayClusterError(f"cannot reach the Ray cluster at '{address}' within {timeout:g} s: {exc.strerror or exc}") from None


def _quiet_ray() -> None:
    """No Ray Data progress bars or progress log lines: the driver shows its own bar (or nothing)."""
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    for name in ("ray", "ray.data", "ray.data._internal"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _scan(
    files: list[Path], known: dict[str, DocumentEntry], reuse: bool, report: IngestReport
) -> tuple[dict[str, LoadedDocument], list[Path]]:
    """Split files into unchanged ones (hash equal to the indexed one) and ones Ray must load.

    Unchanged documents get a stub (no text) that is enough for planning: they are kept as stored.
    """
    stubs: dict[str, LoadedDocument] = {}
    to_load: list[Path] = []
    seen: dict[str, Path] = {}
    for path in files:
        if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
            try:
                load_document(path)  # raises UnsupportedFormatError before reading anything
            except UnsupportedFormatError as exc:
                log.warning("skipped %s", exc)
                report.skipped.append((exc.path, exc.reason))
            continue
        doc_id = path.stem
        if doc_id in seen:
            report.errors.append((str(path), f"duplicate document id '{doc_id}' (also {seen[doc_id].resolve()}); rename one file"))
            continue
        seen[doc_id] = path
        entry = known.get(doc_id)
        if reuse and entry is not None:
            try:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                digest = None  # Ray reports the proper error
            if digest == entry.content_hash:
                stubs[doc_id] = LoadedDocument(doc_id, entry.title, "", str(path.resolve()), digest, list(entry.dates))
                continue
        to_load.append(path)
    return stubs, to_load


def _run(
    to_load: list[Path], settings: Settings, model_id: str, report: IngestReport, progress: bool, session: _RaySession
) -> Iterator[_Prepared]:
    """Load, chunk and embed ``to_load`` on Ray; yields documents as their last passage arrives."""
    import json

    from tqdm import tqdm

    if not to_load:
        return
    session.ensure()
    import ray.data
    _quiet_ray()
    given = {str(p.resolve()): str(p) for p in to_load}  # workers get absolute paths: their cwd is not ours
    ds = ray.data.from_items([{"path": path} for path in given], override_num_blocks=min(len(to_load), 200))
    ds = ds.map_batches(
        LoadChunkEmbed,
        fn_constructor_kwargs={
            "model": settings.model,
            "chunk_chars": settings.chunk_chars,
            "overlap_chars": settings.overlap_chars,
            "title_prefix": settings.title_prefix,
            "limits": dataclasses.asdict(ParseLimits.from_settings(settings)),
        },
        compute=ray.data.ActorPoolStrategy(size=max(1, min(settings.ray_workers, len(to_load)))),
        batch_size=1,
        batch_format="numpy",
        num_cpus=1,
    )
    pending: dict[str, dict[str, Any]] = {}
    bar = tqdm(total=len(to_load), desc="Ray: đọc, cắt, nhúng", unit="tài liệu", disable=not progress)
    try:
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            for i in range(len(batch["kind"])):
                kind = str(batch["kind"][i])
                if kind == "error":
                    path = str(batch["path"][i])
                    report.errors.append((given.get(path, path), str(batch["reason"][i])))
                    bar.update(1)
                    continue
                if str(batch["model_id"][i]) != model_id:
                    raise IndexStoreError(
                        f"Ray workers embed with model '{batch['model_id'][i]}' but the driver has '{model_id}': "
                        f"install the same model and package version on every node"
                    )
                doc_id = str(batch["doc_id"][i])
                entry = pending.setdefault(doc_id, {"chunks": {}, "text": None, "row": None})
                if kind == "doc" or int(batch["index"][i]) == 0:
                    entry["text"] = str(batch["doc_text"][i])
                    entry["row"] = {k: batch[k][i] for k in ("path", "title", "source", "content_hash", "dates", "n_chunks")}
                if kind == "chunk":
                    entry["chunks"][int(batch["index"][i])] = (
                        int(batch["start"][i]), int(batch["end"][i]), str(batch["text"][i]), np.asarray(batch["vector"][i], np.float32)
                    )
                row = entry["row"]
                if row is not None and len(entry["chunks"]) == int(row["n_chunks"]):
                    del pending[doc_id]
                    bar.update(1)
                    loaded = LoadedDocument(
                        doc_id, str(row["title"]), entry["text"], str(row["source"]), str(row["content_hash"]), json.loads(str(row["dates"]))
                    )
                    parts = [entry["chunks"][n] for n in range(int(row["n_chunks"]))]
                    chunks = [Chunk(doc_id, loaded.title, s, e, t, n) for n, (s, e, t, _) in enumerate(parts)]
                    dim = batch["vector"].shape[1]
                    vectors = np.stack([v for *_, v in parts]) if parts else np.zeros((0, dim), np.float32)
                    yield _Prepared(loaded, chunks, vectors)
    finally:
        bar.close()
    if pending:
        raise IndexStoreError(f"Ray returned incomplete documents: {', '.join(sorted(pending))}")


def _order(report: IngestReport, files: list[Path]) -> None:
    """Errors in file order, as the single-process ingest reports them."""
    rank = {str(p): i for i, p in enumerate(files)}
    report.errors.sort(key=lambda e: rank.get(e[0], len(rank)))


def ray_ingest(
    paths: Sequence[str | Path],
    settings: Settings,
    address: str | None = None,
    rebuild: bool = False,
    progress: bool = False,
    embeddings=None,
) -> IngestReport:
    """:func:`rag.ingest.ingest` (or the Milvus ingest, per ``settings.store``) with the work on Ray."""
    t0 = time.perf_counter()
    report = IngestReport()
    files = iter_paths(paths)  # a missing path raises before anything is touched
    index = None
    if settings.store == "milvus":
        from rag.index.milvus.client import MilvusIndex

        index = MilvusIndex.connect(settings, create=True)  # an unreachable URI fails before Ray starts
    session = _RaySession(address if address is not None else settings.ray_address, settings)
    try:
        if embeddings is None:
            from rag.embeddings import get_embeddings

            embeddings = get_embeddings(settings.model)  # the model id and dimension the workers must match
        if settings.store == "milvus":
            _into_milvus(files, paths, settings, rebuild, progress, embeddings, report, index, session)
        else:
            _into_faiss(files, paths, settings, rebuild, progress, embeddings, report, session)
    finally:
        session.close()
    _order(report, files)
    report.seconds = time.perf_counter() - t0
    return report


class _RaySession:
    """Ray for one ingest: the address is checked at once, the runtime joined or started only when
    some file needs loading (an ingest with nothing new never waits for Ray), shut down if started here."""

    def __init__(self, address: str | None, settings: Settings) -> None:
        try:
            import ray
        except ImportError:
            raise RayClusterError("`--ray` needs the 'ray' extra: pip install -e '.[ray]'") from None
        self.address, self.settings, self.started, self.ready = address, settings, False, False
        address = (address or "").strip()
        if address not in LOCAL:
            _check_address(address, CONNECT_TIMEOUT, connect=not ray.is_initialized())

    def ensure(self) -> None:
        if not self.ready:
            self.started = connect_ray(self.address, self.settings)
            self.ready = True

    def close(self) -> None:
        if self.started:
            import ray

            ray.shutdown()
            self.started = False


def _loaded_in_file_order(files: list[Path], stubs: dict[str, LoadedDocument], fresh: dict[str, _Prepared]) -> dict[str, LoadedDocument]:
    loaded: dict[str, LoadedDocument] = {}
    for path in files:
        doc_id = path.stem
        if doc_id in loaded:
            continue
        if doc_id in stubs:
            loaded[doc_id] = stubs[doc_id]
        elif doc_id in fresh and Path(fresh[doc_id].loaded.source) == path.resolve():
            loaded[doc_id] = fresh[doc_id].loaded
    return loaded


def _into_faiss(files, paths, settings: Settings, rebuild: bool, progress: bool, embeddings, report: IngestReport, session) -> None:
    """The single-process FAISS write transaction (:func:`rag.ingest.local.update_index`) with Ray's vectors."""
    precomputed = _Precomputed(settings, embeddings)

    def load(known, reuse: bool) -> dict[str, LoadedDocument]:
        stubs, to_load = _scan(files, known, reuse, report)
        fresh = {p.loaded.doc_id: p for p in _run(to_load, settings, embeddings.model_id, report, progress, session)}
        precomputed.add(fresh)
        return _loaded_in_file_order(files, stubs, fresh)

    update_index(paths, settings, precomputed, load, report, rebuild)


class _Precomputed:
    """Hands ``write_next`` the vectors Ray computed, looked up by the passage's indexed text."""

    def __init__(self, settings: Settings, embeddings) -> None:
        self.model_id, self.dim, self.title_prefix = embeddings.model_id, embeddings.dim, settings.title_prefix
        self._vectors: dict[str, np.ndarray] = {}

    def add(self, fresh: dict[str, _Prepared]) -> None:
        for p in fresh.values():
            for chunk, vector in zip(p.chunks, p.vectors):
                self._vectors[indexed_text(chunk.title, chunk.text, self.title_prefix)] = vector

    def encode_passages(self, texts: list[str], **_: Any) -> np.ndarray:
        try:
            return np.stack([self._vectors[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)
        except KeyError:
            raise IndexStoreError(
                "the Ray workers cut passages differently from this driver: install the same version of this "
                "package on every node"
            ) from None


def _into_milvus(files, paths, settings: Settings, rebuild: bool, progress: bool, embeddings, report: IngestReport, index, session) -> None:
    from rag.ingest.milvus import MilvusIngest

    job = MilvusIngest(settings, embeddings.model_id, embeddings.dim, rebuild, index)
    try:
        stubs, to_load = _scan(files, job.old.documents if job.old is not None else {}, job.reuse, report)
        fresh: dict[str, _Prepared] = {}
        if to_load:
            job.start()
            group: list[_Prepared] = []
            for prepared in _run(to_load, settings, embeddings.model_id, report, progress, session):
                fresh[prepared.loaded.doc_id] = prepared
                group.append(prepared)
                if sum(len(p.chunks) for p in group) >= WRITE_CHUNKS:
                    job.put([p.as_milvus() for p in group])
                    group = []
            job.put([p.as_milvus() for p in group])
        plan = job.plan(_loaded_in_file_order(files, stubs, fresh), paths, report)
        report.unchanged = sorted(d for d, src in plan.items() if src is None)
        if not to_load and job.nothing_to_do(report):
            report.n_documents, report.n_chunks = job.counts()
            return
        if job.writer is None:
            job.start()
        job.finish(report)
    except BaseException:
        job.abort()
        raise
    report.embedded_chunks = sum(len(p.chunks) for p in fresh.values())
    report.n_documents, report.n_chunks = job.counts()
