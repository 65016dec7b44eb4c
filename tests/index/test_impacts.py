"""The compact BM25 postings (rag/index/faiss/impacts.py) rank exactly as the CSC arrays and bm25s do.

Checked here: the top k from quantised codes, dense rows and the exact last step equals the CSC
path's bit for bit (ids and float32 scores, filtered or not, however few candidates it starts
with) and bm25s's own ranking, on synthetic reports and on the gold dev questions over the
shipped corpus; every approximate score stays within the bound; an index whose scores the formula
does not reproduce, or without a token cache, gets no compact files and is read as before.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.index.faiss import impacts as impacts_module
from rag.index.faiss.impacts import Query, has_impacts
from rag.index.faiss.sparse import TokenizedCorpus, add_impacts, bm25_top_k, build_bm25, load_bm25, save_bm25
from rag.text import tokenize, tokenize_folded

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """(token lists, a saved index of them, the bm25s model built in memory)."""
    from bench.synthetic import TextGenerator

    texts = []
    for doc in TextGenerator(3).documents(3000):
        texts.extend(f"{doc.title}\n{doc.text[s:e]}" for s, e in doc.passages)
    tokens = [tokenize(t) for t in texts]
    model = build_bm25(TokenizedCorpus.from_tokens(tokens))
    directory = tmp_path_factory.mktemp("bm25")
    save_bm25(model, directory)
    return tokens, directory, model


def _queries(tokens: list[list[str]], n: int, seed: int) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        doc = tokens[int(rng.integers(len(tokens)))]
        out.append([doc[int(i)] for i in rng.integers(0, len(doc), int(rng.integers(1, 20)))] + (["khôngcótừnày"] if rng.random() < 0.2 else []))
    return out


def _csc(directory: Path):
    reference = load_bm25(directory, mmap=True)
    reference.impacts = None  # the path every index took before the compact postings
    return reference


def test_the_compact_top_k_equals_the_csc_one_bit_for_bit(synthetic, monkeypatch):
    tokens, directory, _ = synthetic
    compact, reference = load_bm25(directory, mmap=True), _csc(directory)
    assert compact.impacts is not None
    assert compact.impacts.rows.shape[0] > 0 and len(compact.impacts.docs) > 0  # both kinds of term occur
    rng = np.random.default_rng(2)
    for start in (impacts_module.MIN_CANDIDATES, 1):  # 1: the candidates must double, often
        monkeypatch.setattr(impacts_module, "MIN_CANDIDATES", start)
        for query in _queries(tokens, 120, seed=start):
            for k in (1, 10, 30):
                expected = bm25_top_k(reference, query, k)
                got = bm25_top_k(compact, query, k)
                assert got[0].tolist() == expected[0].tolist()
                assert np.array_equal(got[1], expected[1])
            allowed = np.sort(rng.choice(len(tokens), 400, replace=False))
            expected, got = bm25_top_k(reference, query, 10, allowed), bm25_top_k(compact, query, 10, allowed)
            assert got[0].tolist() == expected[0].tolist() and np.array_equal(got[1], expected[1])
    assert bm25_top_k(compact, ["khôngcótừnày"], 10)[0].size == 0
    assert bm25_top_k(compact, [], 10)[0].size == 0


def test_the_ranking_is_bm25s_own(synthetic):
    import bm25s

    tokens, directory, _ = synthetic
    reference = bm25s.BM25()
    reference.index(tokens, show_progress=False)
    compact = load_bm25(directory, mmap=True)
    for query in _queries(tokens, 40, seed=7):
        scores = reference.get_scores(query)
        ids, got = bm25_top_k(compact, query, 30)
        np.testing.assert_allclose(got, scores[ids], rtol=1e-6)
        # bm25s sums in another order (float32 ulps): its 30 best hold ours, up to ties within that
        kth = np.sort(scores)[::-1][min(29, len(ids) - 1)] if len(ids) else 0
        assert set(ids.tolist()) >= set(np.flatnonzero(scores > kth + 1e-5).tolist())
        assert all(scores[i] >= kth - 1e-5 for i in ids)


def test_approximate_scores_stay_within_the_bound(synthetic):
    tokens, directory, _ = synthetic
    compact, reference = load_bm25(directory, mmap=True), _csc(directory)
    vocab = compact.vocab_dict
    worst = 0.0
    for query in _queries(tokens, 60, seed=11):
        counts: dict[str, int] = {}
        for t in query:
            if t in vocab:
                counts[t] = counts.get(t, 0) + 1
        q = Query(np.array([vocab[t] for t in counts], dtype=np.int64), np.array(list(counts.values()), dtype=np.float32))
        approx, bound = compact.impacts.approximate(q)
        exact = reference.get_scores(query)
        assert np.array_equal(approx > 0, exact > 0)  # a code is never 0 where the term occurs
        assert np.abs(approx - exact).max(initial=0.0) <= bound
        assert np.array_equal(compact.impacts.exact(q, np.arange(len(exact))), exact)
        worst = max(worst, bound / max(float(exact.max(initial=0.0)), 1e-9))
    assert 0 < worst < 0.02  # uint8 codes: under 2% of the best score, for these queries


def test_scores_the_formula_does_not_reproduce_get_no_compact_files(synthetic, tmp_path):
    tokens, _, _ = synthetic
    save_bm25(build_bm25(TokenizedCorpus.from_tokens(tokens[:300])), tmp_path / "ours")
    altered = tmp_path / "ours"
    for name in impacts_module.FILES:
        (altered / name).unlink()
    data = np.load(altered / "data.csc.index.npy")
    np.save(altered / "data.csc.index.npy", data * np.float32(1.001))  # not what the formula gives
    assert add_impacts(altered) is False and not has_impacts(altered)
    assert load_bm25(altered).impacts is None and len(bm25_top_k(load_bm25(altered), tokens[0][:4], 5)[0]) > 0
    # bm25s's own save: no token cache
    import bm25s

    model = bm25s.BM25()
    model.index(tokens[:300], show_progress=False)
    model.save(str(tmp_path / "bm25s"))
    assert add_impacts(tmp_path / "bm25s") is False and not has_impacts(tmp_path / "bm25s")


def test_an_index_saved_before_the_compact_postings_gains_identical_ones(synthetic, tmp_path):
    tokens, directory, _ = synthetic
    save_bm25(build_bm25(TokenizedCorpus.from_tokens(tokens)), tmp_path)
    for name in impacts_module.FILES:
        (tmp_path / name).unlink()
    assert load_bm25(tmp_path).impacts is None
    assert add_impacts(tmp_path) is True and add_impacts(tmp_path) is False
    for name in impacts_module.FILES:  # the same bytes as a fresh build writes
        assert (tmp_path / name).read_bytes() == (directory / name).read_bytes(), name


def test_gold_dev_questions_rank_the_same_over_the_shipped_corpus(tmp_path):
    """The shipped corpus chunked as ingest does, both BM25 flavours, the dev half of the gold set."""
    from eval.split import split_items
    from rag.config import Settings
    from rag.index.records import indexed_text
    from rag.ingest.chunking import chunk_document
    from rag.ingest.loaders import iter_paths, load_document

    settings = Settings()
    texts = []
    for path in iter_paths([ROOT / "corpus"]):
        doc = load_document(path)
        texts += [indexed_text(c.title, c.text, settings.title_prefix) for c in chunk_document(doc.doc_id, doc.title, doc.text, settings.chunk_chars, settings.overlap_chars)]

    class Item:
        def __init__(self, row: dict) -> None:
            self.id, self.category, self.question = row["id"], row["category"], row["question"]

    rows = [Item(json.loads(line)) for line in (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = [item.question for item in split_items(rows, "dev")]
    assert len(questions) >= 20
    for name, tokenizer in (("bm25", tokenize), ("bm25_folded", tokenize_folded)):
        save_bm25(build_bm25(texts, tokenizer), tmp_path / name)
        compact, reference = load_bm25(tmp_path / name, mmap=True), _csc(tmp_path / name)
        assert compact.impacts is not None
        for question in questions:
            expected, got = bm25_top_k(reference, tokenizer(question), 30), bm25_top_k(compact, tokenizer(question), 30)
            assert got[0].tolist() == expected[0].tolist() and np.array_equal(got[1], expected[1]), question
