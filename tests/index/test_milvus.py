"""The Milvus backend against a real Milvus Lite (in-process, tmp file URIs) and the real model.

Parity with the FAISS backend on the gold set, the CLI contracts, incremental upsert/delete, migration
from FAISS, model checks, and every bad input: unreachable or silent servers, missing files, failures
in the middle of a write.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymilvus", reason="the Milvus backend needs the 'milvus' extra: pip install -e '.[milvus]'")
pytest.importorskip("milvus_lite", reason="Milvus Lite needs the 'milvus' extra: pip install -e '.[milvus]'")

from rag.config import get_settings  # noqa: E402
from rag.errors import DocumentError, IndexStoreError, QueryError  # noqa: E402
from rag.index.milvus.client import MilvusIndex
from rag.retrieval.milvus import MilvusRetriever
from rag.index.milvus.schema import bm25_text
from rag.ingest.milvus import delete_milvus, ingest_milvus, migrate_faiss_to_milvus
from rag.backend import load_retriever as load_milvus_retriever
from rag.backend import load_retriever  # noqa: E402
from rag.index.faiss.store import open_index  # noqa: E402
from rag.text import collapse_whitespace, tokenize, tokenize_folded  # noqa: E402

from bench.scale_out_bench import SharedQueries, evidence_hit
from tests import docs_factory as f
from tests.docs_factory import LIBRARY as DOCS  # noqa: E402
from tests.helpers import free_port, run_cli, CORPUS, ROOT  # noqa: E402

GOLD = ROOT / "eval" / "gold.jsonl"


def milvus_settings(path: Path, **overrides):
    return get_settings(store="milvus", milvus_uri=str(path), index_dir=path.parent / "faiss-unused", **overrides)


@pytest.fixture(scope="module")
def milvus_corpus(tmp_path_factory, embeddings):
    """corpus/ ingested into Milvus Lite with the Milvus ingest (not copied from FAISS)."""
    settings = milvus_settings(tmp_path_factory.mktemp("milvus-corpus") / "corpus.db")
    report = ingest_milvus([CORPUS], settings, embeddings=embeddings)
    assert not report.errors and len(report.added) == 5
    return settings


@pytest.fixture(scope="module")
def milvus_retriever(milvus_corpus):
    return load_milvus_retriever(milvus_corpus)


def rows(index: MilvusIndex):
    return [(r.doc_id, r.start, r.end, r.text) for r in index.all_chunks()]


def faiss_passages(store) -> dict[tuple, np.ndarray]:
    """(doc id, start, end, text) → vector, for a FAISS store (whatever its chunk order)."""
    vectors = np.asarray(store.vectors())
    return {(r.doc_id, r.start, r.end, r.text): vectors[r.chunk_id] for r in store.all_chunks()}


# --------------------------------------------------------------------------------------------- BM25 input


def test_bm25_text_is_one_word_per_token():
    text = "Bệnh viện Bãi Cháy khám 383.605 lượt, đạt 95,25%; ngày 5/1/2024 (383,605)"
    for tokens in (tokenize(text), tokenize_folded(text)):
        encoded = bm25_text(tokens)
        # Milvus Lite's "standard" tokenizer is \w+ lower-cased; a server's splits on non-alphanumerics
        assert re.findall(r"\w+", encoded.lower()) == encoded.split() == [t for t in encoded.split() if t.isalnum()]
        assert len(encoded.split()) == len(tokens)
    encoded = bm25_text(tokenize(text)).split()
    assert "383p605" in encoded and "383605" in encoded and "383c605" in encoded
    assert "95c25q" in encoded and "5s1s2024" in encoded and "bãi" in encoded
    assert "bai" in bm25_text(tokenize_folded(text)).split()


# --------------------------------------------------------------------------------------------- parity


def test_milvus_ingest_stores_the_faiss_passages_and_vectors(milvus_corpus, corpus_settings):
    faiss = open_index(corpus_settings.index_dir)
    index = MilvusIndex.connect(milvus_corpus)
    expected = faiss_passages(faiss)
    stored = {(r.doc_id, r.start, r.end, r.text): v for r, v in index.chunks_with_vectors()}
    assert sorted(stored) == sorted(expected) and len(stored) == faiss.n_chunks
    assert min(float(np.dot(v, expected[key])) for key, v in stored.items()) >= 0.999
    m, fm = index.manifest, faiss.manifest
    assert m.model_id == fm.model_id and m.dim == fm.dim and m.n_chunks == fm.n_chunks == index.n_chunks
    assert {d: (e.content_hash, e.n_chunks, e.dates, e.title) for d, e in m.documents.items()} == {
        d: (e.content_hash, e.n_chunks, e.dates, e.title) for d, e in fm.documents.items()
    }
    doc = index.document("001_74a51137ac984768")
    assert doc.text == faiss.document("001_74a51137ac984768").text


def test_gold_parity_with_faiss(retriever, milvus_retriever, record_property):
    from eval.gold import load_gold

    shared = SharedQueries(retriever.embeddings)
    faiss_r = type(retriever)(**{**retriever.__dict__, "embeddings": shared})
    milvus_r = MilvusRetriever(**{**milvus_retriever.__dict__, "embeddings": shared})
    items = [i for i in load_gold(GOLD) if i.evidences]
    stats = {"faiss": {"hit1": 0, "hit5": 0, "ms": []}, "milvus": {"hit1": 0, "hit5": 0, "ms": []}}
    overlap = []
    for item in items:
        shared.encode_queries([collapse_whitespace(item.question)])  # latencies below exclude embedding
        tops = {}
        for name, r in (("faiss", faiss_r), ("milvus", milvus_r)):
            t = time.perf_counter()
            hits = r.search(item.question, k=5).hits
            stats[name]["ms"].append((time.perf_counter() - t) * 1000)
            passages = [h.chunk.text for h in hits]
            stats[name]["hit1"] += evidence_hit(passages, item.evidences, 1)
            stats[name]["hit5"] += evidence_hit(passages, item.evidences, 5)
            tops[name] = {(h.chunk.doc_id, h.chunk.start) for h in hits}
        overlap.append(len(tops["faiss"] & tops["milvus"]) / 5)
    n = len(items)
    summary = {
        name: {
            "hit@1": round(s["hit1"] / n, 3),
            "hit@5": round(s["hit5"] / n, 3),
            "p50_ms": round(float(np.percentile(s["ms"], 50)), 1),
            "p95_ms": round(float(np.percentile(s["ms"], 95)), 1),
        }
        for name, s in stats.items()
    }
    summary["top5_overlap"] = round(float(np.mean(overlap)), 3)
    summary["questions"] = n
    record_property("parity", json.dumps(summary))
    print("\nparity", json.dumps(summary))
    assert abs(summary["faiss"]["hit@5"] - summary["milvus"]["hit@5"]) <= 0.03, summary
    assert summary["top5_overlap"] >= 0.8, summary


def test_server_fusion_equals_client_fusion(milvus_retriever):
    """Milvus's RRF ranker (one hybrid_search) fuses exactly as our reciprocal_rank_fusion does."""
    client = MilvusRetriever(**{**milvus_retriever.__dict__, "fusion": "client"})

    def by_score(hits):
        groups: dict[float, set] = {}
        for h in hits:
            groups.setdefault(round(h.score, 6), set()).add((h.chunk.doc_id, h.chunk.start))
        return groups

    for q in ("Bệnh viện Bãi Cháy khám bao nhiêu lượt người năm 2023?", "benh vien bai chay", "Tiên Du tiêm chủng"):
        server_hits, client_hits = milvus_retriever.search(q, k=5).hits, client.search(q, k=5).hits
        server, fused = by_score(server_hits), by_score(client_hits)
        assert sorted(server) == sorted(fused)
        for score in server:
            if score != min(server):  # a tie at the cut-off may keep either passage
                assert server[score] == fused[score], q
        assert any(v is not None for h in client_hits for v in h.ranks.values())  # client fusion reports ranks


