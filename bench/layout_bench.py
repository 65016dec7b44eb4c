"""The index layouts at scale, one index, one run: ``python -m bench.layout_bench --n N [--index DIR]``.

The generation is probed (``bench.scale_bench probe``: open time, resident memory, dense/BM25/
hybrid latency, recall) as the previous layout wrote it (BM25 vocabularies in bm25s's JSON only, postings in its CSC
arrays only, per-document entries inline in manifest.json), then upgraded in place
(:func:`rag.index.faiss.writer.upgrade_generation`: binary vocabularies, compact BM25 postings,
documents.sqlite) and
probed again, each probe in a fresh process. ``--index`` takes an index built by
``bench.scale_bench build`` (kept); without it one of ``--n`` chunks is built and removed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from .common import last_json_line, log, run_python
from .scale_bench import real_vectors


def previous_layout(generation: Path) -> None:
    """Rewrite a generation as the previous layout wrote it: per-document entries inline in
    manifest.json, no documents.sqlite, BM25 vocabularies in bm25s's JSON only, postings in
    bm25s's CSC arrays only."""
    from rag.index.faiss.generations import DOCUMENTS, LEXICAL, MANIFEST, read_manifest
    from rag.index.faiss.impacts import FILES as IMPACT_FILES
    from rag.index.faiss.vocab import FILES as VOCAB_FILES

    files = VOCAB_FILES + IMPACT_FILES

    manifest = read_manifest(generation)
    (generation / MANIFEST).write_text(manifest.model_dump_json(indent=1), encoding="utf-8")
    (generation / DOCUMENTS).unlink(missing_ok=True)
    for segment in (generation, generation / "delta"):
        for name in LEXICAL:
            for file in files:
                (segment / name / file).unlink(missing_ok=True)


def worker_upgrade(args) -> dict:
    """``upgrade_generation`` on the live generation: seconds, and the files it added."""
    from rag.index.faiss.generations import live_generation, write_lock
    from rag.index.faiss.writer import upgrade_generation

    index_dir = Path(args.index)
    old = live_generation(index_dir)
    before = {p.relative_to(old) for p in old.rglob("*")}
    t0 = time.perf_counter()
    with write_lock(index_dir):
        new = upgrade_generation(index_dir, old)
    seconds = time.perf_counter() - t0
    return {"upgrade_seconds": round(seconds, 2), "added": sorted(str(p) for p in new.rglob("*") if p.relative_to(new) not in before)}


def run_layout(n: int, quick: bool = True, index: str | None = None) -> dict:
    """Build ``n`` chunks (or take the built ``index``), probe it in the previous layout, upgrade, probe again."""
    fit, queries, tokens, model_id = real_vectors(quick)
    root = Path(tempfile.mkdtemp(prefix="hdyt-bench-layout-"))
    index_dir = Path(index) if index else root / f"index-{n}"
    result: dict = {"n_chunks": n}
    try:
        if index is None:
            log(f"layout: building {n:,} chunks")
            _, proc = run_python(["-m", "bench.scale_bench", "build", "--n", str(n), "--index", str(index_dir), "--fit", str(fit), "--queries", str(queries), "--model-id", model_id], timeout=5400)
            result["build"] = last_json_line(proc.stdout).get("build")
        from rag.index.faiss.generations import live_generation

        previous_layout(live_generation(index_dir))
        probe = ["-m", "bench.scale_bench", "probe", "--index", str(index_dir), "--queries", str(queries), "--tokens", str(tokens)]
        log(f"layout: probing {n:,} chunks, previous layout")
        result["previous_layout"] = last_json_line(run_python(probe, timeout=1800)[1].stdout)
        result["upgrade"] = last_json_line(run_python(["-m", "bench.layout_bench", "upgrade", "--index", str(index_dir)], timeout=1800)[1].stdout)
        log(f"layout: probing {n:,} chunks, current layout")
        result["current_layout"] = last_json_line(run_python(probe, timeout=1800)[1].stdout)
        old, new = result["previous_layout"], result["current_layout"]
        result["ratios_current_over_previous"] = {
            "load_seconds": round(new["load_seconds"] / old["load_seconds"], 3),
            "index_resident_mb": round(new["index_resident_mb"] / old["index_resident_mb"], 3),
            "resident_after_hybrid_searches_mb": round(new["resident_after_hybrid_searches_mb"] / old["resident_after_hybrid_searches_mb"], 3),
            "hybrid_p95": round(new["hybrid_search_without_embedding"]["p95"] / old["hybrid_search_without_embedding"]["p95"], 3),
        }
        return result
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd")
    u = sub.add_parser("upgrade", help="worker: upgrade the live generation of --index")
    u.add_argument("--index", required=True)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--index", default=None, help="an index built by `bench.scale_bench build` (kept)")
    parser.add_argument("--full", action="store_true", help="fit the vector model on more passages")
    args = parser.parse_args()
    if args.cmd == "upgrade":
        print(json.dumps(worker_upgrade(args)))
    else:
        print(json.dumps(run_layout(args.n, quick=not args.full, index=args.index), default=float))


if __name__ == "__main__":
    main()
