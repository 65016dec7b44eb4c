"""Named conflict: a question naming a facility/place that a candidate's sentence, title and lead
never name, while the sentence is about another named unit of that kind, vetoes the candidate
(hand-made passages, not from corpus/ or any gold file)."""

from __future__ import annotations

from langchain_core.documents import Document

from rag.answer.checks import other_subject
from rag.answer.extractive import best_fact
from rag.answer.scoring import Scorer


def _doc(title: str, text: str) -> list[Document]:
    return [Document(page_content=text, metadata={"doc_id": "d0", "title": title, "start": 0, "end": len(text), "ranks": {"dense": 1}})]


QUESTION = "Bệnh viện Đa khoa huyện Ngọc Lặc khám bao nhiêu lượt người bệnh?"


def test_another_named_hospital_as_the_sentence_subject_is_a_conflict():
    docs = _doc("Tin y tế tháng 3", "Bệnh viện Đa khoa huyện Mường Lát đã khám 40.000 lượt người bệnh.")
    fact, scored = best_fact(QUESTION, docs, scorer=Scorer.neutral())
    assert fact is None
    assert scored[0].rejected is not None and "another unit" in scored[0].rejected and "Mường Lát" in scored[0].rejected


def test_a_bare_subject_in_a_report_titled_for_another_hospital_is_a_conflict():
    docs = _doc("Bệnh viện Đa khoa huyện Mường Lát tổng kết năm", "Năm 2023, bệnh viện đã khám 40.000 lượt người bệnh.")
    _, scored = best_fact(QUESTION, docs, scorer=Scorer.neutral())
    assert scored[0].rejected is not None and "Mường Lát" in scored[0].rejected


def test_the_asked_hospital_named_in_the_title_is_no_conflict():
    docs = _doc("Bệnh viện Đa khoa huyện Ngọc Lặc tổng kết năm", "Năm 2023, bệnh viện đã khám 40.000 lượt người bệnh.")
    fact, scored = best_fact(QUESTION, docs, scorer=Scorer.neutral())
    assert scored[0].rejected is None
    assert fact is not None and fact.span is not None and fact.span.text.startswith("40.000")


def test_a_unit_named_late_as_an_object_is_only_a_doubt():
    # the sentence's subject is the department; the named hospital comes at its end
    sentence = "Sở Y tế đã tổ chức tập huấn cho 300 lượt cán bộ của nhiều đơn vị, trong đó có Bệnh viện Đa khoa huyện Mường Lát."
    _, scored = best_fact(QUESTION, _doc("Tin y tế tháng 3", sentence), scorer=Scorer.neutral())
    assert scored[0].rejected is None and scored[0].doubt is not None and "not mentioned" in scored[0].doubt


def test_other_subject_by_administrative_rank():
    assert other_subject("Huyện Mường Lát có 30 trạm y tế.", "", "huyen", ["ngoc", "lac"]) == "Huyện Mường Lát"
    assert other_subject("Huyện Ngọc Lặc có 30 trạm y tế.", "", "huyen", ["ngoc", "lac"]) is None
    assert other_subject("Huyện Mường Lát có 30 trạm y tế.", "", "", ["ngoc", "lac"]) is None  # no head: no kind to compare