def test_documents_have_the_faiss_shape(retriever, milvus_retriever):
    question = "Bệnh viện Bãi Cháy khám bao nhiêu lượt người?"
    faiss_docs, milvus_docs = retriever.invoke(question), milvus_retriever.invoke(question)
    assert milvus_docs and len(milvus_docs) == len(faiss_docs)
    for fd, md in zip(faiss_docs, milvus_docs):
        assert set(md.metadata) == set(fd.metadata)
        assert type(md.metadata["ranks"]) is dict and set(md.metadata["ranks"]) <= set(fd.metadata["ranks"]) | {"dense", "bm25", "bm25_folded"}
        full = milvus_retriever.store.document(md.metadata["doc_id"]).text
        assert full[md.metadata["start"] : md.metadata["end"]] == md.page_content
        assert md.metadata["source"].endswith(f"{md.metadata['doc_id']}.txt") and md.metadata["dates"]
    result = milvus_retriever.search(question, k=3)
    assert [h.rank for h in result.hits] == [1, 2, 3]
    assert all(a.score >= b.score for a, b in zip(result.hits, result.hits[1:]))


def test_modes_and_bad_queries(milvus_retriever):
    for mode in ("dense", "bm25", "hybrid"):
        r = MilvusRetriever(**{**milvus_retriever.__dict__, "mode": mode})
        hits = r.search("Tiên Du tiêm chủng", k=5).hits
        assert [h.rank for h in hits] == list(range(1, len(hits) + 1)) and hits
    with pytest.raises(QueryError, match="empty"):
        milvus_retriever.search("  \n ")
    with pytest.raises(QueryError, match="longer than"):
        milvus_retriever.search("a" * (milvus_retriever.max_query_chars + 1))
    assert milvus_retriever.search("!!! ???", k=5).hits is not None  # no tokens: dense only


