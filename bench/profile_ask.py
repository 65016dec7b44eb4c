"""Where a warm ``ask`` spends its milliseconds: cProfile over the gold questions, split by stage.

    python -m bench.profile_ask [--index DIR] [--questions eval/gold.jsonl] [--top 12]

The chain is warmed on a few questions of another set (eval/train), so each profiled question is
seen for the first time, as a user's would be (the unit-vector cache holds only what earlier
questions brought). The stages are cumulative times of the functions that do each job, made
exclusive by subtraction; "model" rows are time inside the embedding model. The latency section
of ``python -m bench.run`` runs this on its own index and shows the table in the report.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import time
from pathlib import Path

from .common import ROOT
from .synthetic import gold_questions

# (stage, file suffix, function): the cumulative time of that function
_FUNCTIONS = {
    "ask": ("rag/answer/chain.py", "answer"),
    "search": ("rag/retrieval/hybrid.py", "search"),
    "query_embedding": ("rag/embeddings/query_cache.py", "query_vector"),
    "unit_embedding": ("rag/embeddings/onnx.py", "encode_passages"),
    "scoring": ("rag/answer/features.py", "score_units"),
    "similarity": ("rag/answer/features.py", "add_similarity"),
    "json": ("rag/answer/chain.py", "to_json_dict"),
}


def _cumulative(stats: pstats.Stats) -> dict[str, float]:
    found = dict.fromkeys(_FUNCTIONS, 0.0)
    for (filename, _line, name), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        for stage, (suffix, func) in _FUNCTIONS.items():
            if name == func and filename.endswith(suffix):
                found[stage] += ct
    return found


def stages_ms(stats: pstats.Stats, n: int) -> dict[str, float]:
    """Exclusive milliseconds per ask of each stage (the rows add up to ``ask`` + ``json``)."""
    c = {k: v * 1000.0 / n for k, v in _cumulative(stats).items()}
    search_embed = min(c["query_embedding"], c["search"])  # the scorer's lookups of the same vector are cache hits
    return {
        "query embedding (model)": round(search_embed, 2),
        "search without the embedding (BM25, FAISS, fusion)": round(c["search"] - search_embed, 2),
        # at ask time the model embeds sentences only inside the scorer's similarity step
        "unit embedding (model: sentences without a stored vector)": round(c["unit_embedding"], 2),
        "unit similarity without the model (stored vectors, cosines)": round(max(0.0, c["similarity"] - c["unit_embedding"]), 2),
        "candidate features (spans, checks, coverage)": round(c["scoring"] - c["similarity"], 2),
        "composition (units, parts, rendering)": round(c["ask"] - c["search"] - c["scoring"], 2),
        "the answer as a JSON dict": round(c["json"], 2),
        "ask (total, under the profiler)": round(c["ask"] + c["json"], 2),
    }


def top_functions(stats: pstats.Stats, n: int, top: int) -> list[dict]:
    """The functions with the most own time per ask (the profiler's ``tottime``)."""
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:top]  # type: ignore[attr-defined]
    out = []
    for (filename, line, name), (_cc, calls, tt, ct, _callers) in rows:
        where = filename.split("/site-packages/")[-1].replace(str(ROOT) + "/", "")
        out.append({"function": f"{where}:{line}({name})", "own_ms": round(tt * 1000.0 / n, 2), "cum_ms": round(ct * 1000.0 / n, 2), "calls_per_ask": round(calls / n, 1)})
    return out


def profile(index_dir: Path, questions: list[str], top: int = 12) -> dict:
    """Profile one pass of ``questions`` on a warm chain over ``index_dir``."""
    from rag.answer.chain import build_answer_chain
    from rag.config import get_settings

    chain = build_answer_chain(get_settings(index_dir=index_dir, embed_backend="onnx"))
    for q in gold_questions(ROOT / "eval" / "train" / "gold.jsonl")[:5]:
        chain.answer(q)
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    for q in questions:
        json.dumps(chain.answer(q).to_json_dict(), ensure_ascii=False)
    profiler.disable()
    wall = time.perf_counter() - t0
    stats = pstats.Stats(profiler)
    return {
        "questions": len(questions),
        "wall_ms_per_ask": round(wall * 1000.0 / len(questions), 2),
        "stages_ms": stages_ms(stats, len(questions)),
        "top_functions": top_functions(stats, len(questions), top),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, default=ROOT / "index")
    parser.add_argument("--questions", type=Path, default=ROOT / "eval" / "gold.jsonl")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args(argv)
    result = profile(args.index, gold_questions(args.questions), args.top)
    print(f"{result['questions']} questions, {result['wall_ms_per_ask']:.1f} ms per ask under the profiler")
    for stage, ms in result["stages_ms"].items():
        print(f"  {ms:8.2f} ms  {stage}")
    print("own time per ask:")
    for row in result["top_functions"]:
        print(f"  {row['own_ms']:8.2f} ms  {row['calls_per_ask']:7.1f} calls  {row['function']}")


if __name__ == "__main__":
    main()
