"""Unit similarity from the index's stored sentence vectors: no model call for an indexed sentence,
the same cosines as the model's (float16), and the model again for what the index lacks.

The reports are the test library (tests/docs_factory.py), not corpus/ or any gold file.
"""

from __future__ import annotations

import numpy as np
import pytest

from rag.answer.chain import build_answer_chain
from rag.answer.similarity import UnitEmbedder, embedder_for, scorer_for
from rag.backend import load_retriever
from rag.index.faiss.generations import live_generation
from rag.index.faiss.sentences import KEYS, VECTORS, chunk_sentences
from rag.ingest.local import ingest

QUESTION = "Bệnh viện A khám bao nhiêu lượt người?"


def _count_passage_calls(monkeypatch, embeddings) -> list[list[str]]:
    """The texts of every ``encode_passages`` call on the real model object from now on."""
    calls: list[list[str]] = []
    original = embeddings.encode_passages

    def counting(texts, *args, **kwargs):
        calls.append(list(texts))
        return original(texts, *args, **kwargs)

    monkeypatch.setattr(embeddings, "encode_passages", counting)
    return calls


@pytest.fixture
def indexed(library, make_settings, embeddings):
    settings = make_settings()
    ingest([library], settings, embeddings=embeddings)
    return settings


def test_indexed_sentences_cost_no_model_call_and_match_the_model(indexed, embeddings, monkeypatch):
    retriever = load_retriever(indexed)
    store = retriever.store
    texts = list(dict.fromkeys(t for c in store.all_chunks() for t in chunk_sentences(c.title, c.text)))
    by_model = UnitEmbedder(retriever.embeddings).similarities(QUESTION, texts)
    calls = _count_passage_calls(monkeypatch, retriever.embeddings)
    embedder = UnitEmbedder(retriever.embeddings)
    stored = embedder.similarities(QUESTION, texts, store.sentence_vectors)
    assert calls == [] and embedder.encoded == 0 and embedder.stored == len(texts)
    assert stored == pytest.approx(by_model, abs=2e-3)  # float16 rows
    # a text the index does not hold goes to the model, alone
    other = "Bệnh viện A báo cáo năm 2023\nMột câu không có trong báo cáo."
    embedder.similarities(QUESTION, [texts[0], other], store.sentence_vectors)
    assert calls == [[other]] and embedder.encoded == 1


def test_an_answer_over_the_index_runs_the_model_on_no_sentence(indexed, monkeypatch):
    retriever = load_retriever(indexed)
    shared = embedder_for(retriever.embeddings)
    stored_before, encoded_before = shared.stored, shared.encoded
    calls = _count_passage_calls(monkeypatch, retriever.embeddings)
    answer = build_answer_chain(indexed, retriever).invoke({"question": QUESTION})
    assert not answer.abstained and "10.500" in answer.answer
    assert calls == [] and shared.encoded == encoded_before and shared.stored > stored_before


def test_without_the_files_the_answer_embeds_as_before_and_agrees(indexed, monkeypatch):
    with_files = build_answer_chain(indexed, load_retriever(indexed)).invoke({"question": QUESTION})
    generation = live_generation(indexed.index_dir)
    for name in (KEYS, VECTORS):  # an index written before sentence vectors
        (generation / name).unlink()
    retriever = load_retriever(indexed)
    assert retriever.store.sentence_vectors is None
    assert scorer_for(retriever).embed is not None  # the model still gives the semantic features
    shared = embedder_for(retriever.embeddings)
    seen = shared.stored
    without = build_answer_chain(indexed, retriever).invoke({"question": QUESTION})
    assert shared.stored == seen  # nothing came from the index
    assert (without.answer, without.abstained) == (with_files.answer, with_files.abstained)
    assert without.confidence == pytest.approx(with_files.confidence, abs=5e-3)
    assert np.isfinite(without.confidence)