def test_load_retriever_dispatches_on_settings_store(milvus_corpus):
    assert isinstance(load_retriever(milvus_corpus), MilvusRetriever)


# --------------------------------------------------------------------------------------------- lifecycle


def test_incremental_upsert_and_delete(library, tmp_path, embeddings):
    settings = milvus_settings(tmp_path / "lib.db")
    first = ingest_milvus([library], settings, embeddings=embeddings)
    assert sorted(first.added) == sorted(DOCS)
    index = MilvusIndex.connect(settings)
    kept = {(r.doc_id, r.start): r.chunk_id for r in index.all_chunks() if r.doc_id == "bv_a"}

    again = ingest_milvus([library], settings, embeddings=embeddings)
    assert again.embedded_chunks == 0 and not again.changed and sorted(again.unchanged) == sorted(DOCS)

    f.write_txt(library / "ttyt_b.txt", "Trung tâm Y tế B sơ kết", ["Trung tâm Y tế B tiêm chủng đạt 99,1%."])
    (library / "tram_c.txt").unlink()
    f.write_txt(library / "moi_d.txt", "Bệnh viện D mới", ["Bệnh viện D có 120 giường bệnh."])
    report = ingest_milvus([library], settings, embeddings=embeddings)
    assert report.added == ["moi_d"] and report.updated == ["ttyt_b"] and report.removed == ["tram_c"]
    assert report.unchanged == ["bv_a"]
    manifest = index.manifest
    assert set(manifest.documents) == {"bv_a", "ttyt_b", "moi_d"}
    assert report.embedded_chunks == manifest.documents["moi_d"].n_chunks + manifest.documents["ttyt_b"].n_chunks
    assert index.n_chunks == manifest.n_chunks == report.n_chunks
    after = {(r.doc_id, r.start): r.chunk_id for r in index.all_chunks() if r.doc_id == "bv_a"}
    assert after == kept  # untouched rows, not rewritten
    texts = " ".join(t for *_, t in rows(index))
    assert "99,1%" in texts and "98,5%" not in texts and "6 nhân viên" not in texts
    assert index.document("ttyt_b").text.endswith("99,1%.") and index.document("tram_c") is None
    hits = load_milvus_retriever(settings).search("Trung tâm Y tế B tiêm chủng đạt bao nhiêu?", k=3).hits
    assert "99,1%" in hits[0].chunk.text

    deleted = delete_milvus(["moi_d"], settings)
    assert deleted.removed == ["moi_d"] and set(index.manifest.documents) == {"bv_a", "ttyt_b"}
    assert "120 giường" not in " ".join(t for *_, t in rows(index))
    with pytest.raises(DocumentError, match="no such document"):
        delete_milvus(["khong_co"], settings)


def test_bad_file_keeps_old_version(library, tmp_path, embeddings):
    settings = milvus_settings(tmp_path / "bad.db")
    ingest_milvus([library], settings, embeddings=embeddings)
    (library / "bv_a.txt").write_bytes(b"\x00\x01\x02binary\x00" * 8)
    (library / "ghi_chu.pptx").write_bytes(b"x")
    report = ingest_milvus([library], settings, embeddings=embeddings)
    assert [p for p, _ in report.errors] == [str(library / "bv_a.txt")]
    assert [p for p, _ in report.skipped] == [str(library / "ghi_chu.pptx")]
    assert "10.500" in " ".join(t for *_, t in rows(MilvusIndex.connect(settings)))


class _Failing:
    """The real model, failing on the n-th call to encode_passages (as a crash mid-ingest would)."""

    def __init__(self, inner, fail_on: int = 1, model_id: str | None = None):
        self._inner, self.model_id, self.dim = inner, model_id or inner.model_id, inner.dim
        self.calls, self.fail_on = 0, fail_on

    def encode_passages(self, texts, **kwargs):
        self.calls += 1
        if self.calls >= self.fail_on:
            raise RuntimeError("boom: embedding failed")
        return self._inner.encode_passages(texts, **kwargs)


