"""End to end: ``python -m eval.run`` on a small gold file against the real corpus index."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import ROOT

from eval import metrics as M
from eval.run import aggregate, main

CORPUS = ROOT / "corpus"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RATIO_KEYS = (
    "hit@1", "hit@5", "mrr@10", "evidence_recall@5", "accuracy", "abstention_precision",
    "abstention_recall", "citation_precision", "citation_recall",
)

SMALL_GOLD = [
    {  # one evidence string, a number that must match whole
        "id": "t1", "category": "fact_metric",
        "question": "Năm 2023, tổng số lượt khám bệnh của các đơn vị y tế tỉnh Quảng Ninh là bao nhiêu?",
        "answer": "2.617.843 lượt.", "must_contain": ["2.617.843"], "doc": "001_74a51137ac984768",
        "evidence": "Tổng số lượt khám bệnh: 2.617.843 lượt, bằng 110% so với cùng kỳ năm 2022",
    },
    {  # multi-passage evidence across two documents
        "id": "t2", "category": "cross_doc",
        "question": "Bệnh viện Bãi Cháy (cả năm 2023) và Trung tâm Y tế huyện Tiên Du (9 tháng đầu năm 2023) mỗi nơi khám bao nhiêu lượt?",
        "answer": "383.605 và 157.627 lượt.", "must_contain": ["383.605", "157.627"],
        "doc": ["001_74a51137ac984768", "002_3c259da17feec9a5"],
        "evidence": ["Bệnh viện đã khám cho trên 383.605 lượt người", "Trong 9 tháng, có 157.627 lượt khám bệnh"],
    },
    {  # follow-up: the history must reach the answer chain
        "id": "t3", "category": "follow_up", "question": "Hội nghị đó được tổ chức vào ngày nào?",
        "answer": "Ngày 5/1/2024.", "must_contain": ["5/1/2024"], "doc": "001_74a51137ac984768",
        "evidence": "Ngày 5/1/2024, Sở Y tế Quảng Ninh tổ chức Hội nghị trực tuyến tổng kết",
        "history": [["Ai chủ trì hội nghị tổng kết ngành Y tế Quảng Ninh năm 2023?",
                     "Đồng chí Nguyễn Trọng Diện, Giám đốc Sở Y tế Quảng Ninh, chủ trì hội nghị."]],
    },
    {  # not in the reports
        "id": "t4", "category": "unanswerable", "question": "Giám đốc Sở Y tế tỉnh Lào Cai là ai?",
        "answer": "Các báo cáo không đề cập đến Sở Y tế tỉnh Lào Cai.", "must_contain": [], "doc": None, "evidence": None,
    },
]


def _write_gold(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), encoding="utf-8")
    return path


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _assert_ratios_in_range(metrics: dict) -> None:
    for key in RATIO_KEYS:
        value = metrics[key]
        assert value is None or 0.0 <= value <= 1.0, (key, value)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, corpus_settings):
    """One evaluation of SMALL_GOLD over the session's corpus index (no rebuild)."""
    tmp = tmp_path_factory.mktemp("eval-run")
    gold = _write_gold(tmp / "gold.jsonl", SMALL_GOLD)
    report_dir, json_out = tmp / "report", tmp / "summary.json"
    argv = ["--gold", str(gold), "--index", str(corpus_settings.index_dir), "--corpus", str(CORPUS),
            "--report", str(report_dir), "--json", str(json_out), "--quiet"]
    return main(argv), report_dir, json_out


def test_run_writes_the_report_files(small_run):
    status, report_dir, json_out = small_run
    assert status == 0
    for name in ("report.md", "per_question.jsonl", "hit_at_k_by_category.png", "accuracy_by_category.png", "latency_hist.png"):
        assert (report_dir / name).is_file(), name
    for png in report_dir.glob("*.png"):
        assert png.read_bytes()[:8] == PNG_MAGIC
    report = (report_dir / "report.md").read_text(encoding="utf-8")
    assert "## Summary" in report and "| ours (hybrid + answer chain) |" in report
    for category in ("fact_metric", "cross_doc", "follow_up", "unanswerable"):
        assert f"| {category} |" in report
    assert json_out.is_file()


