"""The operands of a computed comparison: another facility of the asked place is no operand, a
bound ("dưới 70%") is no figure, two periods the question asks are compared, a declined figure
is not an answer (a declined comparison still quotes both).

Every sentence is written for these tests (no corpus or gold wording); expected figures are
worked out by hand: 520.400 − 310.250 = 210.150; 88,5 − 81 = 7,5; 91,2 − 90,6 = 0,6.
"""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from rag.answer import compute, operands
from rag.answer.compose import answer_extractive
from rag.query.analysis import extract_entities


def _docs(*passages: tuple[str, str]) -> list[Document]:
    return [
        Document(page_content=text, metadata={"doc_id": f"d{i}", "title": title, "start": 0, "end": len(text), "ranks": {"dense": i + 1}})
        for i, (title, text) in enumerate(passages)
    ]


def _named(question: str) -> list:
    return [e for e in extract_entities(question) if e.kind in ("facility", "place", "name")]


@pytest.mark.parametrize(
    ("sentence", "other"),
    [
        ("Năm 2022, Bệnh viện III Phú Yên (thị xã Sông Cầu) đã khám cho 310.250 lượt người bệnh.", True),
        ("Năm 2022, Bệnh viện Đa khoa Phú Yên đã khám cho 520.400 lượt người bệnh.", False),
        ("Năm 2022, BVĐK tỉnh Phú Yên đã khám cho 520.400 lượt người bệnh.", False),
        ("Năm 2022, Bệnh viện đã khám cho 520.400 lượt người bệnh.", False),  # the place unsaid: no conflict
        ("Giám đốc Bệnh viện cho biết, tỉnh Phú Yên có 12 điểm tiêm.", False),  # a comma ends a facility's name
    ],
)
def test_another_facility_of_the_asked_place_is_recognised(sentence, other):
    question = "Năm 2022 Bệnh viện Đa khoa tỉnh Phú Yên khám bao nhiêu lượt?"
    assert operands.other_facility(sentence, question, _named(question)) is other


TWO_HOSPITALS = _docs(
    ("Bệnh viện III Phú Yên năm 2022", "Năm 2022, Bệnh viện III Phú Yên (thị xã Sông Cầu) đã khám cho 310.250 lượt người bệnh."),
    ("Bệnh viện Đa khoa tỉnh Phú Yên tổng kết năm 2022", "Năm 2022, Bệnh viện đã khám cho 520.400 lượt người bệnh, đạt 104% kế hoạch."),
    ("Bệnh viện Đa khoa huyện Tuy An năm 2022", "Năm 2022, Bệnh viện Đa khoa huyện Tuy An đã khám cho 96.300 lượt người bệnh."),
)


def test_an_operand_is_not_taken_from_another_hospital_of_the_same_province():
    result = answer_extractive(
        "Năm 2022 Bệnh viện Đa khoa tỉnh Phú Yên khám nhiều hơn Bệnh viện Đa khoa huyện Tuy An bao nhiêu lượt?", docs=TWO_HOSPITALS
    )
    assert result.parts[-1].computed == "520.400 − 96.300 = 424.100"
    assert "310.250" not in result.text


def test_a_bound_is_no_operand():
    docs = _docs(
        ("Trạm y tế tỉnh Hà Giang", "Các huyện Mèo Vạc và Đồng Văn có tỷ lệ trạm y tế có bác sĩ dưới 60%."),
        ("Trạm y tế tỉnh Hà Giang", "Toàn tỉnh Hà Giang có 195 trạm y tế, trong đó 172 trạm có bác sĩ làm việc, đạt 88,5%."),
        ("Trạm y tế tỉnh Bạc Liêu", "Tỉnh Bạc Liêu hiện có 50/62 trạm y tế có bác sĩ làm việc, đạt 81%."),
    )
    result = answer_extractive("Tỷ lệ trạm y tế có bác sĩ của Hà Giang cao hơn Bạc Liêu bao nhiêu?", docs=docs)
    assert result.parts[-1].computed == "88,5% − 81% = 7,5"


def test_two_periods_the_question_asks_are_compared_and_a_declined_computation_is_no_answer():
    docs = _docs(
        ("Bảo hiểm y tế tỉnh Vĩnh Phúc", "Tính đến ngày 30/6/2025, tỷ lệ tham gia bảo hiểm y tế của tỉnh Vĩnh Phúc đạt 91,2% dân số."),
        ("Bảo hiểm y tế tỉnh Ninh Bình năm 2024", "Năm 2024, tỷ lệ tham gia bảo hiểm y tế của tỉnh Ninh Bình đạt 90,6% dân số."),
    )
    asked = answer_extractive("So sánh tỷ lệ tham gia bảo hiểm y tế của Vĩnh Phúc (đến 30/6/2025) và Ninh Bình (năm 2024).", docs=docs)
    assert not asked.abstained and asked.parts[-1].computed == "91,2% − 90,6% = 0,6"
    unasked = answer_extractive("So sánh tỷ lệ tham gia bảo hiểm y tế của Vĩnh Phúc và Ninh Bình.", docs=docs)
    assert not unasked.abstained and "kỳ khác nhau" in unasked.parts[-1].text  # declined, both figures still quoted
    assert "91,2%" in unasked.text and "90,6%" in unasked.text
    gap = answer_extractive("Chênh lệch tỷ lệ tham gia bảo hiểm y tế giữa Vĩnh Phúc và Ninh Bình là bao nhiêu?", docs=docs)
    assert gap.abstained and "kỳ khác nhau" in gap.parts[-1].text  # a figure asked and declined: not an answer
    assert compute.asked_apart("tỷ lệ của A (đến 30/6/2025)", "tỷ lệ của B (năm 2024)")
    assert not compute.asked_apart("tỷ lệ của A năm 2024", "tỷ lệ của B năm 2024")
