"""Scale-out benchmarks: FAISS vs Milvus (Lite) search, single-process vs Ray ingest.

    nice -n 10 python -m bench.scale_out_bench [--only gold,ingest,scale] [--chunks 100000] [--copies 20]

gold    the shipped corpus and eval/gold.jsonl: hit@1 / hit@5 and search latency of both backends
        (Milvus built by migrating the FAISS index, i.e. the same vectors). Latency is measured
        twice: end to end (query embedding included) and search only (each question embedded once).
ingest  a library of ``--copies`` copies of corpus/ (distinct file names): passages per second of
        the single-process ingest and of the Ray ingest with 2 embedding actors on a local runtime
        (ray.init timed apart; actor start-up estimated from a one-document run and subtracted).
scale   ``--chunks`` synthetic passages (bench.synthetic's recombined corpus text, random unit
        vectors): build time and search-only latency of FAISS and of Milvus Lite for the gold
        questions (dense results are meaningless on random vectors; the timings are not).

Writes ``bench/results/scale_out.json``. Timings, not assertions; figures from one run on one
machine are comparable with each other only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .common import RESULTS, machine, summary_ms

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
GOLD = ROOT / "eval" / "gold.jsonl"


class SharedQueries:
    """The real model with a cache: each question is embedded once, whichever backend asks."""

    def __init__(self, inner):
        self._inner, self.model_id, self.dim, self._cache = inner, inner.model_id, inner.dim, {}

    def encode_queries(self, texts):
        key = tuple(texts)
        if key not in self._cache:
            self._cache[key] = self._inner.encode_queries(list(texts))
        return self._cache[key]


def evidence_hit(passages: list[str], evidences: list[str], k: int) -> bool:
    """Whether every evidence string is in one of the top ``k`` passages (whitespace-insensitive)."""
    from rag.text import collapse_whitespace

    texts = [collapse_whitespace(p) for p in passages[:k]]
    return all(any(collapse_whitespace(e) in t for t in texts) for e in evidences)


def bench_gold(tmp: Path, emb) -> dict:
    from eval.gold import load_gold
    from rag.config import get_settings
    from rag.ingest.local import ingest
    from rag.retrieval.milvus import MilvusRetriever
    from rag.backend import load_retriever as load_milvus_retriever
    from rag.ingest.milvus import migrate_faiss_to_milvus
    from rag.retrieval.hybrid import HybridRetriever
    from rag.backend import load_retriever
    from rag.text import collapse_whitespace

    settings = get_settings(index_dir=tmp / "gold-faiss", store="faiss", milvus_uri=str(tmp / "gold.db"))
    ingest([CORPUS], settings, embeddings=emb)
    migrate_faiss_to_milvus(settings, settings.index_dir)
    backends = {"faiss": load_retriever(settings), "milvus": load_milvus_retriever(settings.model_copy(update={"store": "milvus"}))}
    items = [i for i in load_gold(GOLD) if i.evidences]
    out: dict = {"questions": len(items)}
    # end to end: each backend embeds the question itself
    for name, r in backends.items():
        r.search("khởi động")  # warm-up
        times, hit1, hit5 = [], 0, 0
        for item in items:
            t = time.perf_counter()
            hits = r.search(item.question, k=5).hits
            times.append(time.perf_counter() - t)
            passages = [h.chunk.text for h in hits]
            hit1 += evidence_hit(passages, item.evidences, 1)
            hit5 += evidence_hit(passages, item.evidences, 5)
        out[name] = {"hit@1": round(hit1 / len(items), 3), "hit@5": round(hit5 / len(items), 3), "end_to_end_ms": summary_ms(times)}
    # search only: the question embedded once beforehand
    shared = SharedQueries(emb)
    for item in items:
        shared.encode_queries([collapse_whitespace(item.question)])
    for name, r in backends.items():
        cls = HybridRetriever if name == "faiss" else MilvusRetriever
        r2 = cls(**{**r.__dict__, "embeddings": shared})
        times = []
        for item in items:
            t = time.perf_counter()
            r2.search(item.question, k=5)
            times.append(time.perf_counter() - t)
        out[name]["search_only_ms"] = summary_ms(times)
    overlap = []
    for item in items:
        tops = [{(h.chunk.doc_id, h.chunk.start) for h in r.search(item.question, k=5).hits} for r in backends.values()]
        overlap.append(len(tops[0] & tops[1]) / 5)
    out["top5_overlap"] = round(float(np.mean(overlap)), 3)
    return out


def _library(folder: Path, copies: int) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for c in range(copies):
        for src in sorted(CORPUS.glob("*.txt")):
            shutil.copy(src, folder / f"{src.stem}_c{c:03d}.txt")
            n += 1
    return n


def bench_ingest(tmp: Path, emb, copies: int) -> dict:
    import logging

    import ray

    from rag.config import get_settings
    from rag.ingest.local import ingest
    from rag.ingest.ray import ray_ingest

    lib = tmp / "lib"
    n_docs = _library(lib, copies)
    one = tmp / "one-doc"
    one.mkdir()
    shutil.copy(sorted(CORPUS.glob("*.txt"))[0], one / "solo.txt")
    emb.encode_passages(["khởi động"])  # warm-up
    out: dict = {"documents": n_docs}

    t = time.perf_counter()
    r = ingest([lib], get_settings(index_dir=tmp / "single"), embeddings=emb)
    single = time.perf_counter() - t
    out["single_process"] = {"seconds": round(single, 1), "passages": r.n_chunks, "passages_per_s": round(r.n_chunks / single, 1)}

    t = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    init = time.perf_counter() - t
    try:
        t = time.perf_counter()
        small = ray_ingest([one], get_settings(index_dir=tmp / "ray-one", ray_workers=2), embeddings=emb)
        startup = time.perf_counter() - t
        t = time.perf_counter()
        r = ray_ingest([lib], get_settings(index_dir=tmp / "ray", ray_workers=2), embeddings=emb)
        total = time.perf_counter() - t
    finally:
        ray.shutdown()
    steady = max(total - startup, 1e-9)
    out["ray_2_workers"] = {
        "ray_init_seconds": round(init, 1),
        "one_document_run_seconds": round(startup, 1),
        "seconds": round(total, 1),
        "passages": r.n_chunks,
        "passages_per_s": round(r.n_chunks / total, 1),
        "passages_per_s_without_actor_startup": round((r.n_chunks - small.n_chunks) / steady, 1),
    }
    return out


def bench_scale(tmp: Path, emb, n_chunks: int, n_queries: int) -> dict:
    from bench.synthetic import generation_data
    from rag.config import get_settings
    from rag.index.faiss.dense import choose_kind
    from rag.index.faiss.writer import build_manifest as _manifest
    from rag.index.milvus.client import MilvusIndex
    from rag.retrieval.milvus import MilvusRetriever
    from rag.index.milvus.writer import MilvusWriter
    from rag.index.milvus.schema import PreparedDocument, make_meta
    from rag.retrieval.hybrid import HybridRetriever
    from rag.index.faiss.store import open_index
    from rag.index.faiss.writer import write_generation
    from rag.text import collapse_whitespace
    from bench.synthetic import gold_questions

    rng = np.random.default_rng(0)
    t = time.perf_counter()
    data = generation_data(n_chunks, None)
    vectors = rng.standard_normal((len(data.chunks), emb.dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    data.vectors = vectors
    gen_s = time.perf_counter() - t
    settings = get_settings(index_dir=tmp / "scale-faiss", milvus_uri=str(tmp / "scale.db"), store="milvus", milvus_timeout=120)
    out: dict = {"chunks": len(data.chunks), "documents": len(data.documents), "generate_seconds": round(gen_s, 1), "vectors": "random unit vectors"}

    t = time.perf_counter()
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    write_generation(settings.index_dir, data, _manifest(data, settings, emb.model_id, emb.dim, 0.0))
    out["faiss_build_seconds"] = round(time.perf_counter() - t, 1)
    kind = choose_kind(len(data.chunks), settings.dense_index, settings.approx_threshold)

    t = time.perf_counter()
    index = MilvusIndex.connect(settings, create=True)
    writer = MilvusWriter(index, make_meta(emb.model_id, emb.dim, settings), fresh=True)
    by_doc: dict[str, list[int]] = {}
    for i, c in enumerate(data.chunks):
        by_doc.setdefault(c.doc_id, []).append(i)
    batch, size = [], 0
    for d in data.documents:
        rows = by_doc.get(d.doc_id, [])
        batch.append(PreparedDocument(d, [data.chunks[i] for i in rows], vectors[rows]))
        size += len(rows)
        if size >= 2000:
            writer.put(batch)
            batch, size = [], 0
    writer.put(batch)
    writer.commit()
    out["milvus_lite_build_seconds"] = round(time.perf_counter() - t, 1)
    del data

    shared = SharedQueries(emb)
    questions = gold_questions()[:n_queries]
    for q in questions:
        shared.encode_queries([collapse_whitespace(q)])
    store = open_index(settings.index_dir)
    retrievers = {
        f"faiss_{kind}": HybridRetriever(store=store, embeddings=shared),
        "milvus_lite_flat": MilvusRetriever(store=MilvusIndex.connect(settings), embeddings=shared),
    }
    out["queries"] = len(questions)
    for name, r in retrievers.items():
        r.search(questions[0])
        times = []
        for q in questions:
            t = time.perf_counter()
            r.search(q, k=5)
            times.append(time.perf_counter() - t)
        out[name + "_search_only_ms"] = summary_ms(times)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="gold,ingest,scale")
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--queries", type=int, default=40, help="gold questions timed in the scale section")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from rag.embeddings import get_embeddings

    emb = get_embeddings()
    results: dict = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    with tempfile.TemporaryDirectory(prefix="scale-out-") as tmp_name:
        tmp = Path(tmp_name)
        for section in [s.strip() for s in args.only.split(",") if s.strip()]:
            t = time.perf_counter()
            if section == "gold":
                results["gold"] = bench_gold(tmp, emb)
            elif section == "ingest":
                results["ingest"] = bench_ingest(tmp, emb, args.copies)
            elif section == "scale":
                results["scale"] = bench_scale(tmp, emb, args.chunks, args.queries)
            results.setdefault("seconds", {})[section] = round(time.perf_counter() - t, 1)
            print(section, json.dumps(results[section], ensure_ascii=False), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "scale_out.json"
    previous = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    previous.update(results)  # sections run earlier stay
    path.write_text(json.dumps(previous, indent=1, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