def test_scores_are_ratios_and_match_the_per_question_records(small_run):
    _, report_dir, json_out = small_run
    summary = json.loads(json_out.read_text(encoding="utf-8"))
    records = _read_jsonl(report_dir / "per_question.jsonl")
    assert [r["id"] for r in records] == [item["id"] for item in SMALL_GOLD]
    assert summary["n_items"] == len(SMALL_GOLD) and summary["k"] == 5
    ours = summary["systems"]["ours"]
    overall = ours["overall"]
    assert (overall["n"], overall["n_answerable"], overall["n_unanswerable"]) == (4, 3, 1)
    _assert_ratios_in_range(overall)
    for per_cat in ours["per_category"].values():
        _assert_ratios_in_range(per_cat)
    assert set(ours["per_category"]) == {"fact_metric", "cross_doc", "follow_up", "unanswerable"}

    answerable = [r for r in records if r["answerable"]]
    # accuracy recomputed from the records, and each record's flag recomputed from its answer
    for r in answerable:
        expected_flag = not r["abstained"] and all(M.contains_answer(r["got"], s) for s in r["expected"])
        assert r["correct"] == expected_flag, r["id"]
    assert overall["accuracy"] == pytest.approx(sum(r["correct"] for r in answerable) / len(answerable))
    assert overall["hit@5"] == pytest.approx(sum(r["hit@5"] for r in answerable) / len(answerable))
    assert overall["mrr@10"] == pytest.approx(sum(M.reciprocal_rank(r["evidence_rank"]) for r in answerable) / len(answerable))
    precision, recall = M.abstention_precision_recall([r["answerable"] for r in records], [r["abstained"] for r in records])
    assert (overall["abstention_precision"], overall["abstention_recall"]) == (precision, recall)
    cited = [c for r in answerable for c in r["citations"]]
    if cited:
        assert overall["citation_precision"] == pytest.approx(sum(c["has_evidence"] for c in cited) / len(cited))
    else:
        assert overall["citation_precision"] is None
    # per category accuracy is the same computation on the subset
    for cat, per_cat in ours["per_category"].items():
        subset = [r for r in answerable if r["category"] == cat]
        assert per_cat["accuracy"] == (pytest.approx(sum(r["correct"] for r in subset) / len(subset)) if subset else None)
    assert overall["latency_p50_ms"] > 0 and overall["latency_p95_ms"] >= overall["latency_p50_ms"]
    assert summary["targets"]["hit@5"]["met"] == (overall["hit@5"] >= 0.95)


def test_per_question_records_are_consistent(small_run):
    _, report_dir, _ = small_run
    records = {r["id"]: r for r in _read_jsonl(report_dir / "per_question.jsonl")}
    for r in records.values():
        for key in ("question", "category", "expected", "got", "abstained", "citations", "evidence_rank", "correct"):
            assert key in r, (r["id"], key)
        for c in r["citations"]:
            assert {"doc_id", "start", "end", "quote"} <= set(c)
        if r["answerable"]:
            # the evidence rank is the first retrieved passage flagged as containing evidence
            flagged = [p["rank"] for p in r["retrieved"] if p["has_evidence"]]
            assert r["evidence_rank"] == (flagged[0] if flagged else None)
            assert r["hit@1"] == (r["all_evidence_rank"] == 1)
            assert r["hit@5"] == (r["all_evidence_rank"] is not None and r["all_evidence_rank"] <= 5)
    assert len(records["t2"]["evidence_ranks"]) == 2  # one rank per evidence string
    assert records["t2"]["evidence_recall@5"] in (0.0, 0.5, 1.0)
    unanswerable = records["t4"]
    assert unanswerable["hit@5"] is None and unanswerable["evidence_rank"] is None and unanswerable["rr@10"] is None
    assert unanswerable["correct"] == unanswerable["abstained"]
    assert records["t3"]["history"] == SMALL_GOLD[2]["history"]


