"""Every evaluation set side by side: ``python -m eval.run --suite [--sets …]``.

The sets (each over its own corpus, indexed once in a temporary directory; gold dev and test
share the index of ``corpus/``):

* ``dev``: the dev half of ``eval/gold.jsonl`` (:mod:`eval.split`), to fit and tune on;
* ``test``: its test half, reported only;
* ``extra``: ``eval/extra/`` (held-out test set over 12 new reports);
* ``viquad``: ``<repo>/../shared/benchmarks/viquad-train`` (public, out-of-domain check),
  skipped with a message when the folder is missing;
* ``train``: ``eval/train/`` (the fitting set: optimistic by construction);
* ``compare``: ``eval/train/compare.jsonl`` over ``eval/train/corpus`` (computed comparisons: a
  dev set to fit on, sharing train's index).

One table (set, n, hit@k, accuracy, lead accuracy, abstention P/R, citation P, number
faithfulness, latency) is printed; ``--report`` adds per-set and per-kind tables and the
risk–coverage curve (:mod:`eval.suite_report`); ``--json`` writes every set's metrics.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.aggregate import per_kind, summarize
from eval.engine import SystemRun, build_index, fold_questions, make_chain, run_ours, save_outputs
from eval.gold import GoldItem, load_gold
from eval.split import split_items

__all__ = ["SET_NAMES", "EvalSet", "default_sets", "find_shared_dir", "run_suite"]

ROOT = Path(__file__).resolve().parent.parent
SET_NAMES: tuple[str, ...] = ("dev", "test", "extra", "viquad", "train", "compare")
VIQUAD_SUBDIR = Path("benchmarks") / "viquad-train"


@dataclass(frozen=True)
class EvalSet:
    """One gold file (or half of one) and the corpus its questions are about."""

    name: str
    label: str
    role: str  # "tune" (fit and tune on it) or "test" (report only)
    gold: Path
    corpus: Path
    split: str | None = None


def find_shared_dir(root: Path = ROOT) -> Path | None:
    """``<repo>/../shared``; from a git worktree (``.git`` is a file), the main checkout's one."""
    candidates = [root.parent / "shared"]
    dot_git = root / ".git"
    if dot_git.is_file():  # "gitdir: /main/.git/worktrees/NAME"
        text = dot_git.read_text(encoding="utf-8").strip()
        if text.startswith("gitdir:"):
            gitdir = Path(text.split(":", 1)[1].strip())
            if gitdir.parent.name == "worktrees":
                candidates.append(gitdir.parent.parent.parent.parent / "shared")
    return next((c for c in candidates if c.is_dir()), None)


def default_sets(root: Path = ROOT, viquad: Path | None = None) -> dict[str, EvalSet]:
    """The suite's sets by name (``viquad`` only when its folder is found)."""
    gold = root / "eval" / "gold.jsonl"
    sets = {
        "dev": EvalSet("dev", "gold dev (tune)", "tune", gold, root / "corpus", "dev"),
        "test": EvalSet("test", "gold test", "test", gold, root / "corpus", "test"),
        "extra": EvalSet("extra", "extra (held-out test)", "test", root / "eval" / "extra" / "gold.jsonl",
                         root / "eval" / "extra" / "corpus"),
        "train": EvalSet("train", "train (fitting set)", "tune", root / "eval" / "train" / "gold.jsonl",
                         root / "eval" / "train" / "corpus"),
        "compare": EvalSet("compare", "compare (dev, comparisons)", "tune", root / "eval" / "train" / "compare.jsonl",
                           root / "eval" / "train" / "corpus"),
    }
    if viquad is None:
        shared = find_shared_dir(root)
        viquad = shared / VIQUAD_SUBDIR if shared else None
    if viquad is not None and (viquad / "gold.jsonl").is_file() and (viquad / "corpus").is_dir():
        sets["viquad"] = EvalSet("viquad", "viquad (out of domain)", "test", viquad / "gold.jsonl", viquad / "corpus")
    return sets


