"""The report of ``python -m eval.run --suite``: every set side by side.

``write_suite_report(summary, records_by_set, out_dir)`` writes ``report.md`` (the suite table,
per-set per-category tables, the per-kind table, the risk–coverage curve and the failures of
the sets one may tune on), ``risk_coverage.png`` when the answers carry a ``confidence``, and
``per_question_<set>.jsonl`` for every set.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from eval.aggregate import KINDS
from eval.metrics import risk_coverage
from eval.report import fmt, format_failures, md_table, write_jsonl

__all__ = ["format_kind_table", "format_set_categories", "format_suite_table", "plot_risk_coverage", "write_suite_report"]

RISK_COVERAGE_PNG = "risk_coverage.png"


def _metric_cells(o: dict[str, Any], k: int) -> list[str]:
    return [
        fmt(o[f"hit@{k}"]), fmt(o["accuracy"]), fmt(o["lead_accuracy"]), fmt(o["lead_rate"]),
        fmt(o["abstention_precision"]), fmt(o["abstention_recall"]), fmt(o["citation_precision"]),
        fmt(o["number_faithfulness"]),
    ]


def _metric_header(k: int) -> list[str]:
    return [f"hit@{k}", "accuracy", "lead acc.", "lead rate", "abst. P", "abst. R", "cit. P", "num. faithful"]


def format_suite_table(summary: dict[str, Any]) -> str:
    """Markdown table: one row per set, the headline metrics as columns."""
    k = summary["k"]
    rows = []
    for s in summary["sets"].values():
        o = s["overall"]
        rows.append([s["label"], str(o["n"]), *_metric_cells(o, k), fmt(o["latency_p50_ms"], 1), fmt(o["latency_p95_ms"], 1)])
    table = md_table(["set", "n", *_metric_header(k), "p50 ms", "p95 ms"], rows)
    notes = [
        ("hit@k, accuracy, citation P: answerable questions. Lead accuracy: answered answerable questions whose"
         " answer has a lead (bold outside quotes); lead rate and number faithfulness: answered questions."
         " – = no data."),
    ]
    if summary.get("folded_questions"):
        notes.append("Every question was asked without its diacritics (--fold-questions).")
    for name, why in summary.get("skipped", {}).items():
        notes.append(f"Set {name} skipped: {why}.")
    return table + "\n\n" + "\n".join(notes)


def format_set_categories(set_summary: dict[str, Any], k: int) -> str:
    """Markdown table of one set's metrics per category."""
    rows = [[cat, str(o["n"]), *_metric_cells(o, k), fmt(o["latency_p50_ms"], 1)]
            for cat, o in set_summary["per_category"].items()]
    return md_table(["category", "n", *_metric_header(k), "p50 ms"], rows)


def format_kind_table(summary: dict[str, Any]) -> str:
    """Markdown table: accuracy (n) of every question kind in every set."""
    names = list(summary["sets"])
    rows = []
    for kind in KINDS:
        cells = []
        for name in names:
            o = summary["sets"][name]["per_kind"].get(kind)
            cells.append("–" if o is None else f"{fmt(o['accuracy'])} ({o['n']})")
        rows.append([kind, *cells])
    return md_table(["kind", *[f"{summary['sets'][n]['label']}" for n in names]], rows)


def plot_risk_coverage(records_by_set: dict[str, Sequence[dict[str, Any]]], path: Path) -> bool:
    """Risk–coverage curves of the given sets; False (nothing written) when no answer has a confidence."""
    curves = {}
    for name, records in records_by_set.items():
        answered = [not r["abstained"] for r in records]
        confidence = [r.get("confidence") for r in records]
        if not any(c is not None for c, a in zip(confidence, answered) if a):
            continue
        curves[name] = risk_coverage(confidence, answered, [bool(r["correct"]) for r in records])
    if not curves:
        return False
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, points in curves.items():
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        (line,) = ax.plot(xs, ys, label=name)
        ax.plot(xs[-1], ys[-1], "o", color=line.get_color(), markersize=8)
        ax.annotate(f"{name}: {xs[-1]:.2f}, {ys[-1]:.2f}", (xs[-1], ys[-1]), xytext=(-10, 8),
                    textcoords="offset points", ha="right", fontsize=8)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("coverage (share of questions answered, most confident first)")
    ax.set_ylabel("accuracy among answered")
    ax.set_title("Risk–coverage (dot: the operating point, what the system answered)")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_suite_report(summary: dict[str, Any], records_by_set: dict[str, Sequence[dict[str, Any]]], out_dir: str | Path) -> Path:
    """Write report.md, the risk–coverage plot and the per-question files into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    k = summary["k"]
    for name, records in records_by_set.items():
        write_jsonl(records, out / f"per_question_{name}.jsonl")
    test_sets = {n: records_by_set[n] for n, s in summary["sets"].items() if s["role"] == "test"}
    plotted = plot_risk_coverage(test_sets, out / RISK_COVERAGE_PNG)
    parts = [
        "# Evaluation suite",
        f"Run {summary['created_at']}, k = {k}. Sets: "
        + "; ".join(f"**{n}** = `{s['gold']}`" + (f" ({s['split']} half)" if s["split"] else "") + f" over `{s['corpus']}`"
                    for n, s in summary["sets"].items()) + ".",
        ("Roles: gold dev, train and compare are fitted and tuned on; gold test, extra and viquad are reported only "
         "(never add a rule because one of their questions failed). train is the fitting set, so its figures are optimistic; "
         "compare (computed comparisons over train's corpus) is a dev set."),
        "## Summary", format_suite_table(summary),
        "## Per kind (accuracy, n)",
        ("compound = multi_hop; comparison/list = cross_doc + computed; accent-less = Vietnamese questions without any "
         "diacritic (not `english`); paraphrase; follow_up."),
        format_kind_table(summary),
        "## Risk–coverage (test sets)",
    ]
    if plotted:
        parts.append(f"![risk-coverage]({RISK_COVERAGE_PNG})")
    else:
        points = ", ".join(
            f"{summary['sets'][n]['label']}: coverage {fmt(summary['sets'][n]['overall']['coverage'])}, "
            f"accuracy among answered {fmt(summary['sets'][n]['overall']['answered_accuracy'])}"
            for n in test_sets
        )
        parts.append("No answer carried a `confidence`, so there is no curve, only the operating points "
                     f"(what the system answered): {points or '–'}.")
    for name, s in summary["sets"].items():
        parts += [f"## {s['label']}: per category", format_set_categories(s, k)]
    for name, s in summary["sets"].items():
        if s["role"] == "tune":
            parts += [f"## {s['label']}: questions answered wrongly", format_failures(records_by_set[name])]
    parts.append("Failures of the test sets are not listed here (see `per_question_<set>.jsonl` to diagnose, not to tune).")
    path = out / "report.md"
    path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return path
