"""The index backend named by ``settings.store`` ("faiss" or "milvus"), behind four functions.

The CLI goes through these (and :func:`rag.retrieve.load_retriever` for search), so that every command
works the same with the embedded FAISS index and with Milvus; the app's service can do the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from .config import Settings
from .ingest import IngestReport


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
        from .ray_ingest import ray_ingest

        return ray_ingest(paths, settings, address=ray_address, rebuild=rebuild, progress=progress, embeddings=embeddings)
    if settings.store == "milvus":
        from .milvus_store import ingest_milvus

        return ingest_milvus(paths, settings, rebuild=rebuild, progress=progress, embeddings=embeddings)
    from .ingest import ingest

    return ingest(paths, settings, rebuild=rebuild, progress=progress, embeddings=embeddings)


def delete_any(doc_ids: Iterable[str], settings: Settings) -> IngestReport:
    """Remove documents by id from the configured store."""
    if settings.store == "milvus":
        from .milvus_store import delete_milvus

        return delete_milvus(doc_ids, settings)
    from .ingest import delete_documents

    return delete_documents(doc_ids, settings)


def open_library(settings: Settings):
    """The configured index for listing: an object with ``manifest`` (documents, model id) and ``n_chunks``."""
    if settings.store == "milvus":
        from .milvus_store import MilvusIndex

        index = MilvusIndex.connect(settings)
        index.require()
        return index
    from .store import open_index

    return open_index(settings.index_dir)


def index_exists(settings: Settings) -> bool:
    """Whether the configured store already holds an index (the app builds one from corpus/ if not)."""
    if settings.store == "milvus":
        from .milvus_store import MilvusIndex, is_local_uri

        if is_local_uri(settings.milvus_uri) and not Path(settings.milvus_uri).exists():
            return False
        return MilvusIndex.connect(settings).exists()
    from .store import live_generation

    return live_generation(Path(settings.index_dir)) is not None
