"""Evaluate the assistant on a gold file: retrieval, answers, abstention, citations, latency.

Usage::

    python -m eval.run --gold eval/gold.jsonl [--corpus corpus] [--index DIR] [--json OUT]
                       [--report DIR] [--baseline] [--ablations] [--k 5]

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
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is local; never try the hub

from eval import metrics as M  # noqa: E402
from eval.gold import CATEGORIES, GoldItem, load_gold  # noqa: E402

log = logging.getLogger("eval.run")

RANK_CUTOFF = 10  # MRR@10, and how many passages each retriever returns for the ranking metrics

#: Targets from the issue: metric key -> minimum value.
TARGETS: dict[str, float] = {
    "hit@5": 0.95,
    "accuracy": 0.85,
    "abstention_precision": 0.85,
    "abstention_recall": 0.85,
    "citation_precision": 0.95,
}

#: Row order and labels of the summary table.
SYSTEM_LABELS: dict[str, str] = {
    "ours": "ours (hybrid + answer chain)",
    "baseline": "baseline (LangChain tutorial)",
    "ablation_dense": "ablation: dense only",
    "ablation_bm25": "ablation: BM25 only",
    "ablation_hybrid_no_title": "ablation: hybrid, no title prefix",
    "ablation_hybrid": "ablation: hybrid",
}


@dataclass
class SystemRun:
    """One evaluated system: its per-question records and what building it cost."""

    name: str
    records: list[dict[str, Any]]
    build_seconds: float | None = None
    latency_kind: str = "answer"  # "answer" (whole pipeline) or "retrieval" (search only)
    answers: bool = True  # False: a retrieval-only row, answer metrics not applicable
    info: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- per-question records


def _field(obj: Any, key: str, default: Any = None) -> Any:
    """Read ``key`` from a dict or an object (answers and citations may be either)."""
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def retrieval_fields(passages: Sequence[str], item: GoldItem, k: int) -> dict[str, Any]:
    """Ranking metrics of one question from its ranked passage texts (None for unanswerable items)."""
    keys = ("evidence_rank", "all_evidence_rank", "evidence_ranks", "hit@1", f"hit@{k}", f"evidence_recall@{k}", "rr@10")
    if not item.evidences:
        return dict.fromkeys(keys)
    first = M.first_evidence_rank(passages[:RANK_CUTOFF], item.evidences)
    return {
        "evidence_rank": first,
        "all_evidence_rank": M.all_evidence_rank(passages[:RANK_CUTOFF], item.evidences),
        "evidence_ranks": M.evidence_ranks(passages[:RANK_CUTOFF], item.evidences),
        "hit@1": M.hit_at_k(passages, item.evidences, 1),
        f"hit@{k}": M.hit_at_k(passages, item.evidences, k),
        f"evidence_recall@{k}": M.evidence_recall_at_k(passages, item.evidences, k),
        "rr@10": M.reciprocal_rank(first, RANK_CUTOFF),
    }


def answer_fields(item: GoldItem, answer: str, abstained: bool, cited: Sequence[str]) -> dict[str, Any]:
    """Answer, abstention and citation terms of one question."""
    answerable = bool(item.evidences)
    out: dict[str, Any] = {
        "correct": M.answer_correct(answer, item.must_contain, abstained, answerable=answerable),
        "must_contain_found": {needle: M.contains_answer(answer, needle) for needle in item.must_contain},
        "abstention_correct": abstained == (not answerable),
    }
    if answerable:
        rel, tot = M.citation_precision(cited, item.evidences)
        cov, n_ev = M.citation_recall(cited, item.evidences)
        out.update(citation_relevant=rel, citation_total=tot, evidence_cited=cov, evidence_total=n_ev)
    else:
        out.update(citation_relevant=None, citation_total=len(cited), evidence_cited=None, evidence_total=None)
    return out


def base_record(item: GoldItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "category": item.category,
        "question": item.question,
        "history": [list(turn) for turn in item.history],
        "answerable": bool(item.evidences),
        "expected": list(item.must_contain),
        "reference_answer": item.answer,
        "doc": item.docs,
        "evidence": item.evidences,
    }


def _passage_summary(rank: int, doc_id: Any, start: Any, end: Any, text: str, item: GoldItem) -> dict[str, Any]:
    return {
        "rank": rank,
        "doc_id": doc_id,
        "start": start,
        "end": end,
        "has_evidence": M.passage_has_evidence(text, item.evidences) if item.evidences else None,
    }


def _citation_summary(c: Any, item: GoldItem) -> dict[str, Any]:
    text = _field(c, "text") or ""
    return {
        "n": _field(c, "n"),
        "doc_id": _field(c, "doc_id"),
        "start": _field(c, "start"),
        "end": _field(c, "end"),
        "quote": _field(c, "quote"),
        "has_evidence": M.passage_has_evidence(text, item.evidences) if item.evidences else None,
    }


# --------------------------------------------------------------------------- running the systems


def _timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``fn(*args, **kwargs)`` and its wall time in milliseconds."""
    t0 = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, (time.perf_counter() - t0) * 1000.0


