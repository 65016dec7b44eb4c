"""The pieces of a composed answer (rag.answer.parts): a part the reports do not answer is marked so."""

from __future__ import annotations

from rag.answer.parts import PartAnswer


def test_a_missing_part_is_its_question_with_the_not_found_line_and_marked():
    part = PartAnswer.missing("Trạm Y tế xã Suối Lau có mấy nữ hộ sinh?", "Không có trong báo cáo.")
    assert part.text == "Trạm Y tế xã Suối Lau có mấy nữ hộ sinh: Không có trong báo cáo."
    assert part.abstained and part.not_found and part.citations == [] and part.computed is None


def test_a_declined_part_is_abstained_but_not_not_found():
    part = PartAnswer("A hơn B bao nhiêu?", "Không tính: hai số liệu khác đơn vị.", True)
    assert part.abstained and not part.not_found
