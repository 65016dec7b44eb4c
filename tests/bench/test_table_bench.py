"""bench/table_bench.py: its questions cover every cell of the table, and its judge tells a row from a cell."""

from __future__ import annotations

import json
from types import SimpleNamespace

from bench.table_bench import QUESTIONS, judge
from tests import docs_factory as f


def test_one_question_per_non_empty_cell():
    questions = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    assert sorted(q["figure"] for q in questions["cells"]) == sorted(c for row in f.TABLE_ROWS for c in row[2:] if c)
    assert len(questions["absent"]) == sum(1 for row in f.TABLE_ROWS for c in row[2:] if not c)


def answer(text: str, cited: str, doc: str = "bang", abstained: bool = False):
    return SimpleNamespace(answer=text, abstained=abstained, citations=[SimpleNamespace(doc_id=doc, text=cited)])


def test_judge_needs_the_row_cited_and_the_cell_in_the_lead():
    row = "Trung tâm Y tế huyện A — Giường bệnh kế hoạch: 80; Giường bệnh thực kê: 92; Công suất: 101,3%"
    assert judge(answer(f"**92** — “{row}” [1]", row), "92", "bang") == (True, True)
    assert judge(answer(f"“{row}” [1]", row), "92", "bang") == (True, False)  # the row, no column picked
    assert judge(answer(f"**80** — “{row}” [1]", row), "92", "bang") == (True, False)  # the wrong column
    assert judge(answer(f"**92** — “{row}” [1]", row, doc="bv_a"), "92", "bang") == (False, False)  # not the table
    assert judge(answer("Không tìm thấy.", row, abstained=True), "92", "bang") == (False, False)
