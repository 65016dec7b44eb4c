"""The suite report on hand-made records (no model): tables, per-kind rows, the risk–coverage plot."""

from __future__ import annotations

from pathlib import Path

from eval.aggregate import aggregate, per_kind
from eval.suite import default_sets, find_shared_dir
from eval.suite_report import format_suite_table, plot_risk_coverage, write_suite_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _rec(i: int, category: str, question: str, answerable: bool, correct: bool, abstained: bool,
         confidence: float | None = None, lead_correct: bool | None = None) -> dict:
    return {"id": f"q{i}", "category": category, "question": question, "answerable": answerable, "correct": correct,
            "abstained": abstained, "hit@1": answerable or None, "hit@5": answerable or None,
            "rr@10": 1.0 if answerable else None, "evidence_recall@5": 1.0 if answerable else None,
            "citation_relevant": 1 if answerable else None, "citation_total": 1, "evidence_cited": 1 if answerable else None,
            "evidence_total": 1 if answerable else None, "latency_ms": 10.0 + i, "error": None,
            "lead": ["x"] if lead_correct is not None else [], "lead_correct": lead_correct,
            "numbers_faithful": None if abstained else i % 2 == 0, "confidence": confidence,
            "abstention_correct": abstained != answerable, "must_contain_found": {"1": correct}, "expected": ["1"],
            "got": "**x**", "citations": []}


RECORDS = [
    _rec(0, "multi_hop", "Bệnh viện nào, bao nhiêu giường?", True, True, False, 0.9, True),
    _rec(1, "cross_doc", "so sanh hai benh vien", True, False, False, 0.2, False),
    _rec(2, "computed", "Tăng bao nhiêu ca?", True, True, False, 0.8, True),
    _rec(3, "english", "How many beds?", True, True, False, 0.7, None),
    _rec(4, "unanswerable", "Giám đốc là ai?", False, True, True, 0.1),
    _rec(5, "follow_up", "Còn năm 2022?", True, False, True, 0.05),
]


def _summary(records: list[dict], confidence: bool = True) -> dict:
    recs = records if confidence else [{**r, "confidence": None} for r in records]
    sets = {}
    for name, role in (("test", "test"), ("dev", "tune")):
        sets[name] = {"label": name, "role": role, "gold": "g.jsonl", "split": name, "corpus": "c",
                      "overall": aggregate(recs, 5), "per_category": {"multi_hop": aggregate(recs[:1], 5)},
                      "per_kind": per_kind(recs, 5)}
    return {"suite": True, "k": 5, "folded_questions": False, "created_at": "now", "sets": sets,
            "skipped": {"viquad": "not found: /nowhere"}}, {"test": recs, "dev": recs}


def test_new_metrics_are_pooled_over_the_right_questions():
    o = aggregate(RECORDS, 5)
    assert o["n_answered"] == 4
    assert o["lead_accuracy"] == 2 / 3  # answered answerable with a lead: q0 ok, q1 miss, q2 ok
    assert o["lead_rate"] == 3 / 4  # answered: q0 q1 q2 have a lead, q3 not
    assert o["number_faithfulness"] == 2 / 4  # q0 and q2 faithful
    assert o["coverage"] == 4 / 6 and o["answered_accuracy"] == 3 / 4


def test_per_kind_groups_categories_and_accentless_questions():
    kinds = per_kind(RECORDS, 5)
    assert kinds["compound"]["n"] == 1 and kinds["comparison/list"]["n"] == 2
    assert kinds["accent-less"]["n"] == 1  # "so sanh hai benh vien"; the English question is not counted
    assert kinds["follow_up"]["n"] == 1 and "paraphrase" not in kinds


def test_suite_table_and_report_with_a_risk_coverage_plot(tmp_path):
    summary, records = _summary(RECORDS)
    table = format_suite_table(summary)
    assert table.splitlines()[0].startswith("| set | n | hit@5 | accuracy | lead acc. |")
    assert "| test | 6 |" in table and "Set viquad skipped: not found: /nowhere." in table
    report = write_suite_report(summary, records, tmp_path / "rep").read_text(encoding="utf-8")
    png = tmp_path / "rep" / "risk_coverage.png"
    assert png.read_bytes()[:8] == PNG_MAGIC and "![risk-coverage](risk_coverage.png)" in report
    assert "## Per kind" in report and "| comparison/list |" in report
    assert "## dev: questions answered wrongly" in report and "## test: questions answered wrongly" not in report
    assert (tmp_path / "rep" / "per_question_test.jsonl").read_text(encoding="utf-8").count("\n") == len(RECORDS)


def test_without_confidence_the_report_has_a_note_instead_of_the_plot(tmp_path):
    summary, records = _summary(RECORDS, confidence=False)
    report = write_suite_report(summary, records, tmp_path / "rep").read_text(encoding="utf-8")
    assert not (tmp_path / "rep" / "risk_coverage.png").exists()
    assert "No answer carried a `confidence`" in report and "coverage 0.667" in report
    assert not plot_risk_coverage({"test": records["test"]}, tmp_path / "x.png")


def test_sets_resolve_viquad_next_to_the_checkout_or_the_main_checkout_of_a_worktree(tmp_path):
    viquad = tmp_path / "shared" / "benchmarks" / "viquad-train"
    (viquad / "corpus").mkdir(parents=True)
    (viquad / "gold.jsonl").write_text("", encoding="utf-8")
    main_repo, worktree = tmp_path / "main", tmp_path / "wt" / "one"
    (main_repo / ".git" / "worktrees" / "one").mkdir(parents=True)
    worktree.mkdir(parents=True)
    (worktree / ".git").write_text(f"gitdir: {main_repo / '.git' / 'worktrees' / 'one'}\n", encoding="utf-8")
    assert find_shared_dir(main_repo) == tmp_path / "shared"
    assert find_shared_dir(worktree) == tmp_path / "shared"
    assert default_sets(worktree)["viquad"].gold == viquad / "gold.jsonl"
    assert "viquad" not in default_sets(worktree, viquad=Path(tmp_path / "missing"))
    sets = default_sets(worktree)
    assert sets["dev"].corpus == sets["test"].corpus == worktree / "corpus"
    assert (sets["dev"].split, sets["test"].split, sets["train"].role) == ("dev", "test", "tune")
