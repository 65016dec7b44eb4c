"""Table rows found by questions: tables in HTML, DOCX and PDF ingested and searched through the real CLI."""

from __future__ import annotations

import json

import pytest

from tests import docs_factory as f
from tests.helpers import run_cli

pytestmark = pytest.mark.slow

ROW_A = "Trung tâm Y tế huyện A — Giường bệnh kế hoạch: 80; Giường bệnh thực kê: 92; Công suất: 101,3%"


@pytest.fixture(scope="module")
def table_index(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tables")
    for doc_id, (title, body) in f.LIBRARY.items():
        f.write_txt(folder / f"{doc_id}.txt", title, body)
    f.write_table_html(folder / "bang_html.html")
    f.write_table_docx(folder / "bang_docx.docx")
    f.write_table_pdf(folder / "bang_pdf.pdf")
    index = tmp_path_factory.mktemp("tables-index")
    result = run_cli("ingest", str(folder), "--index", str(index), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "6 added" in result.stdout
    return index


def test_search_finds_the_row_in_every_format(table_index):
    result = run_cli("search", "Công suất sử dụng giường bệnh của Trung tâm Y tế huyện A", "--k", "6", "--json", "--index", str(table_index))
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)["results"]
    with_row = {h["doc_id"] for h in hits if ROW_A in h["text"]}
    assert {"bang_html", "bang_docx", "bang_pdf"} <= with_row
    assert hits[0]["doc_id"].startswith("bang_")


# in the table's own words: paraphrases ("công suất sử dụng giường bệnh") are the answerer's concern
QUESTIONS = {
    "a": ("Công suất của Trung tâm Y tế huyện A đạt bao nhiêu phần trăm?", "101,3%"),
    "b": ("Bệnh viện Đa khoa tỉnh có bao nhiêu giường bệnh thực kê?", "1.410"),
}


def test_ask_answers_with_the_figure_from_the_row(table_index, tmp_path):
    batch = tmp_path / "q.jsonl"
    batch.write_text("\n".join(json.dumps({"id": k, "question": q}, ensure_ascii=False) for k, (q, _) in QUESTIONS.items()), encoding="utf-8")
    result = run_cli("ask", "--batch", str(batch), "--json", "--index", str(table_index))
    assert result.returncode == 0, result.stderr
    answers = {a["id"]: a for a in map(json.loads, result.stdout.splitlines())}
    assert set(answers) == set(QUESTIONS)
    for key, (_, figure) in QUESTIONS.items():
        answer = answers[key]
        assert not answer["abstained"], answer
        assert answer["answer"].startswith(f"**{figure}**"), answer["answer"]  # the asked column's cell, in bold
        assert any(figure in c["text"] and c["doc_id"].startswith("bang_") for c in answer["citations"])


def test_ask_a_row_that_leaves_the_asked_column_empty_abstains(table_index):
    # huyện C's row has no "Giường bệnh thực kê" cell: its other cells are no answer, nor are other rows'
    result = run_cli("ask", "Trung tâm Y tế huyện C có bao nhiêu giường bệnh thực kê?", "--json", "--index", str(table_index))
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["abstained"], answer["answer"]
    assert not any(fig in answer["answer"] for fig in ("60", "87,5%", "92", "1.410"))
