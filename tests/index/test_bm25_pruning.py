"""Max-score pruning of BM25's top k (rag.index.faiss.sparse.bm25_top_k) returns exactly the unpruned ranking.

The pruned path skips most of the long posting lists of common syllables; these tests check it
on an index large enough to take it (ids, order, ties and scores equal to ranking
``get_scores``), that it is taken for the queries it is meant for, and that the bounds saved
with an index, or added to an older one, are each term's highest score.
"""

from __future__ import annotations

import numpy as np
import pytest

from rag.index.faiss import sparse as sparse_module
from rag.index.faiss.sparse import TERM_MAX, TokenizedCorpus, add_query_files, bm25_top_k, build_bm25, load_bm25, save_bm25

COMMON = ["bệnh", "viện", "y", "tế", "năm", "tỉnh", "báo", "cáo", "của", "và"]


@pytest.fixture(scope="module")
def corpus() -> list[list[str]]:
    """60k short chunks: common syllables everywhere, rarer names in a few, some repeated words."""
    rng = np.random.default_rng(7)
    rare = [f"tên{i}" for i in range(3000)]
    out = []
    for _ in range(60_000):
        tokens = [COMMON[int(i)] for i in rng.integers(0, len(COMMON), int(rng.integers(4, 20)))]
        tokens += [rare[int(i)] for i in rng.integers(0, len(rare), int(rng.integers(0, 3)))]
        out.append(tokens)
    return out


@pytest.fixture(scope="module")
def model(corpus):
    return build_bm25(TokenizedCorpus.from_tokens(corpus))


def _ranked(model, query: list[str], k: int) -> tuple[list[int], np.ndarray]:
    """The unpruned ranking: every chunk scored (as bm25_top_k did before pruning), sorted."""
    counts: dict[str, int] = {}
    for t in query:
        counts[t] = counts.get(t, 0) + 1
    scores = sparse_module._scores(model, counts)
    np.testing.assert_allclose(scores, model.get_scores(query), rtol=1e-6)  # and bm25s agrees
    order = np.lexsort((np.arange(len(scores)), -scores))[:k]
    order = order[scores[order] > 0]
    return order.tolist(), scores[order]


def test_pruned_top_k_equals_the_full_ranking(model):
    rng = np.random.default_rng(3)
    pruned = 0
    for _ in range(60):
        query = [COMMON[int(i)] for i in rng.integers(0, len(COMMON), int(rng.integers(1, 8)))]
        query += [f"tên{int(i)}" for i in rng.integers(0, 3000, int(rng.integers(0, 4)))]
        query = [query[int(i)] for i in rng.permutation(len(query))]
        for k in (1, 5, 30):
            counts = {}
            for t in query:
                counts[t] = counts.get(t, 0) + 1
            pruned += sparse_module._pruned_top_k(model, counts, k) is not None
            ids, scores = bm25_top_k(model, query, k)
            expected_ids, expected_scores = _ranked(model, query, k)
            assert ids.tolist() == expected_ids, query
            np.testing.assert_array_equal(scores, expected_scores)  # to the bit: same sums, same order
    assert pruned > 30  # the queries with a rare name take the pruned path


def test_ties_at_the_cut_are_broken_by_id_as_unpruned(model):
    # the same rare word twice plus common words: many chunks tie on the rare word's score
    for query in (["tên5", "tên5", "bệnh"], ["tên9", "và", "của"], ["tên1", "tên2", "y", "tế"]):
        for k in (1, 2, 3, 10):
            assert bm25_top_k(model, query, k)[0].tolist() == _ranked(model, query, k)[0]


def test_term_bounds_are_saved_and_added_to_older_indexes(model, tmp_path):
    save_bm25(model, tmp_path)
    loaded = load_bm25(tmp_path, mmap=True)
    data, indptr = np.asarray(loaded.scores["data"]), np.asarray(loaded.scores["indptr"])
    expected = np.array([data[a:b].max() if b > a else 0 for a, b in zip(indptr[:-1], indptr[1:])], dtype=np.float32)
    np.testing.assert_array_equal(loaded.term_max, expected)
    (tmp_path / TERM_MAX).unlink()  # an index written before the bounds: no pruning, same answers
    older = load_bm25(tmp_path, mmap=True)
    assert older.term_max is None and sparse_module._pruned_top_k(older, {"tên5": 1, "bệnh": 1}, 5) is None
    assert bm25_top_k(older, ["tên5", "bệnh"], 5)[0].tolist() == _ranked(model, ["tên5", "bệnh"], 5)[0]
    assert add_query_files(tmp_path) and not add_query_files(tmp_path)
    np.testing.assert_array_equal(load_bm25(tmp_path).term_max, expected)
