"""The shared query-vector cache (rag.embeddings.query_cache): one model call per text and model.

The cache's rules are checked with a counting numpy encoder standing in for the model; the real
ONNX embedder then shows that a search followed by the answer scorer's similarity of the same
question embeds the question once.
"""

from __future__ import annotations

import numpy as np
import pytest

from rag.embeddings import query_cache
from rag.embeddings.query_cache import query_vector


class _Counting:
    """``encode_queries`` as a deterministic function of the text, recording each call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.array([[len(t), sum(map(ord, t)) % 997] for t in texts], dtype=np.float64)


def test_a_text_is_encoded_once_per_model():
    model = _Counting()
    first = query_vector(model, "bao nhiêu giường bệnh")
    again = query_vector(model, "bao nhiêu giường bệnh")
    assert model.calls == [["bao nhiêu giường bệnh"]]
    assert again is first and first.dtype == np.float32
    assert first.tolist() == [21.0, float(sum(map(ord, "bao nhiêu giường bệnh")) % 997)]
    other = _Counting()  # another model has its own vectors
    query_vector(other, "bao nhiêu giường bệnh")
    assert other.calls == [["bao nhiêu giường bệnh"]]


def test_shared_vectors_are_read_only():
    vector = query_vector(_Counting(), "ai là giám đốc")
    with pytest.raises(ValueError):
        vector[0] = 1.0


def test_the_least_recent_text_is_evicted(monkeypatch):
    monkeypatch.setattr(query_cache, "QUERY_CACHE", 2)
    model = _Counting()
    for text in ("a", "b", "a", "c", "a", "b"):  # "b" is the least recent when "c" arrives
        query_vector(model, text)
    assert model.calls == [["a"], ["b"], ["c"], ["b"]]


def test_search_then_unit_similarity_embeds_the_question_once(retriever, monkeypatch):
    from rag.answer.similarity import UnitEmbedder

    embeddings = retriever.embeddings
    real = embeddings.encode_queries
    calls: list[list[str]] = []

    def counting(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return real(texts)

    monkeypatch.setattr(embeddings, "encode_queries", counting)
    question = "Trung tâm y tế huyện Kỳ Sơn có bao nhiêu giường bệnh năm 2031?"  # asked by no other test
    docs = retriever.invoke(question)
    UnitEmbedder(embeddings).similarities(question, [docs[0].page_content])
    assert calls == [[question]]
    assert np.allclose(query_vector(embeddings, question), real([question])[0], atol=1e-6)


def test_clear_forgets_every_vector():
    model = _Counting()
    query_vector(model, "số ca mắc")
    query_cache.clear()
    query_vector(model, "số ca mắc")
    assert model.calls == [["số ca mắc"], ["số ca mắc"]]
