"""The fixed dev/test split of a gold file, on a hand-made file."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from eval.gold import load_gold
from eval.run import parse_args
from eval.split import id_key, split_items


def _item(item_id: str, category: str) -> dict:
    if category == "unanswerable":
        return {"id": item_id, "category": category, "question": f"Câu {item_id}?", "answer": "Không nêu.",
                "must_contain": [], "doc": None, "evidence": None}
    return {"id": item_id, "category": category, "question": f"Câu {item_id}?", "answer": "12 ca.",
            "must_contain": ["12"], "doc": "d1", "evidence": "có 12 ca"}


# file order deliberately not id order, categories interleaved, q10 after q9 (natural order)
ROWS = [("q3", "fact_metric"), ("q1", "fact_metric"), ("q2", "unanswerable"), ("q10", "fact_metric"),
        ("q4", "date"), ("q9", "fact_metric"), ("q5", "unanswerable"), ("q6", "unanswerable"), ("q7", "fact_metric")]


@pytest.fixture
def gold(tmp_path):
    path = tmp_path / "gold.jsonl"
    path.write_text("".join(json.dumps(_item(i, c), ensure_ascii=False) + "\n" for i, c in ROWS), encoding="utf-8")
    return load_gold(path)


def test_alternates_within_each_category_in_id_order_first_to_dev(gold):
    dev = [it.id for it in split_items(gold, "dev")]
    test = [it.id for it in split_items(gold, "test")]
    # fact_metric in id order q1 q3 q7 q9 q10 -> dev q1 q7 q10, test q3 q9
    # unanswerable q2 q5 q6 -> dev q2 q6, test q5; date q4 -> dev
    assert sorted(dev, key=id_key) == ["q1", "q2", "q4", "q6", "q7", "q10"]
    assert sorted(test, key=id_key) == ["q3", "q5", "q9"]
    # each half keeps the file's order
    order = [i for i, _ in ROWS]
    assert dev == [i for i in order if i in dev] and test == [i for i in order if i in test]


def test_halves_partition_the_file_and_are_stratified(gold):
    dev, test = split_items(gold, "dev"), split_items(gold, "test")
    assert {it.id for it in dev}.isdisjoint({it.id for it in test})
    assert len(dev) + len(test) == len(gold)
    per_dev, per_test = Counter(it.category for it in dev), Counter(it.category for it in test)
    for category, n in Counter(it.category for it in gold).items():
        assert per_dev[category] == (n + 1) // 2 and per_test[category] == n // 2


def test_split_is_deterministic_and_ignores_file_order(gold):
    assert split_items(gold, "dev") == split_items(gold, "dev")
    shuffled = list(reversed(gold))
    assert {it.id for it in split_items(shuffled, "test")} == {it.id for it in split_items(gold, "test")}


def test_adding_an_item_moves_no_item_of_another_category(gold, tmp_path):
    before = {it.id for it in split_items(gold, "dev") if it.category != "date"}
    extended = [*gold, *load_gold(_one(tmp_path, _item("q0", "date")))]
    after = {it.id for it in split_items(extended, "dev") if it.category != "date"}
    assert before == after


def _one(tmp_path, row: dict):
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def test_shipped_gold_file_splits_into_two_stratified_halves():
    from tests.helpers import ROOT

    items = load_gold(ROOT / "eval" / "gold.jsonl")
    dev, test = split_items(items, "dev"), split_items(items, "test")
    assert len(dev) + len(test) == len(items) and abs(len(dev) - len(test)) <= len({it.category for it in items})
    assert {it.category for it in dev} == {it.category for it in items}


def test_unknown_split_is_a_clear_error(gold):
    with pytest.raises(ValueError, match="unknown split 'train'"):
        split_items(gold, "train")


def test_id_key_orders_naturally():
    assert sorted(["q10", "q9", "q100", "q1"], key=id_key) == ["q1", "q9", "q10", "q100"]


def test_cli_split_flag_and_suite_conflicts(capsys):
    assert parse_args(["--gold", "g.jsonl", "--split", "test"]).split == "test"
    with pytest.raises(SystemExit):
        parse_args(["--gold", "g.jsonl", "--split", "train"])
    with pytest.raises(SystemExit):
        parse_args(["--suite", "--gold", "g.jsonl"])
    assert "--gold only apply to a single gold file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--suite", "--sets", "dev,nope"])
    assert "unknown set(s) nope" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args([])
    assert "--gold is required" in capsys.readouterr().err
    assert parse_args(["--suite", "--sets", "test, extra"]).sets == ["test", "extra"]
