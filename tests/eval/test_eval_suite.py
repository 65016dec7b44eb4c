"""End to end: ``python -m eval.run --suite`` over a tiny checkout (tiny gold files, one-report corpora)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import CORPUS

from eval.run import parse_args
from eval.suite import run_suite

DOC = "000_b4cc5c523bac1daf"
FACT = {"category": "fact_facility", "question": "Bệnh viện Chấn thương Chỉnh hình có bao nhiêu CBCNV?",
        "answer": "161 CBCNV.", "must_contain": ["161"], "doc": DOC, "evidence": "Bệnh viện hiện có 161 CBCNV"}
NONE = {"category": "unanswerable", "question": "Giám đốc Sở Y tế tỉnh Lào Cai là ai?", "answer": "Không nêu.",
        "must_contain": [], "doc": None, "evidence": None}
GOLD = [{"id": "g1", **FACT}, {"id": "g2", **NONE}, {"id": "g3", **FACT}, {"id": "g4", **NONE}]
EXTRA = [{"id": "x1", **FACT, "question": "bv chan thuong chinh hinh co bao nhieu cbcnv"}]


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _corpus(path: Path) -> None:
    path.mkdir(parents=True)
    shutil.copy(CORPUS / f"{DOC}.txt", path)


@pytest.fixture(scope="module")
def suite_run(tmp_path_factory, embeddings):
    root = tmp_path_factory.mktemp("checkout")
    _jsonl(root / "eval" / "gold.jsonl", GOLD)
    _jsonl(root / "eval" / "extra" / "gold.jsonl", EXTRA)
    _corpus(root / "corpus")
    _corpus(root / "eval" / "extra" / "corpus")
    out = tmp_path_factory.mktemp("out")
    args = parse_args(["--suite", "--sets", "dev,test,extra,viquad", "--viquad", str(root / "no-viquad"),
                       "--report", str(out / "rep"), "--json", str(out / "s.json"), "--quiet"])
    return run_suite(args, root=root), out, root


def test_every_set_is_evaluated_over_its_own_index_and_dev_test_share_one(suite_run, capsys):
    status, out, _ = suite_run
    assert status == 0
    summary = json.loads((out / "s.json").read_text(encoding="utf-8"))
    assert list(summary["sets"]) == ["dev", "test", "extra"]
    assert "viquad" in summary["skipped"] and "no-viquad" in summary["skipped"]["viquad"]
    dev, test, extra = (summary["sets"][n] for n in ("dev", "test", "extra"))
    # the split: g1, g2 to dev (first of each category), g3, g4 to test
    def ids(name: str) -> list[str]:
        lines = (out / "rep" / f"per_question_{name}.jsonl").read_text(encoding="utf-8").splitlines()
        return [json.loads(line)["id"] for line in lines]

    assert (ids("dev"), ids("test"), ids("extra")) == (["g1", "g2"], ["g3", "g4"], ["x1"])
    assert dev["info"]["shared_index_with"] == ["test"] and test["info"]["shared_index_with"] == ["dev"]
    assert dev["index_build_s"] == test["index_build_s"] and extra["info"]["shared_index_with"] == []
    for s in (dev, test, extra):
        o = s["overall"]
        for key in ("hit@5", "accuracy", "lead_accuracy", "lead_rate", "abstention_precision", "abstention_recall",
                    "citation_precision", "number_faithfulness"):
            assert o[key] is None or 0.0 <= o[key] <= 1.0, (key, o[key])
        assert o["latency_p95_ms"] >= o["latency_p50_ms"] > 0
    assert dev["overall"]["n"] == 2 and dev["overall"]["n_unanswerable"] == 1


def test_the_suite_report_has_the_tables_and_a_risk_coverage_section(suite_run):
    _, out, _ = suite_run
    report = (out / "rep" / "report.md").read_text(encoding="utf-8")
    for heading in ("## Summary", "## Per kind", "## Risk–coverage (test sets)", "## gold test: per category"):
        assert heading in report, heading
    assert "| gold dev (tune) | 2 |" in report and "| extra (held-out test) | 1 |" in report
    assert "| accent-less |" in report
    assert ("![risk-coverage](risk_coverage.png)" in report) == (out / "rep" / "risk_coverage.png").exists()


def test_records_carry_lead_and_number_faithfulness(suite_run):
    _, out, _ = suite_run
    records = [json.loads(line) for line in (out / "rep" / "per_question_dev.jsonl").read_text(encoding="utf-8").splitlines()]
    for r in records:
        assert {"lead", "lead_correct", "numbers_faithful", "unsupported_numbers", "confidence"} <= set(r)
        if not r["abstained"]:
            assert r["numbers_faithful"] == (r["unsupported_numbers"] == [])


def test_folded_questions_and_a_missing_set_file(tmp_path, embeddings, capsys):
    root = tmp_path / "checkout"
    _jsonl(root / "eval" / "gold.jsonl", GOLD[:2])
    _corpus(root / "corpus")
    args = parse_args(["--suite", "--sets", "dev,extra", "--fold-questions", "--json", str(tmp_path / "s.json"), "--quiet"])
    assert run_suite(args, root=root) == 2  # eval/extra/gold.jsonl is missing
    assert "gold.jsonl" in capsys.readouterr().err
    args = parse_args(["--suite", "--sets", "dev", "--fold-questions", "--json", str(tmp_path / "s.json"), "--quiet",
                       "--report", str(tmp_path / "rep")])
    assert run_suite(args, root=root) == 0
    summary = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert summary["folded_questions"] is True
    first = json.loads((tmp_path / "rep" / "per_question_dev.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first["question"] == "Benh vien Chan thuong Chinh hinh co bao nhieu CBCNV?"


COMPARE = [{"id": "c1", **FACT, "category": "computed", "question": "Bệnh viện Chấn thương Chỉnh hình có bao nhiêu CBCNV, tính cả hai khoa?"}]


def test_compare_is_a_dev_set_over_train_corpus_sharing_its_index(tmp_path, embeddings):
    from eval.suite import SET_NAMES, default_sets

    args = parse_args(["--suite"])
    assert "compare" in SET_NAMES and "compare" in args.sets  # in the default --sets
    root = tmp_path / "checkout"
    _jsonl(root / "eval" / "train" / "gold.jsonl", GOLD[:2])
    _jsonl(root / "eval" / "train" / "compare.jsonl", COMPARE)
    _corpus(root / "eval" / "train" / "corpus")
    spec = default_sets(root)["compare"]
    assert (spec.gold, spec.corpus, spec.role) == (root / "eval" / "train" / "compare.jsonl", root / "eval" / "train" / "corpus", "tune")
    out = tmp_path / "out"
    args = parse_args(["--suite", "--sets", "train,compare", "--report", str(out / "rep"), "--json", str(out / "s.json"), "--quiet"])
    assert run_suite(args, root=root) == 0
    summary = json.loads((out / "s.json").read_text(encoding="utf-8"))
    assert list(summary["sets"]) == ["train", "compare"]
    compare = summary["sets"]["compare"]
    assert compare["overall"]["n"] == 1 and compare["info"]["shared_index_with"] == ["train"]
    assert compare["per_kind"]["comparison/list"]["n"] == 1  # a computed question counts as a comparison
    report = (out / "rep" / "report.md").read_text(encoding="utf-8")
    kind_header = next(line for line in report.splitlines() if line.startswith("| kind |"))
    assert kind_header.split("|")[2:4] == [" train (fitting set) ", " compare (dev, comparisons) "]
    assert "## compare (dev, comparisons): questions answered wrongly" in report  # a set one may tune on
