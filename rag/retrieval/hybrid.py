"""Hybrid retrieval: dense (FAISS) + BM25 on accented and on folded tokens, fused by reciprocal rank.

An accent-less Vietnamese question is embedded with its accents restored (``store.restorer``,
:mod:`rag.query.restore`): the embedding of "benh vien" is a poor one. Folded BM25 keeps the question
as typed; accented BM25, off for accent-less questions otherwise, reads the restored one.

Exposed as a LangChain ``BaseRetriever`` returning ``Document``s whose ``page_content`` is the exact
passage (``doc_text[start:end]``) and whose metadata carries ids, offsets and scores.

A :class:`~rag.retrieval.filters.SearchFilter` (``search_filter``, or the ``search`` argument)
restricts every list to the allowed documents' chunks inside its retriever (FAISS ID selector,
BM25 over the allowed rows), before fusion: a filtered search still returns ``k`` passages.

``invoke`` takes a plain string (the LangChain contract) or an analysed
:class:`~rag.query.question.Question`, whose restored form is then used instead of restoring it again.

A question naming a year or a period ("năm 2024", "quý I/2024", "năm nay") adds ``period_boost``
to the fused score of passages of that period (:mod:`rag.retrieval.period`): a preference, not a filter.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar, Literal

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr

from rag.config import Settings
from rag.embeddings.query_cache import query_vector
from rag.errors import QueryError
from rag.index.faiss.sparse import bm25_top_k
from rag.index.records import ChunkRecord
from rag.lang.english import looks_english
from rag.query.analysis import analyze
from rag.query.question import Question
from rag.retrieval.filters import SearchFilter
from rag.retrieval.period import PassagePeriods, asked_years, boosted, newest_year
from rag.text import collapse_whitespace, has_diacritics, tokenize, tokenize_folded

Mode = Literal["hybrid", "dense", "bm25"]
LEXICAL = {"bm25": tokenize, "bm25_folded": tokenize_folded}  # store attribute -> query tokenizer


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="bm25")


@dataclass
class Hit:
    """One fused result: the passage, its fused score and its rank in each retriever (None = absent)."""

    chunk: ChunkRecord
    score: float
    rank: int
    ranks: dict[str, int | None]
    similarity: float | None = None  # cosine of the query and the passage when in the dense list


@dataclass
class SearchResult:
    hits: list[Hit]
    timings_ms: dict[str, float] = field(default_factory=dict)
    restored_query: str | None = None  # the accent-restored query the dense list used, if any


def reciprocal_rank_fusion(rankings: dict[str, list[int]], k: int, weights: dict[str, float] | None = None) -> list[tuple[int, float]]:
    """Fuse ranked id lists: score(id) = Σ weight / (k + rank), rank 1-based; best first, ties by id."""
    scores: dict[int, float] = {}
    for name, ids in rankings.items():
        weight = 1.0 if weights is None else weights.get(name, 1.0)
        for rank, cid in enumerate(ids, start=1):
            scores[cid] = scores.get(cid, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def retriever_weights(query: str, restored: bool = False) -> dict[str, float]:
    """Which lexical signals to trust for this query (measured on eval/gold.jsonl).

    Accent-less questions match accented BM25 only by accident ("bao", "nam"), so that list is
    noise, and the embedding of an accent-less question is a poor one (the diacritics carry the
    meaning), so folded BM25 counts twice as much as dense there: "Benh vien Bai Chay kham bao
    nhieu luot nguoi?" finds its passage at rank 4 instead of 7 (dense alone: 14), and gold hit@1
    rises 0.663 -> 0.685 with nothing lower. English questions share no words with Vietnamese
    reports except names, so accented BM25 is off for them and folded BM25 reads the question's
    report words instead (:func:`report_words`: glossary translations, names, numbers). On the
    English dev questions (eval/train and the dev half of eval/gold: 19), against dense alone:
    hit@5 0.842 -> 1.000, MRR@10 0.574 -> 0.661 (at weight 0.5: hit@5 0.947, MRR@10 0.613).

    ``restored``: an accent-less question whose accents were restored (:mod:`rag.query.restore`):
    dense embeds the restored text and counts fully again, and accented BM25 on the restored text
    adds half. On the folded dev questions (eval/train and the dev half of eval/gold: 254), against
    dense (restored) at 0.5 without accented BM25: hit@1 0.803 -> 0.843, first evidence in the top 5
    0.980 -> 0.988, MRR@10 0.881 -> 0.905 (accented BM25 at 1.0: hit@1 0.815).
    ``python -m eval.restoration`` gives hit@5 with restoration off and on.
    """
    if looks_english(query):
        return {"dense": 1.0, "bm25": 0.0, "bm25_folded": 1.0}
    if restored:
        return {"dense": 1.0, "bm25": 0.5, "bm25_folded": 1.0}
    if not has_diacritics(query):
        return {"dense": 0.5, "bm25": 0.0, "bm25_folded": 1.0}
    return {"dense": 1.0, "bm25": 1.0, "bm25_folded": 1.0}


def report_words(query: str, analysed: Question | None = None) -> str:
    """What folded BM25 reads for ``query``: an English question as the words a Vietnamese report
    would use (its analysed keywords: glossary translations, names and numbers, folded), any
    other question as typed. ``analysed``: the Question of ``query``, whose analysis is reused."""
    if not looks_english(query):
        return query
    kind = analysed.type if analysed is not None else analyze(query)
    return " ".join(kind.keywords_folded) or query


class HybridRetriever(BaseRetriever):
    """Search an :class:`IndexStore` with dense, BM25 or both (``mode``)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    accepts_question: ClassVar[bool] = True  # invoke/search take a Question as well as a str

    store: Any
    embeddings: Any
    k: int = 5
    fetch_k: int = 30
    rrf_k: int = 60
    mode: Mode = "hybrid"
    max_query_chars: int = 2000
    restore: bool = True  # embed accent-less questions with their accents restored
    search_filter: SearchFilter | None = None  # the documents every search is restricted to (None: all)
    # added to the fused score of passages of the period the question names, in units of one
    # retriever's rank-1 score 1/(rrf_k + 1); chosen on gold dev + eval/train (see period_boost_value)
    period_boost: float = 0.5
    _allowed: dict[SearchFilter, np.ndarray | None] = PrivateAttr(default_factory=dict)  # filter → allowed chunk ids
    _periods: PassagePeriods = PrivateAttr(default_factory=PassagePeriods)

    @classmethod
    def over(cls, store: Any, embeddings: Any, settings: Settings, mode: Mode = "hybrid") -> HybridRetriever:
        """A retriever over ``store`` with the search parameters of ``settings``."""
        return cls(
            store=store,
            embeddings=embeddings,
            k=settings.top_k,
            fetch_k=settings.fetch_k,
            rrf_k=settings.rrf_k,
            mode=mode,
            max_query_chars=settings.max_question_chars,
        )

    def clean_query(self, query: str | Question) -> str:
        """The query (a Question's text) with whitespace collapsed; a :class:`QueryError` when empty or too long."""
        query = collapse_whitespace(query.text if isinstance(query, Question) else query)
        if not query:
            raise QueryError("Câu hỏi trống / the question is empty")
        if len(query) > self.max_query_chars:
            raise QueryError(f"Câu hỏi quá dài / the question is longer than {self.max_query_chars} characters")
        return query

    def restore_query(self, query: str | Question) -> str | None:
        """``query`` with its accents restored when it has none and is not English; else None.

        None also when the store has no restorer (Milvus: restoration is off there) or nothing changed.
        A Question that already carries its restored form gets it back without restoring again.
        """
        text = query.text if isinstance(query, Question) else query
        restorer = getattr(self.store, "restorer", None) if self.restore else None
        if restorer is None or has_diacritics(text) or looks_english(text):
            return None
        if isinstance(query, Question) and query.restored is not None:
            return query.restored
        restored = restorer.restore(text)
        return restored if restored != text else None

    def restricted(self, search_filter: SearchFilter | None) -> HybridRetriever:
        """This retriever with every search restricted by ``search_filter`` (a copy; self unchanged)."""
        return self.model_copy(update={"search_filter": search_filter})

    def allowed_documents(self, search_filter: SearchFilter | None) -> frozenset[str] | None:
        """The doc ids ``search_filter`` allows in this library (None: no restriction); a
        :class:`~rag.retrieval.filters.FilterError` when it names an unknown document."""
        if search_filter is None:
            return None
        documents = self.store.manifest.documents
        allowed = search_filter.allowed(documents)
        return None if len(allowed) == len(documents) else allowed

    def allowed_rows(self, search_filter: SearchFilter | None) -> np.ndarray | None:
        """Sorted chunk ids of the documents ``search_filter`` allows (None: all), cached per filter."""
        if search_filter is None:
            return None
        cache = self._allowed
        if search_filter not in cache:
            docs = self.allowed_documents(search_filter)
            rows = None if docs is None else np.array(sorted(c for d in docs for c in self.store.chunk_ids_of(d)), dtype=np.int64)
            if len(cache) >= 64:
                cache.clear()
            cache[search_filter] = rows
        return cache[search_filter]

    def search(self, query: str | Question, k: int | None = None, search_filter: SearchFilter | None = None) -> SearchResult:
        """Ranked passages for ``query`` (a string or a Question) with per-stage timings in milliseconds.

        ``search_filter`` (default: the retriever's own) restricts them to some documents.
        """
        asked = query
        query = self.clean_query(query)
        k = k or self.k
        timings: dict[str, float] = {}
        allowed = None
        if search_filter or self.search_filter:
            t = time.perf_counter()
            allowed = self.allowed_rows(search_filter or self.search_filter)
            timings["filter"] = elapsed_ms(t)
            if allowed is not None and not len(allowed):
                return SearchResult([], timings, None)
        t = time.perf_counter()
        # a Question restored as searched (the same text) keeps its restored form
        same = asked if isinstance(asked, Question) and asked.text == query else None  # its analysis holds
        restored = self.restore_query(same or query) if self.mode != "bm25" else None
        timings["restore"] = elapsed_ms(t)
        rankings: dict[str, list[int]] = {}
        similarity: dict[int, float] = {}  # chunk id -> cosine, for the dense list's passages
        fetch = max(self.fetch_k, k)
        weights = retriever_weights(query, restored is not None) if self.mode == "hybrid" else {}
        lexical = [name for name in LEXICAL if self.mode == "bm25" or (self.mode == "hybrid" and weights[name] > 0)]
        # each BM25 list runs on a worker thread while this one embeds the query and searches
        # FAISS: all release the GIL for most of their work, so on 2 cores a search takes little
        # more than its longest part instead of the sum
        started = time.perf_counter()
        # accented BM25 reads the restored question; folded BM25 the question as typed (the same
        # tokens), an English one in its report words
        texts = {"bm25": restored or query, "bm25_folded": report_words(query, same) if "bm25_folded" in lexical else query}
        pending = [_pool().submit(self._lexical, name, texts[name], fetch, allowed) for name in lexical]
        try:
            if self.mode in ("hybrid", "dense"):
                t = time.perf_counter()
                vector = query_vector(self.embeddings, restored or query)
                timings["embed"] = elapsed_ms(t)
                t = time.perf_counter()
                dense_ids, dense_scores = self.store.dense_search(vector, fetch, allowed)
                rankings["dense"] = dense_ids.tolist()
                similarity = dict(zip(rankings["dense"], dense_scores.tolist()))
                timings["dense"] = elapsed_ms(t)
        finally:
            finished = [future.result() for future in pending]
        if finished:
            rankings.update((name, ids) for name, ids, _ in finished)
            timings["bm25"] = (max(end for *_, end in finished) - started) * 1000.0  # wall time of the lists
        t = time.perf_counter()
        active = {name: ids for name, ids in rankings.items() if weights.get(name, 1.0) > 0}
        fused = reciprocal_rank_fusion(active, self.rrf_k, weights)
        if self.mode == "hybrid":
            fused = self.prefer_period(restored or query, fused, k)
        fused = fused[:k]
        records = self.store.chunks([cid for cid, _ in fused])
        positions = {name: {cid: r for r, cid in enumerate(ids, start=1)} for name, ids in rankings.items()}
        for name in LEXICAL if self.mode != "dense" else ():
            positions.setdefault(name, {})  # a list left out for this query: ranks None, keys stable
        hits = [
            Hit(record, score, rank, {name: pos.get(cid) for name, pos in positions.items()}, similarity.get(cid))
            for rank, ((cid, score), record) in enumerate(zip(fused, records), start=1)
        ]
        timings["fusion"] = elapsed_ms(t)
        return SearchResult(hits, timings, restored)

    def period_boost_value(self) -> float:
        """The boost added to a passage of the asked period, in fused-score units."""
        return self.period_boost / (self.rrf_k + 1)

    def prefer_period(
        self, query: str, fused: list[tuple[int, float]], k: int, records: dict[int, ChunkRecord] | None = None
    ) -> list[tuple[int, float]]:
        """``fused`` reordered with the period boost when ``query`` names a period (else unchanged).

        Only passages that can reach the top ``k`` with the boost are looked at (their records from
        ``records`` when given, else from the store).
        """
        boost = self.period_boost_value()
        if boost <= 0 or not fused:
            return fused
        self._periods.use(*self._period_library())
        years = asked_years(query, self._periods.newest)
        if not years:
            return fused
        floor = fused[min(k, len(fused)) - 1][1] - boost
        candidates = [cid for cid, score in fused if score >= floor]
        found = [records[cid] for cid in candidates] if records is not None else self._period_records(candidates)
        own_date = {r.doc_id: self._dates_and_source(r.doc_id)[0][:1] for r in found}  # its own date: the first
        matches = {r.chunk_id: bool(years & self._periods.of(r.chunk_id, r.doc_id, r.title, r.text, own_date[r.doc_id])) for r in found}
        return boosted(fused, matches, boost)

    def _period_library(self) -> tuple[object, Any]:
        """The object a new generation replaces, and how to find the newest document's year."""
        manifest = self.store.manifest
        return manifest, lambda: newest_year(manifest.documents)

    def _period_records(self, ids: list[int]) -> list[ChunkRecord]:
        return self.store.chunks(ids)

    def _lexical(self, name: str, query: str, fetch: int, allowed: np.ndarray | None) -> tuple[str, list[int], float]:
        """One BM25 list (``name`` is the store attribute) and when it finished."""
        ids = bm25_top_k(getattr(self.store, name), LEXICAL[name](query), fetch, allowed)[0].tolist()
        return name, ids, time.perf_counter()

    def _get_relevant_documents(self, query: str | Question, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [self.to_document(hit) for hit in self.search(query).hits]

    def _dates_and_source(self, doc_id: str) -> tuple[list[str], str]:
        """A document's dates and source path, for the LangChain metadata (the store's manifest)."""
        entry = self.store.manifest.documents.get(doc_id)
        return (list(entry.dates), entry.source) if entry else ([], "")

    def to_document(self, hit: Hit) -> Document:
        dates, source = self._dates_and_source(hit.chunk.doc_id)
        return Document(
            page_content=hit.chunk.text,
            id=f"{hit.chunk.doc_id}:{hit.chunk.start}",
            metadata={
                "doc_id": hit.chunk.doc_id,
                "title": hit.chunk.title,
                "start": hit.chunk.start,
                "end": hit.chunk.end,
                "score": hit.score,
                "rank": hit.rank,
                "ranks": hit.ranks,
                "similarity": hit.similarity,
                "dates": dates,
                "source": source,
                "chunk_id": hit.chunk.chunk_id,
            },
        )


def elapsed_ms(start: float) -> float:
    """Milliseconds since ``start`` (a ``time.perf_counter()`` reading)."""
    return (time.perf_counter() - start) * 1000.0
