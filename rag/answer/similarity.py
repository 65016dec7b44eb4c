"""Dense similarity of a question to candidate units, for the answer scorer's semantic features.

The lexical features of :mod:`rag.answer.extractive` miss paraphrases ("nằm viện" for "nội trú")
and out-of-domain wordings; the embedding model that ranked the passages does not. A
:class:`UnitEmbedder` takes the question's vector as the retriever embedded it (e5 ``query:`` prefix,
accents restored when the retriever restored them: the same cached vector,
:mod:`rag.embeddings.query_cache`) and embeds each unit in its context (``passage:`` + the document
title + the unit's sentence, :func:`rag.index.records.sentence_context`). A unit's vector is taken,
in this order, from the index's stored sentence vectors (computed at ingest for every sentence of
every chunk, :mod:`rag.index.faiss.sentences`: the retriever's ``store.sentence_vectors``), from an
LRU by text (a sentence seen by an earlier question), or from the model, batched: an index without
stored vectors (older, Milvus, ``sentence_vectors`` off) or a text built otherwise costs what it did.

:func:`scorer_for` gives the shipped scorer wired to a retriever's embedder (or the plain scorer
when the retriever has none: a callable, a test double).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from rag.answer.scoring import Scorer, default_scorer
from rag.embeddings.query_cache import query_vector

UNIT_CACHE = 8192  # unit vectors kept (384 float32 each: ~12 MiB)


class StoredVectors(Protocol):
    """Vectors an index stored for texts (:class:`rag.index.faiss.sentences.SentenceVectors`)."""

    def lookup(self, texts: Sequence[str]) -> dict[str, np.ndarray]: ...


class _LRU:
    """A small least-recently-used map of text -> vector, safe across the app's request threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> np.ndarray | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: str, value: np.ndarray) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


class UnitEmbedder:
    """Cosines of a question and unit texts with an embedding model (``encode_queries`` /
    ``encode_passages`` returning unit vectors, as :mod:`rag.embeddings` does)."""

    def __init__(self, embeddings: Any, unit_cache: int = UNIT_CACHE) -> None:
        self.embeddings = embeddings
        self._units = _LRU(unit_cache)
        self.encoded = 0  # unit texts actually sent to the model (the rest came from the index or the cache)
        self.stored = 0  # unit texts whose vector the index stored

    def similarities(self, question: str, texts: Sequence[str], stored: StoredVectors | None = None) -> list[float]:
        """cos(question, text) for each text, in order; each distinct text looked up in ``stored``
        (the index's sentence vectors), else embedded at most once."""
        if not texts:
            return []
        query = query_vector(self.embeddings, question)  # the retriever's vector when it embedded the same text
        distinct = list(dict.fromkeys(texts))
        found: dict[str, np.ndarray | None] = dict(stored.lookup(distinct)) if stored is not None else {}
        self.stored += len(found)
        found.update((t, self._units.get(t)) for t in distinct if t not in found)
        missing = [t for t, v in found.items() if v is None]
        if missing:
            for text, vector in zip(missing, np.asarray(self.embeddings.encode_passages(missing), dtype=np.float32)):
                found[text] = vector
                self._units.put(text, vector)
            self.encoded += len(missing)
        return [float(np.dot(query, found[t])) for t in texts]

    def bind(
        self, restore: Callable[[str], str | None] | None = None, stored: StoredVectors | None = None
    ) -> Callable[[str, Sequence[str]], list[float]]:
        """The scorer's embed function: the question embedded as ``restore`` rewrites it (the
        retriever's accent restoration: what its dense search embedded), else as asked; unit
        vectors looked up in ``stored`` first."""

        def embed(question: str, texts: Sequence[str]) -> list[float]:
            restored = restore(question) if restore is not None else None
            return self.similarities(restored or question, texts, stored)

        return embed


_EMBEDDERS: dict[int, UnitEmbedder] = {}  # id(embeddings) -> its embedder; the models are process-wide


def embedder_for(embeddings: Any) -> UnitEmbedder:
    """The shared :class:`UnitEmbedder` of an embedding model (one cache per model)."""
    found = _EMBEDDERS.get(id(embeddings))
    if found is None or found.embeddings is not embeddings:
        found = _EMBEDDERS[id(embeddings)] = UnitEmbedder(embeddings)
    return found


def scorer_for(retriever: Any, scorer: Scorer | None = None) -> Scorer:
    """``scorer`` (default: the shipped one) with the retriever's embedding model as its embed
    function, reading the stored sentence vectors of the retriever's index when it has them;
    unchanged when the retriever exposes no model (a plain callable, a test double)."""
    scorer = scorer or default_scorer()
    embeddings = getattr(retriever, "embeddings", None)
    if embeddings is None or not hasattr(embeddings, "encode_queries") or not hasattr(embeddings, "encode_passages"):
        return scorer
    restore = getattr(retriever, "restore_query", None)
    stored = getattr(getattr(retriever, "store", None), "sentence_vectors", None)  # the live generation's
    stored = stored if callable(getattr(stored, "lookup", None)) else None
    return scorer.with_embedder(embedder_for(embeddings).bind(restore if callable(restore) else None, stored))


__all__ = ["StoredVectors", "UnitEmbedder", "embedder_for", "scorer_for"]
