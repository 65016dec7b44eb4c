"""Tests for the gold question set (eval/gold.jsonl) and its checker (eval/gold.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT

from eval.gold import (
    CATEGORIES,
    NO_DOC,
    GoldItem,
    check_gold,
    count_by_category,
    count_by_document,
    load_gold,
    main,
    normalize_ws,
)

GOLD = ROOT / "eval" / "gold.jsonl"
CORPUS = ROOT / "corpus"
DOC_IDS = sorted(p.stem for p in CORPUS.glob("*.txt"))

MIN_TOTAL = 90
MIN_PER_CATEGORY = 6
MIN_UNANSWERABLE = 10
MIN_PER_DOCUMENT = 12


@pytest.fixture(scope="module")
def gold() -> list[GoldItem]:
    return load_gold(GOLD)


# --------------------------------------------------------------------------- our gold file


def test_gold_file_loads_without_problems(gold: list[GoldItem]) -> None:
    assert check_gold(gold, CORPUS) == []


def test_gold_file_is_utf8_one_object_per_line() -> None:
    lines = GOLD.read_text(encoding="utf-8").splitlines()
    assert all(line.strip() for line in lines), "no blank lines"
    for line in lines:
        assert isinstance(json.loads(line), dict)
        assert "\\u" not in line, "written with ensure_ascii=False"


def test_counts_meet_minimums(gold: list[GoldItem]) -> None:
    assert len(gold) >= MIN_TOTAL
    by_cat = count_by_category(gold)
    for cat in CATEGORIES:
        if cat == "computed":  # added after this set was written; eval/extra/gold.jsonl has them
            continue
        assert by_cat[cat] >= MIN_PER_CATEGORY, f"{cat}: {by_cat[cat]}"
    assert by_cat["unanswerable"] >= MIN_UNANSWERABLE
    assert len(DOC_IDS) == 5
    by_doc = count_by_document(gold)
    single_doc = count_by_document(i for i in gold if i.category != "cross_doc")
    for doc_id in DOC_IDS:
        assert by_doc[doc_id] >= MIN_PER_DOCUMENT, f"{doc_id}: {by_doc[doc_id]}"
        assert single_doc[doc_id] >= MIN_PER_DOCUMENT, f"{doc_id} without cross_doc: {single_doc[doc_id]}"
    assert by_doc[NO_DOC] == by_cat["unanswerable"]


def test_ids_are_sequential(gold: list[GoldItem]) -> None:
    assert [i.id for i in gold] == [f"q{n:03d}" for n in range(1, len(gold) + 1)]


def test_category_conventions(gold: list[GoldItem]) -> None:
    for item in gold:
        if item.category == "no_diacritics":
            assert item.question.isascii(), item.id
        if item.category == "english":
            assert re.search(r"\b(what|which|who|how|when|where|according)\b", item.question, re.I), item.id
        if item.category == "cross_doc":
            assert isinstance(item.doc, list) and len(set(item.doc)) >= 2, item.id
        if item.category == "unanswerable":
            assert item.doc is None and item.evidence is None and item.must_contain == [], item.id
        else:
            assert isinstance(item.doc, str) or item.category == "cross_doc", item.id
            assert 1 <= len(item.must_contain) <= 3, item.id
        if item.category == "follow_up":
            assert item.history and all(u.strip() and a.strip() for u, a in item.history), item.id
        if item.category == "computed":
            assert len(item.evidences) >= 2, item.id


def test_questions_are_distinct(gold: list[GoldItem]) -> None:
    questions = [normalize_ws(i.question).lower() for i in gold]
    assert len(questions) == len(set(questions))


# --------------------------------------------------------------------------- normalisation


def test_normalize_ws_collapses_unicode_whitespace() -> None:
    assert normalize_ws("  9.034\u00a0 (tăng\n\t609 ") == "9.034 (tăng 609"
    decomposed = "Ba\u0303i Cha\u0301y"  # NFD
    assert normalize_ws(decomposed) == "Bãi Cháy"


# --------------------------------------------------------------------------- checker on hand-made items


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    d = tmp_path / "corpus"
    d.mkdir()
    (d / "a.txt").write_text(
        "Bệnh viện X khám 1.234 lượt.\nGiám đốc là\u00a0Nguyễn Văn A.", encoding="utf-8"
    )
    (d / "b.md").write_text("Trung tâm Y tế Y có 56 giường bệnh.", encoding="utf-8")
    (d / "c.pdf").write_bytes(b"%PDF-1.4 not really")
    return d


def make(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "t1",
        "question": "Bệnh viện X khám bao nhiêu lượt?",
        "answer": "1.234 lượt.",
        "must_contain": ["1.234"],
        "doc": "a",
        "evidence": "Bệnh viện X khám 1.234 lượt.",
        "category": "fact_metric",
    }
    data.update(overrides)
    return data


def item(**overrides: Any) -> GoldItem:
    return GoldItem.model_validate(make(**overrides))


def test_checker_accepts_good_items(corpus: Path) -> None:
    items = [
        item(),
        # evidence spans a NBSP in the source and uses a plain space
        item(id="t2", category="fact_person", must_contain=["Nguyễn Văn A"], evidence="Giám đốc là Nguyễn Văn A."),
        item(
            id="t3",
            category="cross_doc",
            doc=["a", "b"],
            must_contain=["1.234", "56"],
            evidence=["khám 1.234 lượt", "có 56 giường bệnh"],
        ),
        item(id="t4", doc="c", evidence="anything", must_contain=["anything"]),  # non-text: existence only
        item(id="t5", category="unanswerable", must_contain=[], doc=None, evidence=None),
        item(
            id="t6",
            category="follow_up",
            history=[["Ai là giám đốc?", "Nguyễn Văn A."]],
            question="Bệnh viện của ông ấy khám bao nhiêu lượt?",
        ),
    ]
    assert check_gold(items, corpus) == []


def test_checker_reports_evidence_not_in_doc(corpus: Path) -> None:
    problems = check_gold([item(evidence="Bệnh viện X khám 9.999 lượt.")], corpus)
    assert any("t1" in p and "evidence not found" in p for p in problems), problems


def test_checker_reports_evidence_in_other_doc_only(corpus: Path) -> None:
    problems = check_gold([item(evidence="có 56 giường bệnh", must_contain=["56"])], corpus)
    assert any("evidence not found" in p for p in problems), problems


def test_checker_reports_missing_must_contain(corpus: Path) -> None:
    problems = check_gold([item(must_contain=["1.234", "4.321"])], corpus)
    assert any("'4.321'" in p and "not found" in p for p in problems), problems
    assert not any("'1.234'" in p for p in problems)


def test_checker_reports_must_contain_outside_evidence(corpus: Path) -> None:
    problems = check_gold([item(must_contain=["Nguyễn Văn A"])], corpus)
    assert any("'Nguyễn Văn A'" in p and "evidence" in p for p in problems), problems


def test_checker_computed_result_need_not_occur(corpus: Path) -> None:
    computed = item(
        id="t7",
        category="computed",
        question="Số lượt khám nhiều hơn số giường bao nhiêu?",
        answer="1.178.",
        must_contain=["1.178"],  # 1.234 - 56, in neither document
        doc=["a", "b"],
        evidence=["khám 1.234 lượt", "có 56 giường bệnh"],
    )
    assert check_gold([computed], corpus) == []
    # the same derived figure in any other category is still reported
    other = item(
        id="t8",
        category="cross_doc",
        must_contain=["1.178"],
        doc=["a", "b"],
        evidence=["khám 1.234 lượt", "có 56 giường bệnh"],
    )
    problems = check_gold([other], corpus)
    assert any("'1.178'" in p and "not found" in p for p in problems), problems


def test_checker_computed_still_checks_evidence(corpus: Path) -> None:
    wrong = item(
        category="computed",
        must_contain=["1.178"],
        doc=["a", "b"],
        evidence=["khám 1.234 lượt", "có 65 giường bệnh"],  # 65, not 56
    )
    problems = check_gold([wrong], corpus)
    assert any("evidence not found" in p and "65" in p for p in problems), problems
    assert not any("'1.178'" in p for p in problems)


def test_checker_computed_needs_two_evidence_strings(corpus: Path) -> None:
    problems = check_gold([item(category="computed", must_contain=["2.468"])], corpus)
    assert any("at least two evidence strings" in p for p in problems), problems
    assert not any("'2.468'" in p for p in problems)


def test_checker_reports_unknown_doc(corpus: Path) -> None:
    problems = check_gold([item(doc="zzz")], corpus)
    assert any("unknown doc id 'zzz'" in p for p in problems), problems
    problems = check_gold([item(category="cross_doc", doc=["a", "zzz"], evidence=["khám 1.234 lượt"])], corpus)
    assert any("unknown doc id 'zzz'" in p for p in problems), problems


def test_checker_reports_answerable_without_must_contain(corpus: Path) -> None:
    problems = check_gold([item(must_contain=[])], corpus)
    assert any("empty must_contain" in p for p in problems), problems


def test_checker_reports_unanswerable_with_doc_or_evidence(corpus: Path) -> None:
    problems = check_gold([item(category="unanswerable", must_contain=[])], corpus)
    assert any("doc null" in p for p in problems), problems
    assert any("evidence null" in p for p in problems), problems


def test_checker_reports_cross_doc_with_single_doc(corpus: Path) -> None:
    problems = check_gold([item(category="cross_doc")], corpus)
    assert any("at least two" in p for p in problems), problems


def test_checker_reports_duplicate_ids(corpus: Path) -> None:
    problems = check_gold([item(), item()], corpus)
    assert any("duplicate id" in p for p in problems), problems


def test_checker_reports_missing_corpus(tmp_path: Path) -> None:
    assert check_gold([item()], tmp_path / "nope")


# --------------------------------------------------------------------------- loader errors


def write_lines(path: Path, rows: list[Any]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_gold_reads_good_file(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "g.jsonl", [make(), "", make(id="t2")])
    assert [i.id for i in load_gold(path)] == ["t1", "t2"]


def test_load_gold_invalid_json_reports_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "bad.jsonl", [make(), make(id="t2"), '{"id": "t3", "question": '])
    with pytest.raises(ValueError, match=r"bad\.jsonl:3: invalid JSON"):
        load_gold(path)


def test_load_gold_bad_category_reports_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "cat.jsonl", [make(), make(id="t2", category="trivia")])
    with pytest.raises(ValueError, match=r"cat\.jsonl:2: .*category"):
        load_gold(path)


def test_load_gold_duplicate_id_reports_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "dup.jsonl", [make(), make(id="t2"), make()])
    with pytest.raises(ValueError, match=r"dup\.jsonl:3: duplicate id 't1' \(first on line 1\)"):
        load_gold(path)


def test_load_gold_missing_field_reports_line(tmp_path: Path) -> None:
    row = make()
    del row["evidence"]
    path = write_lines(tmp_path / "miss.jsonl", [row])
    with pytest.raises(ValueError, match=r"miss\.jsonl:1: .*evidence"):
        load_gold(path)


def test_load_gold_rejects_non_object(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "arr.jsonl", ["[1, 2]"])
    with pytest.raises(ValueError, match=r"arr\.jsonl:1"):
        load_gold(path)


@pytest.mark.parametrize(
    "overrides",
    [
        {"must_contain": ["a", "b", "c", "d"]},
        {"category": "follow_up"},  # follow_up without history
        {"category": "follow_up", "history": [["only the user turn"]]},
        {"history": [["q", "a"]]},  # history on a non-follow_up item
        {"must_contain": [" "]},
        {"doc": []},
        {"unexpected": 1},
    ],
)
def test_model_rejects_bad_items(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        GoldItem.model_validate(make(**overrides))


def test_history_parses_as_pairs() -> None:
    it = item(category="follow_up", history=[["u1", "a1"], ["u2", "a2"]])
    assert it.history == [("u1", "a1"), ("u2", "a2")]


# --------------------------------------------------------------------------- command line


def test_main_ok_prints_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(GOLD), "--corpus", str(CORPUS)]) == 0
    out = capsys.readouterr().out
    assert "no problems" in out
    for cat in CATEGORIES:
        assert cat in out
    for doc_id in DOC_IDS:
        assert doc_id in out


def test_main_reports_problems(tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_lines(tmp_path / "g.jsonl", [make(evidence="không có trong tài liệu")])
    assert main([str(path), "--corpus", str(corpus)]) == 1
    assert "evidence not found" in capsys.readouterr().out


def test_main_reports_load_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_lines(tmp_path / "g.jsonl", ["not json"])
    assert main([str(path)]) == 1
    assert "g.jsonl:1" in capsys.readouterr().err


def test_module_entry_point() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "eval.gold", str(GOLD), "--corpus", str(CORPUS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "per category" in proc.stdout
