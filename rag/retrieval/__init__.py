"""Retrieval: dense + BM25 (accented and folded) fused by reciprocal rank, as a LangChain ``BaseRetriever``.

:class:`~rag.retrieval.hybrid.HybridRetriever` searches the FAISS store;
:class:`~rag.retrieval.milvus.MilvusRetriever` gives the same output on Milvus. Build one with
:func:`rag.backend.load_retriever`.
"""

from rag.retrieval.hybrid import Hit, HybridRetriever, SearchResult, reciprocal_rank_fusion

__all__ = ["Hit", "HybridRetriever", "SearchResult", "reciprocal_rank_fusion"]
