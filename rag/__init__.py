"""Hỏi Đáp Y Tế: grounded, cited answers to Vietnamese questions over health-department reports.

The public API (what the CLI, the web app, ``eval/``, ``bench/`` and the docs use)::

    from rag import Settings, Assistant, get_settings
    assistant = Assistant(get_settings(index_dir="index"))
    assistant.ensure_index()                 # build index/ from corpus/ when missing
    answer = assistant.ask("Ai là giám đốc Sở Y tế Quảng Ninh?")
    print(answer.answer, answer.citations[0].quote)

Names are imported on first use, so ``import rag`` stays cheap (the app's cold start).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Settings": "rag.config",
    "get_settings": "rag.config",
    "Assistant": "rag.service",
    "DocumentInfo": "rag.service",
    "Answer": "rag.answer.chain",
    "AnswerChain": "rag.answer.chain",
    "Citation": "rag.answer.chain",
    "build_answer_chain": "rag.answer.chain",
    "ingest": "rag.backend",  # alias of ingest_any below
    "ingest_any": "rag.backend",
    "delete_any": "rag.backend",
    "index_exists": "rag.backend",
    "open_library": "rag.backend",
    "load_retriever": "rag.backend",
    "IngestReport": "rag.ingest.report",
    "HybridRetriever": "rag.retrieval.hybrid",
    "SearchResult": "rag.retrieval.hybrid",
    "get_embeddings": "rag.embeddings",
    "RagError": "rag.errors",
    "QueryError": "rag.errors",
    "DocumentError": "rag.errors",
    "IndexStoreError": "rag.errors",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from rag.answer.chain import Answer, AnswerChain, Citation, build_answer_chain
    from rag.backend import delete_any, index_exists, ingest_any, load_retriever, open_library
    from rag.backend import ingest_any as ingest
    from rag.config import Settings, get_settings
    from rag.embeddings import get_embeddings
    from rag.errors import DocumentError, IndexStoreError, QueryError, RagError
    from rag.ingest.report import IngestReport
    from rag.retrieval.hybrid import HybridRetriever, SearchResult
    from rag.service import Assistant, DocumentInfo


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), "ingest_any" if name == "ingest" else name)
    globals()[name] = value
    return value
