"""The asked-place veto (rag/answer/checks.places_unnamed) on reports written for this test (not
from corpus/ or any gold file): a report that never names the asked province does not answer for
it; one that names it, or names one of two compared provinces, still can."""

from __future__ import annotations

from langchain_core.documents import Document

from rag.answer.candidates import make_passages
from rag.answer.checks import is_conflict, places_unnamed
from rag.answer.extractive import best_fact
from rag.answer.scoring import Scorer
from rag.query.analysis import analyze

REPORT = (
    "Sở Y tế tỉnh Hà Giang tổng kết công tác phòng chống dịch. "
    "Từ đầu năm đến nay, toàn tỉnh ghi nhận 412 ca mắc sốt xuất huyết, giảm 15% so với cùng kỳ."
)


def _passages(text: str, lookup: bool = True):
    doc = Document(page_content=text, metadata={"doc_id": "hg", "title": "Báo cáo phòng chống dịch", "start": 0, "end": len(text)})
    return [doc], make_passages([doc], (lambda _id: text) if lookup else None)


def test_a_report_that_never_names_the_asked_province_is_vetoed():
    q = "Tỉnh Bến Tre ghi nhận bao nhiêu ca sốt xuất huyết?"
    _, passages = _passages(REPORT)
    issue = places_unnamed(analyze(q), passages[0])
    assert issue == "the document names none of Bến Tre" and is_conflict(issue)


def test_the_asked_province_named_without_accents_or_in_one_of_two():
    _, passages = _passages(REPORT)
    for q in ("ha giang co bao nhieu ca sot xuat huyet", "Hà Giang và Bến Tre mỗi tỉnh có bao nhiêu ca sốt xuất huyết?"):
        assert places_unnamed(analyze(q), passages[0]) is None, q


def test_no_veto_without_the_whole_document_or_without_an_asked_place():
    _, passages = _passages(REPORT, lookup=False)
    assert places_unnamed(analyze("Tỉnh Bến Tre ghi nhận bao nhiêu ca sốt xuất huyết?"), passages[0]) is None
    _, passages = _passages(REPORT)
    assert places_unnamed(analyze("Toàn tỉnh ghi nhận bao nhiêu ca sốt xuất huyết?"), passages[0]) is None


def test_the_answerer_rejects_every_unit_of_the_other_province_report():
    docs, _ = _passages(REPORT)
    _, scored = best_fact("Tỉnh Bến Tre ghi nhận bao nhiêu ca sốt xuất huyết?", docs, lambda _id: REPORT, scorer=Scorer.neutral())
    assert scored and all(s.rejected == "the document names none of Bến Tre" for s in scored)
    _, scored = best_fact("Tỉnh Hà Giang ghi nhận bao nhiêu ca sốt xuất huyết?", docs, lambda _id: REPORT, scorer=Scorer.neutral())
    assert any(s.rejected is None and s.span is not None and "412" in s.span.text for s in scored)
