"""Lead accuracy, number faithfulness, computed lines and the risk–coverage curve on hand-made answers."""

from __future__ import annotations

import pytest

from eval import metrics as M
from eval.engine import answer_extras, answer_fields
from eval.gold import GoldItem

PASSAGE = "Năm 2023 toàn tỉnh ghi nhận 7.412 ca mắc sốt xuất huyết, tỷ lệ tử vong dưới 1%."

# --------------------------------------------------------------------------- lead


def test_lead_is_the_bold_outside_quotes():
    answer = "**7.412 ca** — “Năm 2023 toàn tỉnh ghi nhận **7.412 ca** mắc” [1] … \"và **99** người\" [2]"
    assert M.lead_spans(answer) == ["7.412 ca"]
    assert M.lead_spans("“**trong trích dẫn**” [1]") == []
    assert M.lead_spans("Không có chữ đậm [1]") == []
    two = "**Bệnh viện Bãi Cháy** và **Trung tâm Y tế Tiên Du**"
    assert M.lead_spans(two) == ["Bệnh viện Bãi Cháy", "Trung tâm Y tế Tiên Du"]


def test_lead_below_one_is_a_miss_when_7412_was_asked_even_if_the_quote_has_it():
    answer = f"**dưới 1** — “{PASSAGE}” [1]"
    assert M.answer_correct(answer, ["7.412"], abstained=False)  # accuracy sees the quote
    assert M.lead_correct(answer, ["7.412"]) is False
    assert M.lead_correct(f"**7.412 ca** — “{PASSAGE}” [1]", ["7.412"]) is True


def test_lead_matching_is_whole_number_and_whole_word_and_needs_one_expected_string():
    assert M.lead_correct("**1.383.605 lượt**", ["383.605"]) is False
    assert M.lead_correct("**hạng II**", ["hạng I"]) is False
    assert M.lead_correct("**Bệnh viện hạng I**", ["hạng I"]) is True
    assert M.lead_correct("**Đông Hà**", ["Đông Hà", "Hải Lăng"]) is True
    assert M.lead_correct("không có lead", ["7.412"]) is None


# --------------------------------------------------------------------------- numbers


def test_numbers_are_read_as_written_without_citation_markers():
    text = "**7.412** ca [1] — “năm 2023 đạt 95,25%, cúm H5N1, ngày 5/1/2024.” [12]"
    assert M.numbers_in(text) == ["7.412", "2023", "95,25", "5/1/2024"]


def test_number_faithfulness_compares_numbers_as_written():
    assert M.numbers_faithful(f"**7.412 ca** — “{PASSAGE}” [1]", [PASSAGE])
    assert M.unsupported_numbers("**7412 ca** [1]", [PASSAGE]) == ["7412"]  # separators are not normalised
    assert M.unsupported_numbers("**412 ca** [1]", [PASSAGE]) == ["412"]  # whole numbers only
    assert M.numbers_faithful("Tỷ lệ **95,25%** [1]", ["tỷ lệ bao phủ đạt 95,25% dân số"])
    assert not M.numbers_faithful("Tỷ lệ **95,2%** [1]", ["tỷ lệ bao phủ đạt 95,25% dân số"])
    assert M.numbers_faithful("Không có con số nào [1]", [PASSAGE])
    assert not M.numbers_faithful("**7.412 ca**", [])  # nothing cited supports it


def test_vietnamese_number_format():
    assert M.parse_vn_number("383.605") == 383605
    assert M.parse_vn_number("95,25%") == pytest.approx(95.25)
    assert M.parse_vn_number("1.234,5") == pytest.approx(1234.5)
    with pytest.raises(ValueError, match="not a number"):
        M.parse_vn_number("abc")


