"""Pooling per-question records into table rows: overall, per category, per kind, targets."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from eval import metrics as M
from eval.engine import SystemRun
from eval.gold import CATEGORIES
from rag.text import has_diacritics

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


def aggregate(records: Sequence[dict[str, Any]], k: int, answers: bool = True) -> dict[str, Any]:
    """Pool per-question records into the metrics of one table row.

    Retrieval metrics average over answerable questions; accuracy and citations over answerable
    questions (citations pooled: cited passages with evidence / cited passages, evidence strings
    cited / evidence strings); abstention P/R over all questions; latency over all questions;
    lead accuracy over answered answerable questions with a lead; lead rate and number
    faithfulness over answered (not abstained) questions.
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
            lead_accuracy=None, lead_rate=None, number_faithfulness=None, n_answered=None,
            coverage=None, answered_accuracy=None,
        )
        return out
    answered = [r for r in records if not r["abstained"]]
    precision, recall = M.abstention_precision_recall([r["answerable"] for r in records], [r["abstained"] for r in records])
    out.update(
        accuracy=M.mean(r["correct"] for r in answerable),
        abstention_precision=precision,
        abstention_recall=recall,
        citation_precision=M.safe_ratio(
            sum(r["citation_relevant"] for r in answerable), sum(r["citation_total"] for r in answerable)
        ),
        citation_recall=M.safe_ratio(sum(r["evidence_cited"] for r in answerable), sum(r["evidence_total"] for r in answerable)),
        n_errors=sum(1 for r in records if r.get("error")),
        n_answered=len(answered),
        # lead: over answered answerable questions whose answer has one; rate: over all answered
        lead_accuracy=M.mean(r.get("lead_correct") for r in answered if r["answerable"]),
        lead_rate=M.mean(bool(r.get("lead")) for r in answered),
        number_faithfulness=M.mean(r.get("numbers_faithful") for r in answered),
        # the operating point of the risk-coverage curve
        coverage=M.safe_ratio(len(answered), len(records)),
        answered_accuracy=M.mean(r["correct"] for r in answered),
    )
    return out


#: Question kinds of the per-kind table, each a filter over per-question records.
KINDS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "compound": lambda r: r["category"] == "multi_hop",
    "comparison/list": lambda r: r["category"] in ("cross_doc", "computed"),
    # typed without accents: Vietnamese questions only (English ones have none to lose)
    "accent-less": lambda r: r["category"] != "english" and not has_diacritics(r["question"]),
    "paraphrase": lambda r: r["category"] == "paraphrase",
    "follow_up": lambda r: r["category"] == "follow_up",
}


def per_kind(records: Sequence[dict[str, Any]], k: int) -> dict[str, dict[str, Any]]:
    """Metrics of each question kind present in ``records`` (see :data:`KINDS`)."""
    out = {}
    for kind, keep in KINDS.items():
        subset = [r for r in records if keep(r)]
        if subset:
            out[kind] = aggregate(subset, k)
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