def load_set(spec: EvalSet, fold: bool = False, limit: int | None = None) -> list[GoldItem]:
    """The questions of one set: its split, folded when asked, the first ``limit``."""
    items = load_gold(spec.gold)
    if spec.split:
        items = split_items(items, spec.split)
    if fold:
        items = fold_questions(items)
    return items[:limit] if limit is not None else items


def evaluate_sets(
    specs: list[EvalSet], items: dict[str, list[GoldItem]], k: int, say: Any
) -> dict[str, SystemRun]:
    """Run our system on each set; one index per distinct corpus, built in a temporary directory."""
    from rag.config import get_settings
    from rag.embeddings import get_embeddings

    embeddings = get_embeddings(get_settings().model)
    runs: dict[str, SystemRun] = {}
    by_corpus: dict[Path, list[EvalSet]] = {}
    for spec in specs:
        by_corpus.setdefault(spec.corpus.resolve(), []).append(spec)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hdyt-suite-")))
        for i, (corpus, group) in enumerate(by_corpus.items()):
            index_dir = tmp / f"index-{i}"
            say(f"building the index of {corpus} for {', '.join(s.name for s in group)} ...")
            build_s = build_index(corpus, get_settings(index_dir=index_dir), embeddings)
            settings = get_settings(index_dir=index_dir, store="faiss")
            chain = make_chain(settings)
            stack.callback(chain.retriever.store.close)
            manifest = chain.retriever.store.manifest
            for spec in group:
                say(f"evaluating {spec.name}: {len(items[spec.name])} questions ...")
                run, _ = run_ours(items[spec.name], chain, chain.retriever, k, None, say)
                run.name, run.build_seconds = spec.name, build_s
                run.info = {"model_id": manifest.model_id, "n_chunks": manifest.n_chunks,
                            "shared_index_with": [s.name for s in group if s is not spec],
                            "answer_backend": settings.answer_backend}
                runs[spec.name] = run
    return runs


def suite_summary(specs: list[EvalSet], runs: dict[str, SystemRun], k: int, fold: bool,
                  skipped: dict[str, str]) -> dict[str, Any]:
    """The JSON summary: every set's overall, per-category and per-kind metrics."""
    sets = {}
    for spec in specs:
        run = runs[spec.name]
        sets[spec.name] = {
            **summarize(run, k), "label": spec.label, "role": spec.role, "gold": str(spec.gold),
            "split": spec.split, "corpus": str(spec.corpus), "per_kind": per_kind(run.records, k),
        }
    return {"suite": True, "k": k, "folded_questions": fold, "created_at": time.strftime("%Y-%m-%d %H:%M:%S"),
            "sets": sets, "skipped": skipped}


def run_suite(args: argparse.Namespace, root: Path = ROOT) -> int:
    """``--suite``: evaluate the chosen sets of the checkout at ``root``, print the table, write the report and JSON."""
    from eval.suite_report import format_suite_table, write_suite_report

    def say(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    available = default_sets(root, args.viquad)
    skipped: dict[str, str] = {}
    specs: list[EvalSet] = []
    for name in args.sets:
        if name not in available:
            where = args.viquad or root.parent / "shared" / VIQUAD_SUBDIR
            skipped[name] = f"not found: {where} (needs gold.jsonl and corpus/)"
            print(f"skipping {name}: {skipped[name]}", file=sys.stderr)
            continue
        specs.append(available[name])
    try:
        items = {s.name: load_set(s, args.fold_questions, args.limit) for s in specs}
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    empty = [name for name, its in items.items() if not its]
    if empty or not specs:
        print(f"error: no questions in set(s) {', '.join(empty) or '(none left)'}", file=sys.stderr)
        return 2
    runs = evaluate_sets(specs, items, args.k, say)
    summary = suite_summary(specs, runs, args.k, args.fold_questions, skipped)
    print(format_suite_table(summary))
    save_outputs(summary, {name: run.records for name, run in runs.items()}, args.json, args.report, write_suite_report, say)
    return 0