def run_ours(
    items: Sequence[GoldItem],
    chain: Any,
    retriever: Any,
    k: int,
    ablations: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[SystemRun, dict[str, SystemRun]]:
    """Ask ``chain`` every question, then rank the query it searched with, with each retriever.

    Returns our run and one retrieval-only run per ablation retriever (``ablation_hybrid`` is
    ``retriever`` itself, carrying our answer terms).
    """
    ablations = dict(ablations or {})
    records: list[dict[str, Any]] = []
    abl_records: dict[str, list[dict[str, Any]]] = {name: [] for name in [*ablations, "ablation_hybrid"]}
    if items:  # warm-up (not timed): first calls pay for lazy loading and allocator growth
        try:
            chain.answer(items[0].question, [])
        except Exception:  # noqa: BLE001 - the timed call reports the error
            pass
    for i, item in enumerate(items, start=1):
        rec = base_record(item)
        history = [tuple(turn) for turn in item.history]
        error = None
        try:
            ans, latency = _timed(chain.answer, item.question, history)
            text = _field(ans, "answer") or ""
            abstained = bool(_field(ans, "abstained", False))
            citations = list(_field(ans, "citations", []) or [])
            query = _field(ans, "rewritten_query") or item.question
        except Exception as exc:  # a crash on one question must not stop the evaluation
            log.exception("question %s failed", item.id)
            error, text, abstained, citations, query, latency = f"{type(exc).__name__}: {exc}", "", False, [], item.question, None
        cited = [_field(c, "text") or "" for c in citations]
        rec.update(
            got=text,
            abstained=abstained,
            citations=[_citation_summary(c, item) for c in citations],
            retrieval_query=query,
            latency_ms=latency,
            error=error,
        )
        rec.update(answer_fields(item, text, abstained, cited))
        result, search_ms = _timed(retriever.search, query, k=max(RANK_CUTOFF, k))
        hits = result.hits
        passages = [h.chunk.text for h in hits]
        rec.update(retrieval_fields(passages, item, k))
        rec["retrieved"] = [
            _passage_summary(h.rank, h.chunk.doc_id, h.chunk.start, h.chunk.end, h.chunk.text, item) for h in hits
        ]
        abl_records["ablation_hybrid"].append(
            {**base_record(item), **retrieval_fields(passages, item, k), **_answer_terms(rec), "latency_ms": search_ms}
        )
        rec["ablation_ranks"] = {}
        for name, other in ablations.items():
            o_result, o_ms = _timed(other.search, query, k=max(RANK_CUTOFF, k))
            o_hits = o_result.hits
            fields = retrieval_fields([h.chunk.text for h in o_hits], item, k)
            abl_records[name].append({**base_record(item), **fields, "latency_ms": o_ms})
            rec["ablation_ranks"][name] = fields["evidence_rank"]
        records.append(rec)
        if progress:
            progress(f"[ours {i}/{len(items)}] {item.id} {'ok' if rec['correct'] else 'WRONG'}")
    extra = {
        name: SystemRun(name, recs, latency_kind="retrieval", answers=(name == "ablation_hybrid"))
        for name, recs in abl_records.items()
    }
    return SystemRun("ours", records), extra


_ANSWER_KEYS = (
    "got", "abstained", "correct", "must_contain_found", "abstention_correct", "citation_relevant",
    "citation_total", "evidence_cited", "evidence_total", "error",
)


def _answer_terms(rec: dict[str, Any]) -> dict[str, Any]:
    return {key: rec.get(key) for key in _ANSWER_KEYS}


def run_baseline(items: Sequence[GoldItem], baseline: Any, k: int, progress: Callable[[str], None] | None = None) -> SystemRun:
    """Evaluate the tutorial pipeline: answer = its top-4 search, ranking = its top 10."""
    records: list[dict[str, Any]] = []
    if items:
        baseline.answer(items[0].question)  # warm-up, not timed
    for i, item in enumerate(items, start=1):
        rec = base_record(item)
        ans, latency = _timed(baseline.answer, item.question)
        rec.update(
            got=ans.answer,
            abstained=ans.abstained,
            citations=[_citation_summary(c, item) for c in ans.citations],
            retrieval_query=item.question,
            latency_ms=latency,
            error=None,
        )
        rec.update(answer_fields(item, ans.answer, ans.abstained, [c["text"] for c in ans.citations]))
        docs = baseline.retrieve(item.question, max(RANK_CUTOFF, k))
        rec.update(retrieval_fields([d.page_content for d in docs], item, k))
        rec["retrieved"] = [
            _passage_summary(
                r, d.metadata.get("doc_id"), d.metadata.get("start_index"),
                None if d.metadata.get("start_index") is None else d.metadata["start_index"] + len(d.page_content),
                d.page_content, item,
            )
            for r, d in enumerate(docs, start=1)
        ]
        records.append(rec)
        if progress:
            progress(f"[baseline {i}/{len(items)}] {item.id} {'ok' if rec['correct'] else 'WRONG'}")
    return SystemRun("baseline", records, build_seconds=baseline.build_seconds, latency_kind="answer")


# --------------------------------------------------------------------------- aggregation


def aggregate(records: Sequence[dict[str, Any]], k: int, answers: bool = True) -> dict[str, Any]:
    """Pool per-question records into the metrics of one table row.

    Retrieval metrics average over answerable questions; accuracy and citations over answerable
    questions (citations pooled: cited passages with evidence / cited passages, evidence strings
    cited / evidence strings); abstention P/R over all questions; latency over all questions.
    """
    answerable = [r for r in records if r["answerable"]]
    out: dict[str, Any] = {
        "n": len(records),
        "n_answerable": len(answerable),
        "n_unanswerable": len(records) - len(answerable),
        "hit@1": M.mean(r["hit@1"] for r in answerable),
        f"hit@{k}": M.mean(r[f"hit@{k}"] for r in answerable),
        "mrr@10": M.mean(r["rr@10"] for r in answerable),
        f"evidence_recall@{k}": M.mean(r[f"evidence_recall@{k}"] for r in answerable),
    }
    latencies = [r["latency_ms"] for r in records if r.get("latency_ms") is not None]
    out["latency_p50_ms"] = M.percentile(latencies, 50)
    out["latency_p95_ms"] = M.percentile(latencies, 95)
    if not answers:
        out.update(
            accuracy=None, abstention_precision=None, abstention_recall=None,
            citation_precision=None, citation_recall=None, n_errors=None,
        )
        return out
    precision, recall = M.abstention_precision_recall([r["answerable"] for r in records], [r["abstained"] for r in records])
    out.update(
        accuracy=M.mean(r["correct"] for r in answerable),
        abstention_precision=precision,
        abstention_recall=recall,
        citation_precision=M.safe_ratio(sum(r["citation_relevant"] for r in answerable), sum(r["citation_total"] for r in answerable)),
        citation_recall=M.safe_ratio(sum(r["evidence_cited"] for r in answerable), sum(r["evidence_total"] for r in answerable)),
        n_errors=sum(1 for r in records if r.get("error")),
    )
    return out


def summarize(run: SystemRun, k: int) -> dict[str, Any]:
    """Overall and per-category metrics of one system (categories in gold order, present only)."""
    present = [c for c in CATEGORIES if any(r["category"] == c for r in run.records)]
    return {
        "label": SYSTEM_LABELS.get(run.name, run.name),
        "latency": run.latency_kind,
        "index_build_s": run.build_seconds,
        "overall": aggregate(run.records, k, run.answers),
        "per_category": {c: aggregate([r for r in run.records if r["category"] == c], k, run.answers) for c in present},
        **({"info": run.info} if run.info else {}),
    }


def check_targets(overall: dict[str, Any], k: int) -> dict[str, dict[str, Any]]:
    """Each target with our value and whether it is met (a missing value is not met)."""
    out = {}
    for key, target in TARGETS.items():
        actual_key = f"hit@{k}" if key == "hit@5" else key
        value = overall.get(actual_key)
        out[actual_key] = {"target": target, "value": value, "met": value is not None and value >= target}
    return out


# --------------------------------------------------------------------------- building indexes


def build_index(corpus: Path, settings: Any, embeddings: Any) -> float:
    """Ingest ``corpus`` into ``settings.index_dir``; returns the build time in seconds."""
    from rag.ingest.local import ingest

    report = ingest([corpus], settings, rebuild=True, embeddings=embeddings)
    if report.errors:
        raise SystemExit(f"error: ingest failed: {report.errors}")
    if not report.n_chunks:
        raise SystemExit(f"error: no documents could be indexed from {corpus}")
    return report.seconds


def _make_chain(settings: Any) -> Any:
    """The assistant's answer chain over ``settings.index_dir`` (with the configured answer backend)."""
    from rag.answer.chain import build_answer_chain

    return build_answer_chain(settings)


# --------------------------------------------------------------------------- CLI


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m eval.run", description=__doc__.splitlines()[0])
    p.add_argument("--gold", type=Path, required=True, help="gold questions (JSONL, eval/gold.py format)")
    p.add_argument("--corpus", type=Path, default=None, help="documents to index (default: settings corpus_dir, corpus/)")
    p.add_argument("--index", type=Path, default=None, help="use this built index instead of building one from --corpus")
    p.add_argument("--json", type=Path, default=None, help="write the summary metrics here")
    p.add_argument("--report", type=Path, default=None, help="write report.md, plots and per_question.jsonl here")
    p.add_argument("--baseline", action="store_true", help="also evaluate the LangChain tutorial baseline")
    p.add_argument("--ablations", action="store_true", help="also rank with dense only, BM25 only, hybrid without titles")
    p.add_argument("--k", type=int, default=5, help="cut-off of hit@k and evidence recall@k (default 5)")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N questions")
    p.add_argument("--quiet", action="store_true", help="no per-question progress on stderr")
    args = p.parse_args(argv)
    if args.k < 1:
        p.error("--k must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
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
        chain = _make_chain(settings)
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
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if args.report:
        write_report(summary, {name: run.records for name, run in systems.items()}, args.report)
        say(f"report written to {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
