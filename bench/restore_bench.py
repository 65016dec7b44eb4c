"""Cost of the diacritic restorer (rag/query/restore.py) at scale: build, file size, load, restore.

Usage::

    python -m bench.restore_bench [--chunks 100000] [--json OUT]

Builds the model the way the index writer does: from the accented BM25 token corpus of
``--chunks`` synthetic passages (:mod:`bench.synthetic`: the corpus's sentences with names, places
and numbers refilled), so "tokenise" is the BM25 work the writer does anyway and "count" is what
the restorer adds. Then saves it, loads it as a store does (with the question words) and restores
the folded gold questions, timing each.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from bench.synthetic import TextGenerator, gold_questions
    from rag.index.faiss.sparse import tokenize_corpus
    from rag.index.records import indexed_text
    from rag.query.restore import FILENAME, SyllableRestorer, for_segments
    from rag.text import fold, tokenize

    p = argparse.ArgumentParser(prog="python -m bench.restore_bench", description=__doc__.splitlines()[0])
    p.add_argument("--chunks", type=int, default=100_000)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)

    texts = [
        indexed_text(doc.title, doc.text[s:e])
        for doc in TextGenerator(0).documents(args.chunks)
        for s, e in doc.passages
    ]
    out: dict[str, float | int] = {"chunks": len(texts)}
    # CPU seconds beside wall seconds: on a shared machine the wall clock measures the neighbours
    t, cpu = time.perf_counter(), time.process_time()
    corpus = tokenize_corpus(texts, tokenize)
    out["tokenise_s"], out["tokenise_cpu_s"] = time.perf_counter() - t, time.process_time() - cpu
    out["tokens"] = len(corpus.ids)
    t, cpu = time.perf_counter(), time.process_time()
    model = SyllableRestorer.from_token_ids(corpus.vocab, corpus.ids, corpus.offsets)
    out["count_s"], out["count_cpu_s"] = time.perf_counter() - t, time.process_time() - cpu
    out["syllable_forms"], out["bigrams"] = len(model.vocab), len(model.bigram_keys)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / FILENAME
        t = time.perf_counter()
        model.save(path)
        out["save_s"] = time.perf_counter() - t
        out["file_mb"] = path.stat().st_size / 1e6
        t = time.perf_counter()
        loaded = for_segments([(path, lambda: iter(()))])
        out["load_s"] = time.perf_counter() - t
    times = []
    for question in gold_questions():
        folded = fold(question)
        t = time.perf_counter()
        loaded.restore(folded)
        times.append((time.perf_counter() - t) * 1000.0)
    times.sort()
    out["restore_ms_p50"] = statistics.median(times)
    out["restore_ms_p95"] = times[int(0.95 * (len(times) - 1))]
    for key, value in out.items():
        print(f"{key:16} {value:.3f}" if isinstance(value, float) else f"{key:16} {value}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
