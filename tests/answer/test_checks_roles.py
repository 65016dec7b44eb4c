"""A person question's role and organisation (rag/answer/checks.span_ok over typed_spans roles) on
sentences written for this test (not from corpus/ or any gold file): an abbreviated organisation
("CDC", "TTYT", "BVĐK") names its kind, so the director of a CDC never answers for the director of
the Sở Y tế, and does answer for the director of the CDC."""

from __future__ import annotations

from langchain_core.documents import Document

from rag.answer.extractive import best_fact
from rag.answer.scoring import Scorer
from rag.answer.typed_spans import person_spans, question_role

SENTENCE = "Theo BSCKII Đinh Quang Hải – Giám đốc CDC tỉnh Hà Giang, toàn tỉnh đã tiêm cho 9.100 trẻ."


def _docs() -> list[Document]:
    return [Document(page_content=SENTENCE, metadata={"doc_id": "d0", "title": "Tin tiêm chủng Hà Giang", "start": 0, "end": len(SENTENCE), "ranks": {"dense": 1}})]


def test_abbreviated_organisations_name_their_kind():
    assert question_role("giam doc cdc ha giang ten gi") == (False, "giam doc", "trung tam")
    assert question_role("Giám đốc TTYT huyện Mèo Vạc là ai?") == (False, "giam doc", "trung tam")
    assert question_role("Giám đốc BVĐK tỉnh Hà Giang là ai?") == (False, "giam doc", "benh vien")
    assert question_role("giam doc syt ha giang la ai") == (False, "giam doc", "so")
    assert [sp.roles for sp in person_spans(SENTENCE)] == [((False, "giam doc", "trung tam"),)]


def test_the_cdc_director_answers_for_the_cdc_not_for_the_department():
    _, scored = best_fact("Giám đốc Sở Y tế Hà Giang là ai?", _docs(), scorer=Scorer.neutral())
    assert all(s.span is None for s in scored)
    _, scored = best_fact("giam doc cdc ha giang ten gi", _docs(), scorer=Scorer.neutral())
    assert any(s.span is not None and s.span.text == "Đinh Quang Hải" for s in scored)
