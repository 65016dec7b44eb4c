"""Ingest: files → normalised Vietnamese text → sentence-aligned chunks → the index (FAISS, Milvus or via Ray).

:mod:`~rag.ingest.loaders` parse files, :mod:`~rag.ingest.chunking` cuts passages with exact offsets,
:mod:`~rag.ingest.plan` decides what changes (shared by every backend), :mod:`~rag.ingest.local`
writes FAISS generations, :mod:`~rag.ingest.milvus` and :mod:`~rag.ingest.ray` the scale-out paths.
Pick a backend with :func:`rag.backend.ingest_any`.
"""

from rag.ingest.report import IngestReport

__all__ = ["IngestReport"]
