"""Hybrid retrieval on Milvus: the same ``search()``, ``SearchResult`` and ``Document`` output as on FAISS.

A :class:`~rag.retrieval.filters.SearchFilter` becomes a boolean expression on ``doc_id`` given to
every search request (Milvus filters before it ranks), so a filtered search still returns ``k``.

A question naming a period gets the same boost as on FAISS (:mod:`rag.retrieval.period`): with the
server's fusion, Milvus returns ``fetch`` fused passages instead of ``k`` and the boost reorders them here.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import ConfigDict, PrivateAttr

from rag.embeddings.query_cache import query_vector
from rag.index.milvus.schema import bm25_text, in_filter
from rag.retrieval.filters import SearchFilter
from rag.index.records import ChunkRecord
from rag.query.question import Question
from rag.retrieval.hybrid import Hit, HybridRetriever, SearchResult, elapsed_ms, reciprocal_rank_fusion, report_words, retriever_weights
from rag.retrieval.period import asked_years, newest_year
from rag.text import tokenize, tokenize_folded


class MilvusRetriever(HybridRetriever):
    """:class:`HybridRetriever` on Milvus: the same ``search()``/``SearchResult``/``Document`` output.

    ``fusion="server"`` (default) runs one ``hybrid_search`` whose RRF ranker (k = ``rrf_k``) fuses the
    dense, BM25 and folded-BM25 rankings inside Milvus; Milvus does not report each retriever's own
    rank, so ``Hit.ranks`` has the same keys with ``None`` values. ``fusion="client"`` runs the three
    searches and fuses them here with :func:`~rag.retrieval.hybrid.reciprocal_rank_fusion`, reporting ranks.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    fusion: Literal["server", "client"] = "server"
    _doc_meta: dict[str, tuple[str, list[str], str]] = PrivateAttr(default_factory=dict)  # doc id → hash, dates, source

    def search(self, query: str | Question, k: int | None = None, search_filter: SearchFilter | None = None) -> SearchResult:
        query = self.clean_query(query)  # a Question's text: restoration is off on Milvus
        k = k or self.k
        fetch = max(self.fetch_k, k)
        timings: dict[str, float] = {}
        expr = ""
        if search_filter or self.search_filter:
            t = time.perf_counter()
            allowed = self.allowed_documents(search_filter or self.search_filter)
            timings["filter"] = elapsed_ms(t)
            if allowed is not None and not allowed:
                return SearchResult([], timings)
            expr = in_filter("doc_id", sorted(allowed)) if allowed is not None else ""
        vector = None
        if self.mode in ("hybrid", "dense"):
            t = time.perf_counter()
            vector = query_vector(self.embeddings, query)
            timings["embed"] = elapsed_ms(t)
        tokens = folded = ""
        if self.mode in ("hybrid", "bm25"):
            tokens, folded = bm25_text(tokenize(query)), bm25_text(tokenize_folded(report_words(query)))
        # The same per-query weights as the FAISS retriever; a weight of 0 leaves a retriever out.
        weights = retriever_weights(query) if self.mode == "hybrid" else {}
        if weights.get("bm25", 1.0) <= 0:
            tokens = ""
        if weights.get("bm25_folded", 1.0) <= 0:
            folded = ""
        if weights.get("dense", 1.0) <= 0:
            vector = None
        names = [n for n, on in (("dense", vector is not None), ("bm25", bool(tokens)), ("bm25_folded", bool(folded))) if on]
        t = time.perf_counter()
        if self.fusion == "server" and all(weights.get(n, 1.0) == 1.0 for n in names):
            period = self.mode == "hybrid" and self.period_boost > 0 and bool(asked_years(query, 0))  # 0: any relative year counts
            found = self.store.hybrid_search(vector, tokens, folded, fetch, fetch if period else k, self.rrf_k, expr)
            timings["milvus"] = elapsed_ms(t)
            if period:
                found = self._boost_found(query, found, k)
            positions: dict[str, dict[int, int]] = {name: {} for name in names}
        else:
            rankings = self.store.ranked_ids(vector, tokens, folded, fetch, expr)
            timings["milvus"] = elapsed_ms(t)
            t = time.perf_counter()
            fused = reciprocal_rank_fusion(rankings, self.rrf_k, weights or None)
            if self.mode == "hybrid":
                fused = self.prefer_period(query, fused, k)
            fused = fused[:k]
            scores = dict(fused)
            found = [(scores[r.chunk_id], r, h) for r, h in self.store.chunks_with_hash([cid for cid, _ in fused])]
            positions = {name: {cid: r for r, cid in enumerate(ids, start=1)} for name, ids in rankings.items()}
            timings["fusion"] = elapsed_ms(t)
        hits = [
            Hit(record, score, rank, {name: pos.get(record.chunk_id) for name, pos in positions.items()})
            for rank, (score, record, _) in enumerate(found, start=1)
        ]
        t = time.perf_counter()
        self._remember([(record.doc_id, content_hash) for _, record, content_hash in found])
        timings["documents"] = elapsed_ms(t)
        return SearchResult(hits, timings)

    def _boost_found(self, query: str, found: list[tuple[float, ChunkRecord, str]], k: int) -> list[tuple[float, ChunkRecord, str]]:
        """The server's fused passages with the period boost, best ``k``."""
        self._remember([(record.doc_id, content_hash) for _, record, content_hash in found])
        by_id = {record.chunk_id: (record, content_hash) for _, record, content_hash in found}
        fused = self.prefer_period(query, [(record.chunk_id, score) for score, record, _ in found], k, {c: r for c, (r, _) in by_id.items()})
        return [(score, *by_id[cid]) for cid, score in fused[:k]]

    def _period_library(self) -> tuple[object, Any]:
        # the meta object changes when this process writes or refreshes it; the manifest is read
        # live from Milvus (all documents), so only when a question names a relative year
        return self.store.meta(), lambda: newest_year(self.store.manifest.documents)

    def _period_records(self, ids: list[int]) -> list[ChunkRecord]:
        with_hash = self.store.chunks_with_hash(ids)
        self._remember([(record.doc_id, content_hash) for record, content_hash in with_hash])
        return [record for record, _ in with_hash]

    def _remember(self, docs: list[tuple[str, str]]) -> None:
        """Fetch the dates and source of documents not cached at this content hash (so never stale)."""
        cache = self._doc_meta
        wanted = sorted({d for d, h in docs if cache.get(d, ("",))[0] != h})
        if not wanted:
            return
        if len(cache) > 10_000:
            cache.clear()
        cache.update(self.store.document_meta(wanted))

    def _dates_and_source(self, doc_id: str) -> tuple[list[str], str]:
        _, dates, source = self._doc_meta.get(doc_id, ("", [], ""))
        return list(dates), source
