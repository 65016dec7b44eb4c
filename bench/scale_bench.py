"""Scale curve (10k, 100k, 1M chunks) and incremental ingest on realistic synthetic data.

For each size a worker process (``python -m bench.scale_bench build ...``) generates the
synthetic reports and vectors (bench/synthetic.py), writes a real index generation with
``rag.store.write_generation`` (stage timings, peak memory), computes exact top-10 ground truth
with a flat index, and times exact and approximate (IVF) dense search. A second fresh process
(``probe``) opens the generation the way the app does (``open_index(mmap=True)``), runs the
queries and reports its resident memory and the latencies of dense search and BM25. The
``incremental`` worker then adds one real report with ``rag.ingest.ingest`` (embedding it with the
real model) and deletes it again, next to a full rebuild of the same data, in the same process.
The index layouts are compared by bench/layout_bench.py with the same workers.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .common import CACHE, ROOT, dir_size_mb, last_json_line, log, peak_rss_mb, rss_mb, run_python, summary_ms

SEED = 20240105
N_QUERIES = 200
FIT_PASSAGES = {"quick": 200, "full": 600}


# ---------------------------------------------------------------------------------------------
# Real vectors for the fit, and query vectors (cached: they need the embedding model)


def real_vectors(quick: bool) -> tuple[Path, Path, Path, str]:
    """Paths of (fit passages .npy, query vectors .npy, query tokens .json) and the model id.

    The fit passages are real embeddings of the corpus chunks and of synthetic passages, with
    their document ids beside them (``<fit>.docs.json``) for the two-level vector model.
    """
    from .latency_bench import embeddings_for
    from .synthetic import TextGenerator, gold_questions

    CACHE.mkdir(parents=True, exist_ok=True)
    n_syn = FIT_PASSAGES["quick" if quick else "full"]
    emb = embeddings_for("onnx")
    tag = f"{emb.model_id.replace(':', '_').replace('@', '_')}-{n_syn}-{SEED}"
    fit_path, q_path, tok_path = CACHE / f"fit-{tag}.npy", CACHE / f"queries-{tag}.npy", CACHE / "query_tokens.json"
    docs_path = fit_path.with_suffix(".docs.json")
    if not (fit_path.is_file() and docs_path.is_file()):
        log(f"scale: embedding {n_syn} synthetic passages + the corpus chunks for the vector model")
        from rag.ingest.chunking import chunk_document
        from rag.index.records import indexed_text
        from rag.config import Settings
        from rag.ingest.loaders import iter_paths, load_document

        settings = Settings()
        texts, labels = [], []
        for path in iter_paths([ROOT / "corpus"]):
            doc = load_document(path)
            for c in chunk_document(doc.doc_id, doc.title, doc.text, settings.chunk_chars, settings.overlap_chars):
                texts.append(indexed_text(c.title, c.text, settings.title_prefix))
                labels.append(doc.doc_id)
        for doc in TextGenerator(SEED + 7).documents(n_syn, prefix="fit"):
            for s, e in doc.passages:
                texts.append(indexed_text(doc.title, doc.text[s:e]))
                labels.append(doc.doc_id)
        np.save(fit_path, emb.encode_passages(texts))
        docs_path.write_text(json.dumps(labels), encoding="utf-8")
    if not q_path.is_file():
        np.save(q_path, emb.encode_queries(gold_questions()))
    from rag.text import tokenize, tokenize_folded

    questions = gold_questions()
    tok_path.write_text(json.dumps({"bm25": [tokenize(q) for q in questions], "bm25_folded": [tokenize_folded(q) for q in questions]}, ensure_ascii=False), encoding="utf-8")
    return fit_path, q_path, tok_path, emb.model_id


def fit_model(fit: Path):
    from .synthetic import VectorModel

    labels = json.loads(Path(fit).with_suffix(".docs.json").read_text(encoding="utf-8"))
    return VectorModel.fit(np.load(fit), np.asarray(labels), rank=64), np.asarray(labels)


# ---------------------------------------------------------------------------------------------
# Worker: build one size


def _search_latency(index, queries: np.ndarray, k: int = 30) -> list[float]:
    """Single-query latencies through FAISS directly (its default threading; the app goes through
    ``rag.dense.dense_top_k``, one thread per query, as the probe does)."""
    out = []
    for q in queries:
        t0 = time.perf_counter()
        index.search(q.reshape(1, -1), k)
        out.append(time.perf_counter() - t0)
    return out


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a[:10].tolist()) & set(b[:10].tolist())) / 10 for a, b in zip(found, truth)]))


def worker_build(args) -> dict:
    import faiss

    from rag.config import Settings
    from rag.index.faiss.dense import build_dense_index, choose_kind, dense_top_k
    from rag.index.faiss.writer import build_manifest as _manifest
    from rag.index.faiss.writer import write_generation

    from .synthetic import doc_sizes, generation_data, perturbed_queries

    n = args.n
    out: dict = {"n_chunks": n}
    t0 = time.perf_counter()
    data = generation_data(n, None, seed=SEED)
    out["text_seconds"] = round(time.perf_counter() - t0, 2)
    out["n_documents"] = len(data.documents)
    t0 = time.perf_counter()
    model, _ = fit_model(Path(args.fit))
    data.vectors = vectors = model.sample(doc_sizes(c.doc_id for c in data.chunks), seed=SEED + n)
    out["sample_seconds"] = round(time.perf_counter() - t0, 2)
    queries = perturbed_queries(np.load(args.queries), N_QUERIES, seed=SEED)

    settings = Settings(dense_index="auto")
    kind = choose_kind(n, settings.dense_index, settings.approx_threshold)  # what the manifest records
    index_dir = Path(args.index)
    rss0 = rss_mb()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    # the manifest names the model the vectors imitate
    write_generation(index_dir, data, _manifest(data, settings, args.model_id, int(vectors.shape[1]), 0.0), timings=timings)
    out["build"] = {"seconds": round(time.perf_counter() - t0, 2), "stages": {k: round(v, 2) for k, v in timings.items()}, "dense_kind": kind}
    out["build"]["peak_rss_mb"] = round(peak_rss_mb(), 1)
    out["build"]["rss_before_mb"] = round(rss0, 1)
    del data

    # exact ground truth and exact search latency
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    truth = flat.search(queries, 10)[1]
    np.save(Path(args.index) / "bench_truth.npy", truth)
    n_lat = N_QUERIES if n <= 100_000 else 60
    out["exact_flat"] = summary_ms(_search_latency(flat, queries[:n_lat]))
    del flat
    # the approximate index at this size (the generation holds it already when auto chose it)
    if kind != "ivf":
        t0 = time.perf_counter()
        ivf = build_dense_index(vectors, "ivf")
        ivf_seconds = time.perf_counter() - t0
        found, lat = [], []
        for q in queries:  # as the app searches: one thread, exact last step from the vectors
            t0 = time.perf_counter()
            found.append(dense_top_k(ivf, q, 30, vectors)[0][:10])
            lat.append(time.perf_counter() - t0)
        found_arr = np.full((len(found), 10), -1)
        for i, f in enumerate(found):
            found_arr[i, : len(f)] = f
        out["ivf_in_process"] = {
            "build_seconds": round(ivf_seconds, 2),
            "nlist": int(faiss.extract_index_ivf(ivf).nlist),
            "nprobe": int(faiss.extract_index_ivf(ivf).nprobe),
            "recall_at_10": round(recall_at_10(found_arr, truth), 4),
            "latency": summary_ms(lat),
        }
    out["disk_mb"] = _disk(index_dir)
    return out


def _disk(index_dir: Path) -> dict:
    from rag.index.faiss.generations import live_generation

    gen = live_generation(index_dir)
    parts = {"total": dir_size_mb(gen)}
    for p in gen.iterdir():
        if p.name == "bench_truth.npy":
            continue
        parts[p.name] = p.stat().st_size / 2**20 if p.is_file() else dir_size_mb(p)
    return {k: round(v, 1) for k, v in parts.items()}


# ---------------------------------------------------------------------------------------------
# Worker: probe a built index in a fresh process


def rss_parts_mb() -> dict:
    """Resident memory as the kernel splits it: anonymous (FAISS, Python objects) and file-backed
    (the memory-mapped index files the queries touched)."""
    lines = (line.split() for line in Path("/proc/self/status").read_text().splitlines())
    return {f[0].rstrip(":"): round(int(f[1]) / 1024, 1) for f in lines if f and f[0] in ("RssAnon:", "RssFile:")}


def worker_probe(args) -> dict:
    from rag.index.faiss.sparse import bm25_top_k
    from rag.index.faiss.store import open_index

    queries = np.load(args.queries)
    from .synthetic import perturbed_queries

    queries = perturbed_queries(queries, N_QUERIES, seed=SEED)
    tokens = json.loads(Path(args.tokens).read_text(encoding="utf-8"))
    import faiss  # noqa: F401 - imported before the baseline, like the app does
    import bm25s  # noqa: F401
    import rag.retrieval.hybrid  # noqa: F401 - langchain-core and the retriever, for the hybrid pass

    rss_base = rss_mb()
    t0 = time.perf_counter()
    store = open_index(args.index, mmap=True)
    load_s = time.perf_counter() - t0
    rss_loaded = rss_mb()
    parts_loaded = rss_parts_mb()
    first_search_s = _first_search(store, np.load(args.queries))  # what the lazy parts cost the first user
    truth = np.load(Path(args.index) / "bench_truth.npy")

    def dense_pass():
        found, lat = [], []
        for q in queries:
            t0 = time.perf_counter()
            ids, _ = store.dense_search(q, 30)
            lat.append(time.perf_counter() - t0)
            found.append(ids[:10])
        return found, lat

    def bm25_pass():
        both, acc_lat, fold_lat = [], [], []
        for acc, fold in zip(tokens["bm25"], tokens["bm25_folded"]):
            t0 = time.perf_counter()
            bm25_top_k(store.bm25, acc, 30)
            t1 = time.perf_counter()
            bm25_top_k(store.bm25_folded, fold, 30)
            t2 = time.perf_counter()
            acc_lat.append(t1 - t0)
            fold_lat.append(t2 - t1)
            both.append(t2 - t0)
        return both, acc_lat, fold_lat

    # first pass: the memory-mapped files are paged in as queries touch them; second pass: warm
    _, dense_first = dense_pass()
    bm25_first, _, _ = bm25_pass()
    found, dense_lat = dense_pass()
    rss_dense = rss_mb()
    bm25_both, bm25_acc, bm25_fold = bm25_pass()
    rss_after = rss_mb()
    hybrid = _hybrid_latency(store, np.load(args.queries))
    rss_hybrid = rss_mb()
    parts_after = rss_parts_mb()
    found_arr = np.full((len(found), 10), -1)
    for i, f in enumerate(found):
        found_arr[i, : len(f)] = f
    return {
        "dense_kind": store.manifest.dense_kind,
        "load_seconds": round(load_s, 3),
        "first_hybrid_search_ms": round(first_search_s * 1000, 1),
        "rss_baseline_mb": round(rss_base, 1),
        "rss_after_load_mb": round(rss_loaded, 1),
        "rss_after_queries_mb": round(rss_after, 1),
        "index_resident_mb": round(rss_after - rss_base, 1),
        "resident_after_dense_passes_mb": round(rss_dense - rss_base, 1),
        "resident_after_hybrid_searches_mb": round(rss_hybrid - rss_base, 1),
        "rss_parts_after_load_mb": parts_loaded,
        "rss_parts_after_hybrid_mb": parts_after,
        "dense": summary_ms(dense_lat),
        "dense_first_pass": summary_ms(dense_first),
        "bm25_both_first_pass": summary_ms(bm25_first),
        "dense_recall_at_10": round(recall_at_10(found_arr, truth), 4),
        "bm25_both": summary_ms(bm25_both),
        "bm25_accented": summary_ms(bm25_acc),
        "bm25_folded": summary_ms(bm25_fold),
        "hybrid_search_without_embedding": summary_ms(hybrid),
    }


class _KnownQueryVectors:
    """Stands in for the model in the probe: the gold questions' real vectors, computed earlier, found
    by folded text (an accent-less question is embedded restored, rag.query.restore)."""

    def __init__(self, texts: list[str], vectors: np.ndarray) -> None:
        from rag.text import fold
        self.fold = fold
        self.by_text = {fold(t).lower(): v for t, v in zip(texts, vectors)}

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.by_text[self.fold(t).lower()] for t in texts])


def _gold_retriever(store, query_vectors: np.ndarray):
    """(retriever over ``store`` with the gold questions' vectors standing in for the model, the questions)."""
    from rag.retrieval.hybrid import HybridRetriever
    from rag.text import collapse_whitespace

    from .synthetic import gold_questions

    questions = [collapse_whitespace(q) for q in gold_questions()]
    return HybridRetriever(store=store, embeddings=_KnownQueryVectors(questions, query_vectors)), questions


def _first_search(store, query_vectors: np.ndarray) -> float:
    """Seconds of the first hybrid search after opening (restorer, first pages and lookups included)."""
    retriever, questions = _gold_retriever(store, query_vectors)
    t0 = time.perf_counter()
    retriever.search(questions[0])
    return time.perf_counter() - t0


def _hybrid_latency(store, query_vectors: np.ndarray) -> list[float]:
    """``HybridRetriever.search`` as the app runs it (BM25 threads beside FAISS, fusion, chunk
    fetch), the query embedding excluded: the gold questions, warm-up pass then a timed one."""
    retriever, questions = _gold_retriever(store, query_vectors)
    out = []
    for timed in (False, True):
        for q in questions:
            t0 = time.perf_counter()
            retriever.search(q)
            if timed:
                out.append(time.perf_counter() - t0)
    return out


# ---------------------------------------------------------------------------------------------
# Worker: incremental ingest on a built index


def worker_incremental(args) -> dict:
    """Add one real report to a built library, delete one of its documents, delete the report, then
    force the merge: each timed, and hybrid search latency on the library with its delta next to
    the same library merged (ratios in one process)."""
    from rag.config import get_settings
    from rag.ingest.local import delete_documents, ingest, merge_at
    from rag.index.faiss.writer import GenerationData, write_generation
    from rag.index.faiss.generations import live_generation
    from rag.index.faiss.store import open_index

    from .latency_bench import embeddings_for

    emb = embeddings_for(args.backend)
    settings = get_settings(index_dir=args.index)
    report_file = ROOT / "corpus" / "004_deafa303e7a50af3.txt"
    embed_seconds: list[float] = []
    encode = emb.encode_passages

    def timed_encode(texts, **kwargs):
        t0 = time.perf_counter()
        try:
            return encode(texts, **kwargs)
        finally:
            embed_seconds.append(time.perf_counter() - t0)

    def stages(report, seconds: float) -> dict:
        out = {k: round(v, 3) for k, v in report.stage_seconds.items()}
        out["embed_report"] = round(sum(embed_seconds), 3)
        written = sum(v for k, v in report.stage_seconds.items() if k not in ("dense_updated", "bm25_cached"))
        out["write"] = round(written, 3)
        out["other (open, plan, stats)"] = round(seconds - written - sum(embed_seconds), 3)
        out["writer"] = report.writer
        embed_seconds.clear()
        return out

    def step(action) -> tuple[float, dict]:
        t0 = time.perf_counter()
        report = action()
        seconds = time.perf_counter() - t0
        return round(seconds, 3), stages(report, seconds)

    store = open_index(args.index, searchable=False)
    library_chunks, kind = store.manifest.n_chunks, store.manifest.dense_kind
    base_doc = next(iter(store.manifest.documents))
    base_doc_chunks = store.manifest.documents[base_doc].n_chunks
    store.close()
    query_vectors = np.load(args.queries)
    emb.encode_passages(["khởi động"])  # warm the model: we time the ingest, not the model load
    emb.encode_passages = timed_encode
    result: dict = {"library_chunks": library_chunks, "dense_kind": kind}
    try:
        result["add_report_seconds"], result["add_report_stages"] = step(lambda: ingest([report_file], settings, embeddings=emb))
        result["delete_base_document_seconds"], result["delete_base_document_stages"] = step(lambda: delete_documents([base_doc], settings))
        result["deleted_base_chunks"] = base_doc_chunks
        store = open_index(args.index, mmap=True)
        result["report_chunks"] = store.manifest.delta_chunks
        result["segments"] = {"delta": store.manifest.delta_chunks, "deleted": store.manifest.deleted_chunks}
        segmented = _hybrid_latency(store, query_vectors)
        store.close()
        result["delete_report_seconds"], result["delete_report_stages"] = step(lambda: delete_documents([report_file.stem], settings))
        merging = settings.model_copy(update={"merge_at": 0})  # the next write merges: what every change cost before deltas
        result["add_report_with_merge_seconds"], result["add_report_with_merge_stages"] = step(
            lambda: ingest([report_file], merging, embeddings=emb)
        )
        store = open_index(args.index, mmap=True)
        merged = _hybrid_latency(store, query_vectors)
        store.close()
    finally:
        del emb.encode_passages
    result["hybrid_search_with_delta"] = summary_ms(segmented)
    result["hybrid_search_merged"] = summary_ms(merged)
    result["hybrid_p50_delta_over_merged"] = round(float(np.median(segmented)) / float(np.median(merged)), 2)
    result["merge_every_chunks"] = merge_every = merge_at(library_chunks)
    result["amortised_add_seconds"] = round(
        result["add_report_seconds"] + result["add_report_with_merge_seconds"] * result["report_chunks"] / merge_every, 3
    )
    if args.no_full:
        return result

    # the same data written from scratch (no previous generation to reuse): what every ingest cost at first
    store = open_index(args.index, searchable=False)
    from rag.index.records import Chunk

    documents = [store.document(d) for d in store.manifest.documents]
    by_doc: dict[str, list] = {}
    for r in store.all_chunks():
        by_doc.setdefault(r.doc_id, []).append(r)
    chunks = [Chunk(r.doc_id, r.title, r.start, r.end, r.text, i) for d in by_doc.values() for i, r in enumerate(d)]
    vectors = np.asarray(store.vectors())
    manifest = store.manifest
    store.close()
    full: dict[str, float] = {}
    t0 = time.perf_counter()
    write_generation(Path(args.index), GenerationData(documents, chunks, vectors), manifest, timings=full)
    full_s = time.perf_counter() - t0
    result.update(
        full_rebuild_seconds=round(full_s, 2),
        full_rebuild_stages={k: round(v, 3) for k, v in full.items()},
        full_over_add_ratio=round(full_s / result["add_report_seconds"], 2),
        generation=live_generation(Path(args.index)).name,
    )
    return result


# ---------------------------------------------------------------------------------------------
# Orchestrator


def run(quick: bool = False, sizes: list[int] | None = None) -> dict:
    sizes = sizes or ([10_000] if quick else [10_000, 100_000, 1_000_000])
    # add + delete one report at these sizes; a full rebuild of the same data next to it only
    # where it is affordable (at a million chunks the build above is that figure)
    incremental_at = {10_000: True} if quick else {10_000: True, 100_000: True, 1_000_000: False}
    fit, queries, tokens, model_id = real_vectors(quick)
    from .synthetic import doc_sizes, perturbed_queries, similarity_profile

    real = np.load(fit)
    q = perturbed_queries(np.load(queries), N_QUERIES, seed=SEED)
    model, labels = fit_model(fit)
    result: dict = {
        "seed": SEED,
        "queries": N_QUERIES,
        "fit_vectors": int(len(real)),
        "fit_documents": int(len(set(labels.tolist()))),
        "vector_model": model.describe(),
        "profile_real": similarity_profile(real, q, labels),
        "profile_synthetic_same_sizes": similarity_profile(model.sample(doc_sizes(labels), seed=1), q, labels),
        "sizes": {},
    }
    root = Path(tempfile.mkdtemp(prefix="hdyt-bench-scale-"))
    try:
        for n in sizes:
            index = root / f"index-{n}"
            log(f"scale: building {n:,} chunks")
            entry: dict = {}
            _, proc = run_python(["-m", "bench.scale_bench", "build", "--n", str(n), "--index", str(index), "--fit", str(fit), "--queries", str(queries), "--model-id", model_id], timeout=5400)
            try:
                entry.update(last_json_line(proc.stdout))
            except ValueError:
                entry["error"] = proc.stderr[-1500:]
                result["sizes"][str(n)] = entry
                continue
            log(f"scale: probing {n:,} chunks in a fresh process")
            _, proc = run_python(["-m", "bench.scale_bench", "probe", "--index", str(index), "--queries", str(queries), "--tokens", str(tokens)], timeout=1800)
            try:
                entry["probe"] = last_json_line(proc.stdout)
            except ValueError:
                entry["probe"] = {"error": proc.stderr[-1500:]}
            if n in incremental_at:
                log(f"scale: incremental ingest on {n:,} chunks")
                extra = [] if incremental_at[n] else ["--no-full"]
                _, proc = run_python(["-m", "bench.scale_bench", "incremental", "--index", str(index), "--queries", str(queries), "--backend", "onnx", *extra], timeout=3600)
                try:
                    inc = last_json_line(proc.stdout)
                    if not incremental_at[n] and "build" in entry:
                        inc["full_rebuild_seconds"] = entry["build"]["seconds"]
                        inc["full_rebuild_stages"] = entry["build"]["stages"]
                        inc["full_over_add_ratio"] = round(entry["build"]["seconds"] / inc["add_report_seconds"], 2)
                        inc["full_rebuild_note"] = "the from-scratch build of this size above"
                except ValueError:
                    inc = {"error": proc.stderr[-1500:]}
                result.setdefault("incremental", {})[str(n)] = inc
            result["sizes"][str(n)] = entry
            shutil.rmtree(index, ignore_errors=True)
            log(f"scale: {n:,} done: " + json.dumps({k: entry.get(k) for k in ("build",)})[:300])
        return result
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--n", type=int, required=True)
    b.add_argument("--index", required=True)
    b.add_argument("--fit", required=True)
    b.add_argument("--queries", required=True)
    b.add_argument("--model-id", required=True)
    p = sub.add_parser("probe")
    p.add_argument("--index", required=True)
    p.add_argument("--queries", required=True)
    p.add_argument("--tokens", required=True)
    i = sub.add_parser("incremental")
    i.add_argument("--index", required=True)
    i.add_argument("--queries", required=True)
    i.add_argument("--backend", default="onnx")
    i.add_argument("--no-full", action="store_true", help="skip the full rebuild for comparison")
    args = parser.parse_args()
    worker = {"build": worker_build, "probe": worker_probe, "incremental": worker_incremental}[args.cmd]
    print(json.dumps(worker(args), default=float))


if __name__ == "__main__":
    main()
