"""The analysed question: computed once, equal to the analysis of its text, its parts, its forms."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

import rag.query.question as question_module
from rag.answer.compose import answer_extractive, standalone_parts, sub_questions
from rag.query.analysis import analyze, extract_entities
from rag.query.question import Question, analyse_question, as_question


@pytest.mark.parametrize(
    "text",
    [
        "Bệnh viện Đa khoa huyện Cây Gạo khám bao nhiêu lượt người năm 2024?",
        "benh vien da khoa huyen cay gao kham bao nhieu luot nguoi nam 2024",
        "Giám đốc Trung tâm Y tế huyện Đồi Thông là ai?",
        "Số ca mắc sốt xuất huyết và số ca tử vong của huyện Sông Xanh năm 2023 là bao nhiêu?",
        "How many beds does Ho Lam General Hospital have?",
    ],
)
def test_the_type_is_the_analysis_of_the_text(text):
    q = analyse_question(text)
    assert q.type == analyze(text)
    assert q.entities == tuple(extract_entities(text))


def test_each_field_is_computed_once(monkeypatch):
    calls: list[str] = []
    real = question_module.analyze

    def counting(text: str, parts: int | None = None):
        calls.append(text)
        return real(text, parts)

    monkeypatch.setattr(question_module, "analyze", counting)
    q = Question("Trạm Y tế xã Tân Hòa tiêm chủng cho bao nhiêu trẻ em năm 2022?")
    first = q.type
    assert q.type is first and q.entities is first.entities
    assert q.parts is q.parts and q.parts == (q,)
    assert calls == ["Trạm Y tế xã Tân Hòa tiêm chủng cho bao nhiêu trẻ em năm 2022?"]


def test_the_parts_of_a_compound_question_are_questions_of_their_own():
    q = Question("Số lượt khám bệnh của Bệnh viện Hồ Lam và số ca phẫu thuật của Bệnh viện Núi Đỏ là bao nhiêu?")
    assert [p.text for p in q.parts] == ["Số lượt khám bệnh của Bệnh viện Hồ Lam", "số ca phẫu thuật của Bệnh viện Núi Đỏ là bao nhiêu?"]
    assert all(isinstance(p, Question) and p.rewritten is None for p in q.parts)
    assert q.type.two_facts is True
    assert [e.text for e in q.parts[1].entities] == ["Núi Đỏ"]


def test_standalone_parts_borrow_and_a_single_question_is_itself():
    q = Question("Huyện Sông Xanh và huyện Núi Đỏ có bao nhiêu ca tay chân miệng?")
    parts = standalone_parts(q)
    assert [p.text for p in parts] == sub_questions(q.text)
    assert all("tay chân miệng" in p.text for p in parts)
    one = Question("Huyện Sông Xanh có bao nhiêu ca tay chân miệng?")
    assert standalone_parts(one) == [one] and standalone_parts(one)[0] is one


def test_the_three_texts_and_the_folded_form():
    q = analyse_question("con huyen do thi sao", rewritten="so ca tay chan mieng huyen Nui Do", restored="số ca tay chân miệng huyện Núi Đỏ")
    assert q.raw == "con huyen do thi sao"
    assert q.text == "so ca tay chan mieng huyen Nui Do"  # the rewrite is what is searched and answered
    assert q.restored == "số ca tay chân miệng huyện Núi Đỏ"
    assert Question("Số Ca Ở Núi Đỏ").folded == "so ca o nui do"
    assert len(Question("Bệnh viện Đồi Thông").folded) == len("Bệnh viện Đồi Thông")
    assert Question("Bệnh viện Đồi Thông").text == "Bệnh viện Đồi Thông"


def test_english_and_period():
    assert Question("How many nurses did the district hospital have in 2021?").english is True
    assert Question("Bệnh viện có bao nhiêu điều dưỡng?").english is False
    assert Question("Số ca sởi quý II/2023 ở huyện Đồi Thông?").period == frozenset({2023})
    assert Question("so ca soi nam 2022 va 2023").period == frozenset({2022, 2023})
    assert Question("Bệnh viện có bao nhiêu điều dưỡng?").period == frozenset()


def test_frozen_and_hashable_on_its_texts():
    a, b = Question("Ai là Giám đốc Sở Y tế tỉnh Bến Lạc?"), Question("Ai là Giám đốc Sở Y tế tỉnh Bến Lạc?")
    _ = a.type  # a cached field takes no part in equality or the hash
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    with pytest.raises(AttributeError):
        a.raw = "khác"  # type: ignore[misc]
    assert as_question(a) is a and as_question("Ai là Giám đốc?") == Question("Ai là Giám đốc?")


def test_the_answerer_takes_a_question_or_its_text_alike():
    docs = [Document(page_content="Năm 2024, Bệnh viện Đa khoa huyện Cây Gạo đã khám cho 41.230 lượt người bệnh.", metadata={"doc_id": "d1", "title": "Báo cáo Cây Gạo", "start": 0, "end": 80})]
    text = "Năm 2024 Bệnh viện Đa khoa huyện Cây Gạo khám bao nhiêu lượt người bệnh?"
    by_text = answer_extractive(text, docs=docs)
    by_question = answer_extractive(Question(text), docs=docs)
    assert "41.230" in by_question.text
    assert (by_question.text, by_question.abstained, by_question.confidence) == (by_text.text, by_text.abstained, by_text.confidence)


class _Library:
    """A plain retriever (a callable over two passages) that records what each search was given."""

    def __init__(self, accepts_question: bool) -> None:
        self.accepts_question = accepts_question
        self.given: list[object] = []

    def __call__(self, query: object) -> list[Document]:
        self.given.append(query)
        text = "Năm 2024, Trung tâm Y tế huyện Đồi Thông đã tiêm chủng cho 3.412 trẻ em dưới 1 tuổi."
        return [Document(page_content=text, metadata={"doc_id": "dt", "title": "Báo cáo Đồi Thông", "start": 0, "end": len(text)})]


@pytest.mark.parametrize("accepts", [True, False])
def test_the_chain_analyses_once_and_hands_a_question_only_to_a_retriever_that_takes_one(accepts):
    from rag.answer.chain import AnswerChain

    library = _Library(accepts)
    answer = AnswerChain(library).invoke("Năm 2024 Trung tâm Y tế huyện Đồi Thông tiêm chủng cho bao nhiêu trẻ em?")
    assert "3.412" in answer.answer
    (given,) = library.given  # one search for a one-part question
    if accepts:
        assert given == Question("Năm 2024 Trung tâm Y tế huyện Đồi Thông tiêm chủng cho bao nhiêu trẻ em?")
    else:
        assert given == "Năm 2024 Trung tâm Y tế huyện Đồi Thông tiêm chủng cho bao nhiêu trẻ em?"


def test_the_retriever_takes_a_question_and_reuses_its_restored_form(retriever):
    text = "trung tam y te huyen tien du co bao nhieu giuong benh"
    restored = retriever.restore_query(text)
    assert restored is not None and restored != text
    assert retriever.restore_query(Question(text, restored=restored)) == restored
    assert retriever.restore_query(Question(text, restored="trung tâm y tế")) == "trung tâm y tế"  # given, not recomputed
    assert retriever.restore_query(Question(text)) == restored  # none given: restored here
    by_text, by_question = retriever.search(text), retriever.search(Question(text, restored=restored))
    assert by_question.restored_query == by_text.restored_query == restored
    assert [h.chunk.chunk_id for h in by_question.hits] == [h.chunk.chunk_id for h in by_text.hits]
    assert [d.id for d in retriever.invoke(Question(text, restored=restored))] == [d.id for d in retriever.invoke(text)]
