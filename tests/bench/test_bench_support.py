"""What the benchmarks rely on: the synthetic data generator and the benchmark helpers (no timings)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.common import summary_ms
from bench.scale_bench import recall_at_10
from bench.synthetic import (
    TextGenerator,
    VectorModel,
    doc_sizes,
    generation_data,
    gold_questions,
    perturbed_queries,
    similarity_profile,
)


def _docs(seed: int, n_chunks: int):
    return list(TextGenerator(seed).documents(n_chunks))


def test_text_is_deterministic_for_a_seed():
    a, b, c = _docs(7, 300), _docs(7, 300), _docs(8, 300)
    assert [(d.doc_id, d.title, d.text, d.passages) for d in a] == [(d.doc_id, d.title, d.text, d.passages) for d in b]
    assert [d.text for d in a] != [d.text for d in c]


def test_documents_are_well_formed():
    docs = _docs(3, 1000)
    assert sum(len(d.passages) for d in docs) == 1000  # exactly the chunks asked for
    assert len({d.doc_id for d in docs}) == len(docs)
    for doc in docs:
        assert doc.title and doc.text
        previous_end = 0
        for start, end in doc.passages:
            passage = doc.text[start:end]
            assert passage and passage == passage.strip()
            assert start >= previous_end  # in order, no overlap
            previous_end = end
            # at most chunk_chars, unless it is one over-long sentence on its own
            assert len(passage) <= 500 or "\n" not in passage


def test_slots_are_refilled_with_varied_names_places_and_numbers():
    from rag.text import tokenize

    docs = _docs(11, 2000)
    text = "\n".join(d.text for d in docs)
    vocab = set(tokenize(text))
    numbers = {t for t in vocab if t[0].isdigit()}
    assert len(numbers) > 1000  # numbers are redrawn, not copied from the reports
    assert len(vocab) > 2000
    # the corpus's own people are replaced, so no single name dominates
    assert text.count("Phạm Duy Hưng") < 5
    # numbers keep their shape: thousands separators, decimal commas, percentages, dates
    assert any("." in t for t in numbers) and any("," in t for t in numbers) and any("/" in t for t in numbers)


def test_generation_data_matches_the_store_invariants():
    data = generation_data(250, None, seed=5)
    assert len(data.chunks) == 250 and data.vectors.shape == (250, 384)
    texts = {d.doc_id: d.text for d in data.documents}
    for chunk in data.chunks:
        assert texts[chunk.doc_id][chunk.start : chunk.end] == chunk.text
    with pytest.raises(ValueError):
        generation_data(10, np.zeros((9, 384), dtype=np.float32))


@pytest.fixture(scope="module")
def real_like():
    """Unit vectors standing in for real embeddings: a narrow cone, chunks clustered by document."""
    rng = np.random.default_rng(0)
    centre = rng.standard_normal(64).astype(np.float32) * 3
    docs = centre + rng.standard_normal((60, 64)).astype(np.float32)
    labels = np.repeat(np.arange(60), 10)
    x = docs[labels] + 0.6 * rng.standard_normal((600, 64)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True), labels


def test_vector_model_samples_unit_vectors_deterministically(real_like):
    model = VectorModel.fit(*real_like, rank=16)
    sizes = [3, 1, 7] * 50
    a, b = model.sample(sizes, seed=4), model.sample(sizes, seed=4)
    assert a.shape == (sum(sizes), 64) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, model.sample(sizes, seed=5))
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert doc_sizes(["a", "a", "b", "c", "c", "c"]) == [2, 1, 3]


def test_vector_model_follows_the_real_distribution(real_like):
    vectors, labels = real_like
    model = VectorModel.fit(vectors, labels, rank=16)
    synthetic = model.sample(doc_sizes(labels), seed=1)
    queries = perturbed_queries(vectors[::15], 40)
    real, fake = similarity_profile(vectors, queries, labels), similarity_profile(synthetic, queries, labels)
    assert abs(real["pairwise_cos_mean"] - fake["pairwise_cos_mean"]) < 0.05
    assert abs(real["within_doc_cos_mean"] - fake["within_doc_cos_mean"]) < 0.05
    assert fake["within_doc_cos_mean"] > fake["pairwise_cos_mean"] + 0.05  # documents stay clustered
    assert abs(real["mean_norm_of_mean_vector"] - fake["mean_norm_of_mean_vector"]) < 0.05
    # ...and not like an isotropic Gaussian, whose vectors are almost orthogonal
    iso = np.random.default_rng(0).standard_normal(synthetic.shape)
    iso /= np.linalg.norm(iso, axis=1, keepdims=True)
    assert similarity_profile(iso, queries)["pairwise_cos_mean"] < 0.1 < fake["pairwise_cos_mean"]


def test_perturbed_queries_keep_the_real_ones_first():
    q = np.eye(4, 8, dtype=np.float32)
    out = perturbed_queries(q, 10, seed=1)
    assert out.shape == (10, 8)
    np.testing.assert_array_equal(out[:4], q)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(perturbed_queries(q, 10, seed=1), out)
    np.testing.assert_array_equal(perturbed_queries(q, 3), q[:3])


def test_gold_questions_load():
    questions = gold_questions()
    assert len(questions) >= 100 and all(isinstance(q, str) and q for q in questions)


def test_helpers():
    s = summary_ms([0.001, 0.002, 0.003, 0.004])
    assert s["p50"] == pytest.approx(2.5) and s["n"] == 4 and s["p95"] > s["p50"]
    truth = np.arange(20).reshape(2, 10)
    found = truth.copy()
    found[1, 5:] = -1
    assert recall_at_10(found, truth) == pytest.approx(0.75)
