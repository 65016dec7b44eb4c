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


def test_a_missing_part_echoes_its_question_without_any_figure_or_bold():
    part = PartAnswer.missing("Bệnh nhân tập trung ở xã nào, năm 2021?", "Không có trong báo cáo.")
    assert part.text == "Bệnh nhân tập trung ở xã nào: Không có trong báo cáo."
    part = PartAnswer.missing("Quý III/2019 Trạm Y tế xã Hòa Bình, bao nhiêu ca", "Không có.")
    assert part.text == "Trạm Y tế xã Hòa Bình, bao nhiêu ca: Không có."
    part = PartAnswer.missing("Tỷ lệ 64,5% của xã Tân Lập từ 2018 đến 2020 là gì?", "Không có.")
    assert part.text == "Tỷ lệ của xã Tân Lập là gì: Không có."
    assert "**" not in part.text