def test_computation_lines_hold_or_not():
    assert M.computation_result("Chênh lệch: 12.345 − 10.000 = 2.345 ca") == (["12.345", "10.000"], "2.345")
    assert M.computation_result("95,25% − 90,1% = 5,2 điểm phần trăm") == (["95,25", "90,1"], "5,2")
    assert M.computation_result("1.200 + 800 + 45 = 2.045") == (["1.200", "800", "45"], "2.045")
    assert M.computation_result("2 × 3 + 4 = 10") == (["2", "3", "4"], "10")
    assert M.computation_result("7.412 − 1.000 = 6.400") is None  # wrong arithmetic
    assert M.computation_result("10 / 0 = 1") is None
    assert M.computation_result("không có phép tính") is None


def test_a_computed_result_is_supported_only_when_its_operands_are_cited_and_it_holds():
    cited = ["Năm 2023 có 12.345 ca, năm 2022 có 10.000 ca."]
    answer = "**2.345 ca** — 12.345 − 10.000 = 2.345 [1]"
    assert M.unsupported_numbers(answer, cited) == ["2.345"]  # not marked as computed
    assert M.numbers_faithful(answer, cited, ["12.345 − 10.000 = 2.345"])
    one_cited = ["Năm 2023 có 12.345 ca."]
    assert M.unsupported_numbers(answer, one_cited, ["12.345 − 10.000 = 2.345"]) == ["2.345", "10.000"]  # answer order
    wrong = "**2.355 ca** — 12.345 − 10.000 = 2.355 [1]"
    assert M.unsupported_numbers(wrong, cited, ["12.345 − 10.000 = 2.355"]) == ["2.355"]


def test_computed_lines_are_read_from_the_answer_json():
    ans = {"answer": "x", "confidence": 0.7, "computed": ["12.345 − 10.000 = 2.345"],
           "parts": [{"text": "5 + 6 = 11", "computed": True}, {"text": "không", "computed": False},
                     {"text": "y", "computed": {"expression": "1 + 1 = 2"}}]}
    assert answer_extras(ans) == {"confidence": 0.7, "computed_lines": ["12.345 − 10.000 = 2.345", "5 + 6 = 11", "1 + 1 = 2"]}
    assert answer_extras({"answer": "x"}) == {"confidence": None, "computed_lines": []}
    assert answer_extras({"confidence": True})["confidence"] is None  # a bool is not a confidence


def _item(**kw) -> GoldItem:
    base = {"id": "x", "category": "fact_metric", "question": "Bao nhiêu ca?", "answer": "7.412 ca.",
            "must_contain": ["7.412"], "doc": "d", "evidence": "7.412 ca mắc"}
    return GoldItem(**{**base, **kw})


def test_record_fields_for_answered_abstained_and_unanswerable():
    answered = answer_fields(_item(), f"**dưới 1** — “{PASSAGE}” [1]", False, [PASSAGE])
    assert answered["correct"] and answered["lead"] == ["dưới 1"] and answered["lead_correct"] is False
    assert answered["numbers_faithful"] is True and answered["unsupported_numbers"] == []
    abstained = answer_fields(_item(), "Không tìm thấy.", True, [])
    assert abstained["lead_correct"] is None and abstained["numbers_faithful"] is None
    unanswerable = _item(category="unanswerable", must_contain=[], doc=None, evidence=None)
    wrongly = answer_fields(unanswerable, "**42 ca** [1]", False, [PASSAGE])
    assert wrongly["lead_correct"] is None and wrongly["numbers_faithful"] is False  # counted: it answered


# --------------------------------------------------------------------------- risk–coverage


def test_risk_coverage_sorts_answered_by_confidence():
    points = M.risk_coverage([0.9, 0.1, None, 0.5, 0.3], [True, True, False, True, True], [True, False, False, True, False])
    # answered by confidence: 0.9 ok, 0.5 ok, 0.3 wrong, 0.1 wrong; coverage over all 5 questions
    assert points == [(0.2, 1.0), (0.4, 1.0), (0.6, pytest.approx(2 / 3)), (0.8, 0.5)]
    assert M.risk_coverage([0.5], [False], [False]) == []
    with pytest.raises(ValueError, match="same length"):
        M.risk_coverage([0.5], [True, False], [True])
