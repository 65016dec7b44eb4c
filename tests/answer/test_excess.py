"""A surplus over plan ("vượt kế hoạch bao nhiêu ca"): the stated surplus, a per cent said to be
one, or result − plan computed from one sentence. Every sentence is written for these tests;
5.600 − 5.000 = 600 worked out by hand."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from rag.answer import excess
from rag.answer.compose import answer_extractive
from eval import metrics as M

QUESTION = "Số ca phẫu thuật năm 2024 của Bệnh viện Đa khoa huyện Cây Gạo vượt kế hoạch bao nhiêu ca?"


def _docs(sentence: str) -> list[Document]:
    other = "Năm 2024, Trung tâm Y tế huyện Đồi Thông có 120 giường bệnh."
    return [
        Document(page_content=text, metadata={"doc_id": f"d{i}", "title": title, "start": 0, "end": len(text), "ranks": {"dense": i + 1}})
        for i, (title, text) in enumerate((("Bệnh viện Đa khoa huyện Cây Gạo năm 2024", sentence), ("Trung tâm Y tế huyện Đồi Thông", other)))
    ]


@pytest.mark.parametrize(
    ("question", "asked"),
    [(QUESTION, True), ("Tỷ lệ tiêm chủng vượt bao nhiêu phần trăm?", True), ("so ca mo vuot ke hoach bao nhieu ca", True), ("Bệnh viện có bao nhiêu giường?", False)],
)
def test_a_surplus_is_asked(question, asked):
    assert excess.asks_excess(question) is asked


def test_a_stated_surplus_in_per_cent_answers_a_count_question_and_says_it_is_a_per_cent():
    result = answer_extractive(QUESTION, docs=_docs("Năm 2024, Bệnh viện Đa khoa huyện Cây Gạo thực hiện 5.600 ca phẫu thuật, vượt 12% kế hoạch."))
    assert not result.abstained
    assert result.text.startswith(f"**vượt 12%** {excess.PERCENT_NOTE} — “")
    assert M.lead_correct(result.text, ["12%"]) is True


def test_a_surplus_stated_in_the_asked_unit_is_the_bold_answer():
    result = answer_extractive(QUESTION, docs=_docs("Năm 2024, Bệnh viện Đa khoa huyện Cây Gạo thực hiện 5.600 ca phẫu thuật, vượt kế hoạch 600 ca."))
    assert result.text.startswith("**600 ca** — “") and excess.PERCENT_NOTE not in result.text


def test_result_and_plan_in_counts_give_the_surplus_computed_and_checkable():
    sentence = "Năm 2024, Bệnh viện Đa khoa huyện Cây Gạo thực hiện 5.600 ca phẫu thuật, kế hoạch giao 5.000 ca."
    result = answer_extractive(QUESTION, docs=_docs(sentence))
    assert not result.abstained and result.parts[-1].computed == "5.600 − 5.000 = 600"
    assert "= **600** ca [1]" in result.text
    assert M.unsupported_numbers(result.text, [sentence], [result.parts[-1].computed]) == []
