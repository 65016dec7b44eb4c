"""Write an evaluation report: Markdown tables, PNG plots and per-question records.

``write_report(summary, records_by_system, out_dir)`` produces in ``out_dir``:

* ``report.md`` - summary table (our system, baseline, ablations), targets, per-category tables,
  the plots, and a list of the questions our system got wrong;
* ``hit_at_k_by_category.png`` and ``accuracy_by_category.png`` - per-category bars, ours vs baseline;
* ``latency_hist.png`` - per-question latency of our system (and the baseline);
* ``per_question.jsonl`` - one record per question for our system (``per_question_baseline.jsonl``
  for the baseline): expected strings, the answer, abstention, cited passages, evidence rank, flags.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROW_ORDER = ("ours", "baseline", "ablation_dense", "ablation_bm25", "ablation_hybrid_no_title", "ablation_hybrid")
COLORS = {"ours": "#1f77b4", "baseline": "#ff7f0e"}


def fmt(value: Any, digits: int = 3) -> str:
    """A table cell: "–" for None, fixed decimals for numbers."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return f"{value:.{digits}f}"
    return str(value)


def _systems(summary: dict[str, Any]) -> list[str]:
    present = summary["systems"]
    return [name for name in ROW_ORDER if name in present] + [n for n in present if n not in ROW_ORDER]


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int = 1) -> str:
    """A Markdown table; the first ``text_columns`` columns are left-aligned, the rest right-aligned."""
    align = ["---" if i < text_columns else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def format_summary_table(summary: dict[str, Any]) -> str:
    """Markdown table: one row per system, the headline metrics as columns."""
    k = summary["k"]
    header = ["system", "hit@1", f"hit@{k}", "MRR@10", f"evid. recall@{k}", "accuracy", "lead acc.", "abst. P", "abst. R",
              "cit. P", "cit. R", "num. faithful", "p50 ms", "p95 ms", "index build s"]
    rows = []
    retrieval_only = False
    for name in _systems(summary):
        s = summary["systems"][name]
        o = s["overall"]
        mark = ""
        if s.get("latency") == "retrieval":
            mark, retrieval_only = " †", True
        rows.append([
            s["label"], fmt(o["hit@1"]), fmt(o[f"hit@{k}"]), fmt(o["mrr@10"]), fmt(o[f"evidence_recall@{k}"]),
            fmt(o["accuracy"]), fmt(o.get("lead_accuracy")), fmt(o["abstention_precision"]), fmt(o["abstention_recall"]),
            fmt(o["citation_precision"]), fmt(o["citation_recall"]), fmt(o.get("number_faithfulness")),
            fmt(o["latency_p50_ms"], 1) + mark, fmt(o["latency_p95_ms"], 1) + mark,
            fmt(s.get("index_build_s"), 1),
        ])
    table = md_table(header, rows)
    first = summary["systems"][_systems(summary)[0]]["overall"]
    note = (
        f"\n\n{summary['n_items']} questions ({first['n_answerable']} answerable, {first['n_unanswerable']} unanswerable)."
        " Retrieval and accuracy: answerable questions only. – = not applicable / no data."
    )
    if retrieval_only:
        note += " † latency of the search alone (retrieval-only row)."
    return table + note


def format_targets(summary: dict[str, Any]) -> str:
    """Markdown list: each target of the issue, our value and met / NOT met."""
    lines = ["Targets (our system):"]
    for key, t in summary["targets"].items():
        status = "met" if t["met"] else "no data" if t["value"] is None else "NOT met"
        lines.append(f"- {key} ≥ {t['target']:.2f}: {fmt(t['value'])} → {status}")
    return "\n".join(lines)


def format_category_table(summary: dict[str, Any], system: str) -> str:
    """Markdown table of one system's metrics per category."""
    k = summary["k"]
    s = summary["systems"][system]
    header = ["category", "n", "hit@1", f"hit@{k}", "MRR@10", "accuracy", "lead acc.", "abst. P", "abst. R", "cit. P",
              "cit. R", "num. faithful", "p50 ms"]
    rows = []
    for cat, o in s["per_category"].items():
        rows.append([
            cat, str(o["n"]), fmt(o["hit@1"]), fmt(o[f"hit@{k}"]), fmt(o["mrr@10"]), fmt(o["accuracy"]),
            fmt(o.get("lead_accuracy")), fmt(o["abstention_precision"]), fmt(o["abstention_recall"]),
            fmt(o["citation_precision"]), fmt(o["citation_recall"]), fmt(o.get("number_faithfulness")),
            fmt(o["latency_p50_ms"], 1),
        ])
    return md_table(header, rows)


def format_category_comparison(summary: dict[str, Any]) -> str:
    """Markdown table: hit@k of every system and accuracy of ours/baseline, per category."""
    k = summary["k"]
    names = _systems(summary)
    ours = summary["systems"][names[0]]
    header = ["category", "n"] + [f"hit@{k} {_short(n)}" for n in names if n != "ablation_hybrid"]
    answer_systems = [n for n in names if n in ("ours", "baseline")]
    header += [f"accuracy {_short(n)}" for n in answer_systems]
    rows = []
    for cat in ours["per_category"]:
        row = [cat, str(ours["per_category"][cat]["n"])]
        row += [fmt(summary["systems"][n]["per_category"].get(cat, {}).get(f"hit@{k}")) for n in names if n != "ablation_hybrid"]
        row += [fmt(summary["systems"][n]["per_category"].get(cat, {}).get("accuracy")) for n in answer_systems]
        rows.append(row)
    return md_table(header, rows)


def _short(name: str) -> str:
    return {"ablation_dense": "dense", "ablation_bm25": "BM25", "ablation_hybrid_no_title": "no-title",
            "ablation_hybrid": "hybrid"}.get(name, name)


def format_failures(records: Sequence[dict[str, Any]], limit: int = 60) -> str:
    """Markdown table of the questions answered wrongly (or abstained on wrongly), in gold order."""
    wrong = [r for r in records if not r["correct"] or not r["abstention_correct"]]
    if not wrong:
        return "No failures."
    rows = []
    for r in wrong[:limit]:
        if r["answerable"]:
            missing = [n for n, ok in r["must_contain_found"].items() if not ok]
            what = "abstained" if r["abstained"] else f"missing {', '.join(missing)}" if missing else "wrong"
        else:
            what = "answered an unanswerable question"
        got = (r["got"] or "").replace("\n", " ").replace("|", "\\|")
        cited = list(dict.fromkeys(str(c["doc_id"]) for c in r.get("citations", [])))
        rows.append([
            r["id"], r["category"], what, ", ".join(r["expected"]) or "–",
            (got[:140] + "…") if len(got) > 140 else got, ", ".join(cited) or "–", fmt(r.get("evidence_rank"), 0),
        ])
    more = f"\n\n… and {len(wrong) - limit} more (see per_question.jsonl)." if len(wrong) > limit else ""
    header = ["id", "category", "what went wrong", "expected", "got", "cited documents", "evidence rank"]
    return md_table(header, rows, text_columns=6) + more


def format_other_issues(records: Sequence[dict[str, Any]], k: int) -> str:
    """Markdown table of answerable questions with a retrieval miss or an off-evidence citation."""
    rows = []
    for r in records:
        if not r["answerable"]:
            continue
        issues = []
        if not r.get(f"hit@{k}"):
            ranks = ", ".join("–" if x is None else str(x) for x in r.get("evidence_ranks") or [])
            issues.append(f"evidence not all in the top {k} (rank per evidence string: {ranks})")
        off = [str(c["n"]) for c in r.get("citations", []) if c.get("has_evidence") is False]
        if off:
            issues.append(f"cited passage(s) [{', '.join(off)}] hold no evidence")
        if issues:
            rows.append([r["id"], r["category"], "; ".join(issues), "yes" if r["correct"] else "no"])
    if not rows:
        return "None."
    return md_table(["id", "category", "issue", "answer correct"], rows, text_columns=4)


# --------------------------------------------------------------------------- plots


def plot_category_bars(summary: dict[str, Any], metric: str, path: Path, title: str) -> None:
    """Grouped bars per category of ``metric`` for our system and the baseline (n/a left empty)."""
    names = [n for n in ("ours", "baseline") if n in summary["systems"]]
    cats = list(summary["systems"][names[0]]["per_category"])
    fig, ax = plt.subplots(figsize=(max(8, 0.9 * len(cats) + 2), 4.5))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        values = [summary["systems"][name]["per_category"].get(c, {}).get(metric) for c in cats]
        xs = [j + (i - (len(names) - 1) / 2) * width for j in range(len(cats))]
        bars = ax.bar(xs, [v if v is not None else 0 for v in values], width, label=summary["systems"][name]["label"],
                      color=COLORS.get(name))
        for bar, v in zip(bars, values):
            ax.annotate("n/a" if v is None else f"{v:.2f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(range(len(cats)), cats, rotation=30, ha="right")
    ax.set_ylim(0, 1.12)
    ax.set_ylabel(metric)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_latency(records_by_system: dict[str, Sequence[dict[str, Any]]], path: Path) -> None:
    """Histogram of per-question latency (ms) of our system, and of the baseline when present."""
    from matplotlib.ticker import MaxNLocator

    from eval.metrics import percentile

    series = {
        name: [r["latency_ms"] for r in records_by_system.get(name, []) if r.get("latency_ms") is not None]
        for name in ("ours", "baseline")
    }
    series = {name: lat for name, lat in series.items() if lat}
    fig, ax = plt.subplots(figsize=(7, 4))
    if series:
        lo = min(min(lat) for lat in series.values())
        hi = max(max(lat) for lat in series.values())
        bins = [lo + (hi - lo) * i / 30 for i in range(31)] if hi > lo else 10
        for name, lat in series.items():
            p50, p95 = percentile(lat, 50), percentile(lat, 95)
            ax.hist(lat, bins=bins, alpha=0.6, color=COLORS.get(name),
                    label=f"{name} (n={len(lat)}, p50 {p50:.0f} ms, p95 {p95:.0f} ms)")
            ax.axvline(p95, color=COLORS.get(name), linestyle="--", linewidth=1)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("latency per question (ms)")
    ax.set_ylabel("questions")
    ax.set_title("Latency per question (dashed: p95)")
    if series:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- files


def write_jsonl(records: Sequence[dict[str, Any]], path: Path) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def write_report(summary: dict[str, Any], records_by_system: dict[str, Sequence[dict[str, Any]]], out_dir: str | Path) -> Path:
    """Write report.md, the plots and the per-question files into ``out_dir``; returns report.md."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    k = summary["k"]
    write_jsonl(records_by_system["ours"], out / "per_question.jsonl")
    if "baseline" in records_by_system:
        write_jsonl(records_by_system["baseline"], out / "per_question_baseline.jsonl")
    plot_category_bars(summary, f"hit@{k}", out / "hit_at_k_by_category.png", f"hit@{k} per category (answerable questions)")
    plot_category_bars(summary, "accuracy", out / "accuracy_by_category.png", "Answer accuracy per category (answerable questions)")
    plot_latency(records_by_system, out / "latency_hist.png")

    info = summary["systems"]["ours"].get("info", {})
    parts = [
        "# Evaluation report",
        f"Gold file `{summary['gold']}` ({summary['n_items']} questions), corpus `{summary['corpus']}`, "
        f"k = {k}, run {summary['created_at']}.",
    ]
    if info:
        parts.append("Index: " + ", ".join(f"{key} = {value}" for key, value in info.items()) + ".")
    parts += [
        "## Summary", format_summary_table(summary),
        "## Targets", format_targets(summary).split("\n", 1)[1],
        "## Per category", format_category_comparison(summary),
        f"![hit@{k} per category](hit_at_k_by_category.png)",
        "![accuracy per category](accuracy_by_category.png)",
        "### Our system", format_category_table(summary, "ours"),
    ]
    if "baseline" in summary["systems"]:
        parts += ["### Baseline (LangChain tutorial)", format_category_table(summary, "baseline")]
    parts += [
        "## Latency", "![latency histogram](latency_hist.png)",
        "## Questions our system got wrong",
        "Per-question details (answer, citations, evidence rank in retrieval) are in `per_question.jsonl`.",
        format_failures(records_by_system["ours"]),
        "## Other issues of our system (retrieval misses, off-evidence citations)",
        format_other_issues(records_by_system["ours"], k),
    ]
    path = out / "report.md"
    path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return path