def _snapshot(index: MilvusIndex):
    return sorted(rows(index)), {d: e.content_hash for d, e in index.manifest.documents.items()}


def test_failed_ingest_leaves_documents_searchable(library, tmp_path, embeddings, monkeypatch):
    settings = milvus_settings(tmp_path / "fail.db")
    ingest_milvus([library], settings, embeddings=embeddings)
    index = MilvusIndex.connect(settings)
    before = _snapshot(index)
    f.write_txt(library / "ttyt_b.txt", "Trung tâm Y tế B sơ kết", ["Trung tâm Y tế B tiêm chủng đạt 99,1%."])

    # 1. the model fails before anything is written
    with pytest.raises(RuntimeError, match="boom"):
        ingest_milvus([library], settings, embeddings=_Failing(embeddings))
    assert _snapshot(index) == before

    # 2. Milvus fails half-way through inserting the new passages: they are taken out again
    real_insert = index.client.insert.__func__
    calls = {"n": 0}

    def flaky_insert(self, *args, **kwargs):
        calls["n"] += 1
        real_insert(self, *args, **kwargs)  # the rows land, then the connection drops
        raise ConnectionError("connection reset")

    monkeypatch.setattr(type(index.client), "insert", flaky_insert)
    with pytest.raises(IndexStoreError, match="insert failed"):
        ingest_milvus([library], settings, embeddings=embeddings)
    monkeypatch.undo()
    assert calls["n"] == 1 and _snapshot(index) == before

    # 3. Milvus fails after inserting, before the old passages are deleted: the document stays
    #    searchable (old and new text), and the next ingest of the file finishes the job
    real_delete = type(index.client).delete

    def failing_delete(self, *args, **kwargs):
        raise ConnectionError("connection reset")

    monkeypatch.setattr(type(index.client), "delete", failing_delete)
    with pytest.raises(IndexStoreError, match="delete failed"):
        ingest_milvus([library], settings, embeddings=embeddings)
    monkeypatch.setattr(type(index.client), "delete", real_delete)
    texts = " ".join(t for *_, t in rows(index))
    assert "98,5%" in texts  # never lost
    assert index.manifest.documents["ttyt_b"].content_hash == before[1]["ttyt_b"]  # not committed
    report = ingest_milvus([library], settings, embeddings=embeddings)
    assert report.updated == ["ttyt_b"]
    texts = [t for d, _, _, t in rows(index) if d == "ttyt_b"]
    assert len(texts) == index.manifest.documents["ttyt_b"].n_chunks and "99,1%" in " ".join(texts)
    assert "98,5%" not in " ".join(texts)


def test_failed_rebuild_keeps_the_live_collections(library, tmp_path, embeddings):
    settings = milvus_settings(tmp_path / "rebuild.db")
    ingest_milvus([library], settings, embeddings=embeddings)
    index = MilvusIndex.connect(settings)
    before, collections = _snapshot(index), sorted(index.client.list_collections())
    with pytest.raises(RuntimeError, match="boom"):
        ingest_milvus([library], settings, embeddings=_Failing(embeddings), rebuild=True)
    assert _snapshot(index) == before and sorted(index.client.list_collections()) == collections
    report = ingest_milvus([library], settings, embeddings=embeddings, rebuild=True)
    assert sorted(report.added) == sorted(DOCS)
    assert len(index.client.list_collections()) == 2  # the old pair was dropped after the swap
    assert sorted(rows(index)) == before[0]


def test_other_model_or_dimension_is_refused(library, tmp_path, embeddings):
    settings = milvus_settings(tmp_path / "model.db")
    ingest_milvus([library], settings, embeddings=embeddings)
    index = MilvusIndex.connect(settings)
    with pytest.raises(IndexStoreError, match="built with model") as info:
        index.check_model("other-model", embeddings.dim)
    assert embeddings.model_id in str(info.value) and "other-model" in str(info.value)
    with pytest.raises(IndexStoreError, match=f"{embeddings.dim} dimensions"):
        index.check_model(embeddings.model_id, 1024)
    with pytest.raises(IndexStoreError, match="--rebuild"):
        ingest_milvus([library], settings, embeddings=_Failing(embeddings, fail_on=99, model_id="other-model"))
    assert index.meta(refresh=True)["model_id"] == embeddings.model_id
    report = ingest_milvus([library], settings, embeddings=_Failing(embeddings, fail_on=99, model_id="other-model"), rebuild=True)
    assert sorted(report.added) == sorted(DOCS) and index.meta(refresh=True)["model_id"] == "other-model"


