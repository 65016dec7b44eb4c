"""The one place that picks the index backend named by ``settings.store``: "faiss" (embedded) or "milvus".

Everything above this module (the service, the CLI, eval, bench) writes, opens and searches an
index through these functions and never imports a backend itself, so every command works the same
with the embedded FAISS index and with Milvus. ``ray=True`` runs an ingest's work on a Ray cluster
into either backend. Backends are imported on first use: the Milvus and Ray extras are optional.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.ingest.report import IngestReport
from rag.retrieval.hybrid import HybridRetriever, Mode


def ingest_any(
    paths: Sequence[str | Path],
    settings: Settings,
    rebuild: bool = False,
    progress: bool = False,
    embeddings=None,
    ray: bool = False,
    ray_address: str | None = None,
) -> IngestReport:
    """Incremental ingest into the configured store; ``ray=True`` does the work on a Ray cluster."""
    if ray:
        from rag.ingest.ray import ray_ingest

        return ray_ingest(paths, settings, address=ray_address, rebuild=rebuild, progress=progress, embeddings=embeddings)
    if settings.store == "milvus":
        from rag.ingest.milvus import ingest_milvus

        return ingest_milvus(paths, settings, rebuild=rebuild, progress=progress, embeddings=embeddings)
    from rag.ingest.local import ingest

    return ingest(paths, settings, rebuild=rebuild, progress=progress, embeddings=embeddings)


def delete_any(doc_ids: Iterable[str], settings: Settings) -> IngestReport:
    """Remove documents by id from the configured store."""
    if settings.store == "milvus":
        from rag.ingest.milvus import delete_milvus

        return delete_milvus(doc_ids, settings)
    from rag.ingest.local import delete_documents

    return delete_documents(doc_ids, settings)


def migrate_to_milvus(settings: Settings, progress: bool = False) -> IngestReport:
    """Copy the FAISS index at ``settings.index_dir`` into the Milvus at ``settings.milvus_uri`` (no re-embedding)."""
    from rag.ingest.milvus import migrate_faiss_to_milvus

    return migrate_faiss_to_milvus(settings, settings.index_dir, progress=progress)


def open_library(settings: Settings) -> Any:
    """The configured index for listing: an object with ``manifest`` (documents, model id) and ``n_chunks``."""
    if settings.store == "milvus":
        from rag.index.milvus.client import MilvusIndex

        index = MilvusIndex.connect(settings)
        index.require()
        return index
    from rag.index.faiss.store import open_index

    return open_index(settings.index_dir)


def index_exists(settings: Settings) -> bool:
    """Whether the configured store already holds an index (the app builds one from corpus/ if not)."""
    if settings.store == "milvus":
        from rag.index.milvus.client import MilvusIndex, is_local_uri

        if is_local_uri(settings.milvus_uri) and not Path(settings.milvus_uri).exists():
            return False
        return MilvusIndex.connect(settings).exists()
    from rag.index.faiss.generations import live_generation

    return live_generation(Path(settings.index_dir)) is not None


def live_marker(settings: Settings) -> str | None:
    """A cheap token that changes whenever another process makes a new generation live (FAISS: the
    CURRENT pointer's content); None where there is nothing to follow (Milvus, no index yet)."""
    if settings.store == "milvus":
        return None
    from rag.index.faiss.generations import live_generation

    try:
        live = live_generation(Path(settings.index_dir))
    except OSError:  # CURRENT replaced while being read: look again next time
        return None
    return None if live is None else live.name


def clean_orphans(settings: Settings) -> list[str]:
    """Remove what interrupted FAISS writes left behind (``.tmp-gen-*``), when no writer holds the
    index's lock; the names removed. Nothing to do for Milvus."""
    if settings.store == "milvus":
        return []
    import fcntl
    import shutil

    from rag.index.faiss.generations import CURRENT

    index_dir = Path(settings.index_dir)
    if not (index_dir / ".lock").is_file():
        return []
    removed: list[str] = []
    with open(index_dir / ".lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # a write is in progress: its temporary files are not orphans
            return []
        try:
            for path in index_dir.iterdir():
                if path.name.startswith(".tmp-gen-"):
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path.name)
                elif path.name.startswith(f".{CURRENT}."):
                    path.unlink(missing_ok=True)
                    removed.append(path.name)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return removed


def load_retriever(settings: Settings, mode: Mode = "hybrid", store: Any = None) -> HybridRetriever:
    """A retriever over the configured index with its embedding model (loaded once per process).

    FAISS gives a :class:`~rag.retrieval.hybrid.HybridRetriever`, Milvus its subclass
    :class:`~rag.retrieval.milvus.MilvusRetriever`: the same ``search()`` and LangChain output.
    ``store`` reuses an index already open. An index built with another model is refused.
    """
    from rag.embeddings import get_embeddings

    if settings.store == "milvus":
        from rag.index.milvus.client import MilvusIndex
        from rag.retrieval.milvus import MilvusRetriever

        store = store or MilvusIndex.connect(settings)  # an unreachable URI fails before the model loads
        store.meta()
        embeddings = get_embeddings(settings.model, backend=settings.embed_backend)
        store.check_model(embeddings.model_id, embeddings.dim, action="rebuild with `python -m rag ingest corpus/ --store milvus --rebuild`")
        return MilvusRetriever.over(store, embeddings, settings, mode)
    from rag.index.faiss.store import open_index

    embeddings = get_embeddings(settings.model, backend=settings.embed_backend)
    # BM25 memory-mapped: a large index opens at once and keeps resident only the postings searches touch.
    store = store or open_index(settings.index_dir, model_id=embeddings.model_id, mmap=True)
    return HybridRetriever.over(store, embeddings, settings, mode)
