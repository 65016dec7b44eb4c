"""Evaluate the assistant on a gold file: retrieval, answers, abstention, citations, latency.

Usage::

    python -m eval.run --gold eval/gold.jsonl [--split dev|test] [--corpus corpus] [--index DIR]
                       [--json OUT] [--report DIR] [--baseline] [--ablations] [--k 5] [--fold-questions]
    python -m eval.run --suite [--sets dev,test,extra,viquad,train,compare] [--report DIR] [--json OUT]

``--suite`` evaluates every set side by side, each over its own temporary index
(:mod:`eval.suite`); ``--split`` keeps the dev or test half of the gold file (:mod:`eval.split`);
``--fold-questions`` asks every question without its diacritics.

Without ``--index`` the corpus is ingested into a temporary index first (its build time is
reported). ``--baseline`` also evaluates the LangChain tutorial pipeline (:mod:`eval.baseline`);
``--ablations`` adds retrieval-only rows for dense only, BM25 only and hybrid without the title
prefix (a second temporary index), next to hybrid. Any file in the gold format works
(:func:`eval.gold.load_gold`); follow-up items pass their ``history`` to the answer chain.

Which query is ranked: our retrieval metrics rank the query the chain actually searched with
(``Answer.rewritten_query``: a follow-up is rewritten with its history), so they describe the
retrieval behind the answer; ablations reuse that same query. The baseline ranks the question as
asked. Ranking metrics use the top 10 (MRR@10) of each retriever; the baseline's answer and
citations use its own top 4.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is local; never try the hub

from eval.aggregate import SYSTEM_LABELS, TARGETS, aggregate, check_targets, summarize  # noqa: E402
from eval.engine import SystemRun, build_index, fold_questions, make_chain, run_baseline, run_ours, save_outputs  # noqa: E402
from eval.gold import load_gold  # noqa: E402
from eval.split import SPLITS, split_items  # noqa: E402
from eval.suite import SET_NAMES, run_suite  # noqa: E402

__all__ = ["SYSTEM_LABELS", "TARGETS", "aggregate", "check_targets", "main", "parse_args", "summarize"]


# --------------------------------------------------------------------------- CLI


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m eval.run", description=__doc__.splitlines()[0])
    p.add_argument("--gold", type=Path, default=None, help="gold questions (JSONL, eval/gold.py format; not with --suite)")
    p.add_argument("--corpus", type=Path, default=None, help="documents to index (default: settings corpus_dir, corpus/)")
    p.add_argument("--index", type=Path, default=None, help="use this built index instead of building one from --corpus")
    p.add_argument("--json", type=Path, default=None, help="write the summary metrics here")
    p.add_argument("--report", type=Path, default=None, help="write report.md, plots and per_question.jsonl here")
    p.add_argument("--baseline", action="store_true", help="also evaluate the LangChain tutorial baseline")
    p.add_argument("--ablations", action="store_true", help="also rank with dense only, BM25 only, hybrid without titles")
    p.add_argument("--k", type=int, default=5, help="cut-off of hit@k and evidence recall@k (default 5)")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N questions (of each set with --suite)")
    p.add_argument("--quiet", action="store_true", help="no per-question progress on stderr")
    p.add_argument("--split", choices=SPLITS, default=None, help="only the dev or the test half of --gold (eval/split.py)")
    p.add_argument("--fold-questions", action="store_true", help="ask every question without its diacritics (rag.text.fold)")
    p.add_argument("--suite", action="store_true", help="evaluate every set side by side, each over its own index")
    p.add_argument("--sets", default=",".join(SET_NAMES), help="sets of --suite, comma-separated (default: all)")
    p.add_argument("--viquad", type=Path, default=None, help="viquad folder (default <repo>/../shared/benchmarks/viquad-train)")
    args = p.parse_args(argv)
    if args.k < 1:
        p.error("--k must be at least 1")
    if args.suite:
        single = [flag for flag, on in (("--gold", args.gold), ("--corpus", args.corpus), ("--index", args.index),
                                        ("--baseline", args.baseline), ("--ablations", args.ablations),
                                        ("--split", args.split)) if on]
        if single:
            p.error(f"--suite evaluates fixed sets; {', '.join(single)} only apply to a single gold file")
        args.sets = [name.strip() for name in args.sets.split(",") if name.strip()]
        unknown = [name for name in args.sets if name not in SET_NAMES]
        if unknown or not args.sets:
            p.error(f"--sets: unknown set(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(SET_NAMES)}")
    elif args.gold is None:
        p.error("--gold is required (or use --suite)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.suite:
        return run_suite(args)
    from rag.config import get_settings
    from rag.embeddings import get_embeddings
    from rag.retrieval.hybrid import HybridRetriever
    from rag.index.faiss.store import open_index

    from eval.report import format_summary_table, format_targets, write_report

    try:
        items = load_gold(args.gold)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.split:
        items = split_items(items, args.split)
    if args.fold_questions:
        items = fold_questions(items)
    if args.limit is not None:
        items = items[: args.limit]
    if not items:
        print(f"error: no questions in {args.gold}", file=sys.stderr)
        return 2

    def say(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    base = get_settings()
    corpus = args.corpus or Path(base.corpus_dir)
    k = args.k
    embeddings = get_embeddings(base.model)
    systems: dict[str, SystemRun] = {}

    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hdyt-eval-")))
        build_s: float | None = None
        if args.index is None:
            if not corpus.is_dir():
                print(f"error: corpus directory not found: {corpus}", file=sys.stderr)
                return 2
            index_dir = tmp / "index"
            say(f"building the index from {corpus} ...")
            build_s = build_index(corpus, get_settings(index_dir=index_dir), embeddings)
        else:
            index_dir = args.index
        # The evaluation builds and reads FAISS index directories, whatever HDYT_STORE says.
        settings = get_settings(index_dir=index_dir, store="faiss")
        chain = make_chain(settings)
        store = chain.retriever.store
        stack.callback(store.close)
        manifest = store.manifest

        def retriever(mode: str, st: Any = store) -> HybridRetriever:
            return HybridRetriever(
                store=st, embeddings=embeddings, k=settings.top_k, fetch_k=settings.fetch_k,
                rrf_k=settings.rrf_k, mode=mode, max_query_chars=settings.max_question_chars,
            )

        ours_retriever = chain.retriever  # the hybrid retriever the answers come from
        ablation_retrievers: dict[str, Any] = {}
        no_title_build_s = None
        if args.ablations:
            ablation_retrievers["ablation_dense"] = retriever("dense")
            ablation_retrievers["ablation_bm25"] = retriever("bm25")
            if not corpus.is_dir():
                print(f"error: --ablations needs the corpus to build a no-title index: {corpus} not found", file=sys.stderr)
                return 2
            say("building the no-title-prefix index for the ablation ...")
            nt_settings = get_settings(
                index_dir=tmp / "index-no-title", title_prefix=False,
                chunk_chars=manifest.chunk_chars, overlap_chars=manifest.overlap_chars,
            )
            no_title_build_s = build_index(corpus, nt_settings, embeddings)
            nt_store = open_index(nt_settings.index_dir, model_id=embeddings.model_id)
            stack.callback(nt_store.close)
            ablation_retrievers["ablation_hybrid_no_title"] = retriever("hybrid", nt_store)

        say(f"evaluating {len(items)} questions ...")
        ours, extra = run_ours(items, chain, ours_retriever, k, ablation_retrievers, say)
        ours.build_seconds = build_s
        ours.info = {"index": str(args.index) if args.index else "(built for this run)", "model_id": manifest.model_id,
                     "n_chunks": manifest.n_chunks, "chunk_chars": manifest.chunk_chars,
                     "overlap_chars": manifest.overlap_chars, "title_prefix": manifest.title_prefix,
                     "top_k": settings.top_k, "answer_backend": settings.answer_backend}
        if getattr(chain, "llm_error", None):
            ours.info["llm_error"] = chain.llm_error
        systems["ours"] = ours

        if args.baseline:
            from eval.baseline import build_baseline, hf_embeddings

            say("building the LangChain tutorial baseline ...")
            bl = build_baseline(corpus, embeddings=hf_embeddings(base.model))
            systems["baseline"] = run_baseline(items, bl, k, say)
            systems["baseline"].info = {"n_chunks": bl.n_chunks, "chunk_size": 1000, "chunk_overlap": 200, "top_k": bl.k}

        if args.ablations:
            for name in ("ablation_dense", "ablation_bm25", "ablation_hybrid_no_title", "ablation_hybrid"):
                run = extra[name]
                run.build_seconds = no_title_build_s if name == "ablation_hybrid_no_title" else build_s
                systems[name] = run

    summary = {
        "gold": str(args.gold),
        "split": args.split,
        "folded_questions": args.fold_questions,
        "n_items": len(items),
        "k": k,
        "corpus": str(corpus),
        "created_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "systems": {name: summarize(run, k) for name, run in systems.items()},
    }
    summary["targets"] = check_targets(summary["systems"]["ours"]["overall"], k)

    print(format_summary_table(summary))
    print()
    print(format_targets(summary))
    save_outputs(summary, {name: run.records for name, run in systems.items()}, args.json, args.report, write_report, say)
    return 0


if __name__ == "__main__":
    sys.exit(main())