def test_migrate_from_faiss(corpus_settings, tmp_path):
    settings = milvus_settings(tmp_path / "migrated.db")
    report = migrate_faiss_to_milvus(settings, corpus_settings.index_dir)
    faiss = open_index(corpus_settings.index_dir)
    assert report.n_documents == 5 and report.n_chunks == faiss.n_chunks
    index = MilvusIndex.connect(settings)
    expected = faiss_passages(faiss)
    stored = {(r.doc_id, r.start, r.end, r.text): v for r, v in index.chunks_with_vectors()}
    assert sorted(stored) == sorted(expected)
    assert all(np.array_equal(v, expected[key]) for key, v in stored.items())  # copied, not re-embedded
    assert index.manifest.model_id == faiss.manifest.model_id and index.meta()["chunk_chars"] == faiss.manifest.chunk_chars
    # migrating again replaces the collections in one swap; the old pair is dropped
    migrate_faiss_to_milvus(settings, corpus_settings.index_dir)
    assert len(index.client.list_collections()) == 2 and index.n_chunks == faiss.n_chunks


# --------------------------------------------------------------------------------------------- bad input


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections and never answers (a hung server)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held = []

    def accept():
        while True:
            try:
                held.append(srv.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    srv.close()
    for conn in held:
        conn.close()


@pytest.mark.parametrize("kind", ["closed", "silent"])
def test_unreachable_milvus_fails_fast_naming_the_uri(kind, silent_server, tmp_path):
    uri = silent_server if kind == "silent" else f"http://127.0.0.1:{free_port()}"
    settings = get_settings(store="milvus", milvus_uri=uri, milvus_timeout=1.5, index_dir=tmp_path)
    for action in (lambda: load_milvus_retriever(settings), lambda: ingest_milvus([CORPUS], settings)):
        t = time.perf_counter()
        with pytest.raises(IndexStoreError, match=re.escape(uri)):
            action()
        assert time.perf_counter() - t < 6


def test_lite_uri_problems_are_clear(tmp_path):
    with pytest.raises(IndexStoreError, match="no Milvus index at .*python -m rag ingest"):
        MilvusIndex.connect(milvus_settings(tmp_path / "missing.db"))
    assert not (tmp_path / "missing.db").exists()
    with pytest.raises(IndexStoreError, match="ending in .db"):
        MilvusIndex.connect(get_settings(store="milvus", milvus_uri=str(tmp_path / "index"), index_dir=tmp_path))
    empty = MilvusIndex.connect(milvus_settings(tmp_path / "empty.db"), create=True)
    with pytest.raises(IndexStoreError, match="no index in Milvus"):
        empty.require()


# --------------------------------------------------------------------------------------------- CLI


def test_cli_migrate_search_docs_with_milvus(corpus_settings, tmp_path):
    uri = str(tmp_path / "cli.db")  # a file of its own: Milvus Lite serves one process
    result = run_cli("migrate", "--to", "milvus", "--milvus-uri", uri, "--index", str(corpus_settings.index_dir), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "copied 5 documents" in result.stdout

    result = run_cli("search", "Bệnh viện Bãi Cháy khám bao nhiêu lượt người?", "--k", "3", "--json", "--store", "milvus", "--milvus-uri", uri)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload) == {"query", "results"} and [r["rank"] for r in payload["results"]] == [1, 2, 3]
    for r in payload["results"]:
        assert set(r) == {"rank", "doc_id", "title", "text", "start", "end", "score"}

    result = run_cli("docs", "--json", HDYT_STORE="milvus", HDYT_MILVUS_URI=uri)  # the environment picks the store too
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload) == {"model_id", "n_chunks", "documents"} and len(payload["documents"]) == 5
    assert set(payload["documents"][0]) == {"doc_id", "title", "n_chunks", "dates", "source", "ocr_pages", "legacy_encoding"}


def test_cli_bad_milvus_uri_is_one_line(tmp_path, milvus_corpus):
    port = free_port()
    busy = milvus_corpus.milvus_uri  # open in this test process: Milvus Lite serves one process
    for args, expected in (
        (("search", "câu hỏi", "--store", "milvus", "--milvus-uri", f"http://127.0.0.1:{port}"), f"127.0.0.1:{port}"),
        (("ingest", str(CORPUS), "--store", "milvus", "--milvus-uri", f"http://127.0.0.1:{port}"), f"127.0.0.1:{port}"),
        (("search", "câu hỏi", "--store", "milvus", "--milvus-uri", str(tmp_path / "none.db")), "none.db"),
        (("docs", "--store", "milvus", "--milvus-uri", busy), "one process at a time"),
    ):
        result = run_cli(*args)
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and expected in errors[0], result.stderr