def test_stdout_has_summary_table(tmp_path, corpus_settings, capsys):
    gold = _write_gold(tmp_path / "one.jsonl", SMALL_GOLD[:1])
    assert main(["--gold", str(gold), "--index", str(corpus_settings.index_dir), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "| system | hit@1 | hit@5 | MRR@10 |" in out
    assert "ours (hybrid + answer chain)" in out
    assert "Targets" in out


def test_baseline_and_ablations_on_two_items(tmp_path, corpus_settings):
    """--baseline and --ablations on a one-document corpus (keeps the extra builds small)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / "000_b4cc5c523bac1daf.txt", corpus)
    items = [
        {"id": "b1", "category": "fact_facility", "question": "Bệnh viện Chấn thương Chỉnh hình có bao nhiêu CBCNV?",
         "answer": "161 CBCNV.", "must_contain": ["161"], "doc": "000_b4cc5c523bac1daf",
         "evidence": "Bệnh viện hiện có 161 CBCNV"},
        {"id": "b2", "category": "unanswerable", "question": "Bệnh viện Chấn thương Chỉnh hình có bao nhiêu bác sĩ?",
         "answer": "Không nêu.", "must_contain": [], "doc": None, "evidence": None},
    ]
    gold = _write_gold(tmp_path / "gold.jsonl", items)
    out_json, report_dir = tmp_path / "s.json", tmp_path / "rep"
    argv = ["--gold", str(gold), "--index", str(corpus_settings.index_dir), "--corpus", str(corpus),
            "--baseline", "--ablations", "--json", str(out_json), "--report", str(report_dir), "--quiet"]
    assert main(argv) == 0
    summary = json.loads(out_json.read_text(encoding="utf-8"))
    systems = summary["systems"]
    assert list(systems) == ["ours", "baseline", "ablation_dense", "ablation_bm25", "ablation_hybrid_no_title", "ablation_hybrid"]
    for s in systems.values():
        _assert_ratios_in_range(s["overall"])
    base = systems["baseline"]["overall"]
    assert base["abstention_precision"] is None and base["abstention_recall"] == 0.0  # the tutorial never abstains
    assert systems["baseline"]["index_build_s"] > 0
    assert systems["ablation_hybrid_no_title"]["index_build_s"] > 0
    for name in ("ablation_dense", "ablation_bm25", "ablation_hybrid_no_title"):
        assert systems[name]["overall"]["accuracy"] is None  # retrieval-only rows
    assert systems["ablation_hybrid"]["overall"]["accuracy"] == systems["ours"]["overall"]["accuracy"]
    assert systems["ablation_hybrid"]["overall"]["hit@5"] == systems["ours"]["overall"]["hit@5"]

    baseline_records = _read_jsonl(report_dir / "per_question_baseline.jsonl")
    assert len(baseline_records) == 2
    for r in baseline_records:
        assert not r["abstained"] and 1 <= len(r["citations"]) <= 4
        assert r["got"] == r["citations"][0]["quote"]  # its answer is the top chunk
        assert r["retrieved"][0]["doc_id"] == "000_b4cc5c523bac1daf"
    ours_records = _read_jsonl(report_dir / "per_question.jsonl")
    assert set(ours_records[0]["ablation_ranks"]) == {"ablation_dense", "ablation_bm25", "ablation_hybrid_no_title"}
    report = (report_dir / "report.md").read_text(encoding="utf-8")
    assert "baseline (LangChain tutorial)" in report and "ablation: hybrid, no title prefix" in report


def test_aggregate_pools_citations_and_skips_unanswerable_in_retrieval():
    def rec(category, answerable, correct, abstained, hit, rr, rel, tot, cov, n_ev, latency):
        return {"category": category, "answerable": answerable, "correct": correct, "abstained": abstained,
                "hit@1": hit, "hit@5": hit, "rr@10": rr, "evidence_recall@5": None if hit is None else float(hit),
                "citation_relevant": rel, "citation_total": tot, "evidence_cited": cov, "evidence_total": n_ev,
                "latency_ms": latency, "error": None}

    records = [
        rec("a", True, True, False, True, 1.0, 1, 1, 1, 1, 10.0),
        rec("a", True, False, False, False, 0.0, 0, 3, 0, 2, 20.0),
        rec("b", True, False, True, True, 0.5, 0, 0, 0, 1, 30.0),
        rec("u", False, True, True, None, None, None, 0, None, None, 40.0),
    ]
    out = aggregate(records, k=5)
    assert out["hit@5"] == pytest.approx(2 / 3) and out["mrr@10"] == pytest.approx(0.5)
    assert out["accuracy"] == pytest.approx(1 / 3)
    assert out["citation_precision"] == pytest.approx(1 / 4)  # pooled: 1 relevant of 4 cited
    assert out["citation_recall"] == pytest.approx(1 / 4)  # 1 of 4 evidence strings cited
    assert out["abstention_precision"] == pytest.approx(1 / 2) and out["abstention_recall"] == 1.0
    assert out["latency_p50_ms"] == pytest.approx(25.0)


def test_bad_gold_file_is_an_error(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    assert main(["--gold", str(bad), "--quiet"]) == 2
    assert "bad.jsonl:1" in capsys.readouterr().err
