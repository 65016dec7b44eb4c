"""Figures derived from a stated change ("… năm trước là bao nhiêu", "suy ra") and operands chosen
by the asked measure, subject and threshold.

Every sentence is written for these tests (no corpus or gold wording); expected figures are
worked out by hand: 250.000 × 100 : 125 = 200.000; 1.200 × 100 : 80 = 1.500; 91,5 − 2,5 = 89;
3.400 − 400 = 3.000.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from langchain_core.documents import Document

from rag.answer import compute, operands
from rag.answer.compose import answer_extractive
from rag.answer.numbers import parse_number
from rag.answer.operands import asked_unit, measure_of
from rag.answer.parts import without_figures
from rag.answer.scoring import default_scorer
from rag.answer.verify import verify


def _docs(*passages: tuple[str, str]) -> list[Document]:
    return [
        Document(page_content=text, metadata={"doc_id": f"d{i}", "title": title, "start": 0, "end": len(text), "ranks": {"dense": i + 1}})
        for i, (title, text) in enumerate(passages)
    ]


@pytest.mark.parametrize(
    ("sentence", "written", "kind", "up", "baseline"),
    [
        ("Năm 2024 bệnh viện khám 250.000 lượt, tăng 25% so với năm 2023.", "25", "percent", True, {"2023"}),
        ("Chuyển tuyến 1.200 lượt, giảm 20% so với năm 2023.", "20", "percent", False, {"2023"}),
        ("Tỷ lệ bao phủ đạt 91,5%, tăng 2,5 điểm phần trăm so với cùng kỳ năm 2023.", "2,5", "points", True, {"2023"}),
        ("Có 3.400 lượt khám (tăng 400 lượt so với cùng kỳ).", "400", "count", True, set()),
    ],
)
def test_stated_changes_are_read_with_their_kind_direction_and_baseline(sentence, written, kind, up, baseline):
    (change,) = compute.stated_changes(sentence)
    assert (change.written, change.kind, change.up, set(change.baseline)) == (written, kind, up, baseline)


def test_a_ratio_is_no_stated_change():
    assert compute.stated_changes("Ghi nhận 214 ca, tăng gấp 3,2 lần so với cùng kỳ năm 2023 (67 ca).") == []


def _op(written: str, unit: str) -> compute.Operand:
    return compute.Operand(written, parse_number(written), unit, frozenset({"2024"}), False)


@pytest.mark.parametrize(
    ("current", "unit", "sentence", "expected"),
    [
        ("250.000", "luot", "khám 250.000 lượt, tăng 25% so với năm 2023", "250.000 × 100 : (100 + 25) = 200.000"),
        ("1.200", "luot", "chuyển 1.200 lượt, giảm 20% so với năm 2023", "1.200 × 100 : (100 − 20) = 1.500"),
        ("91,5%", "%", "đạt 91,5%, tăng 2,5 điểm phần trăm so với năm 2023", "91,5% − 2,5 = 89%"),
        ("3.400", "luot", "có 3.400 lượt (tăng 400 lượt so với cùng kỳ)", "3.400 − 400 = 3.000"),
    ],
)
def test_the_previous_figure_is_computed_and_its_arithmetic_checks(current, unit, sentence, expected):
    (change,) = compute.stated_changes(sentence)
    result = compute.previous(_op(current, unit), change)
    assert result.ok and result.computed == expected
    (c,) = compute.computations(result.computed)
    assert c.holds and "100" not in c.operands


@pytest.mark.parametrize(
    ("current", "unit", "sentence", "why"),
    [
        ("3.400", "luot", "có 3.400 lượt (tăng 400 ca so với cùng kỳ)", "khác đơn vị"),
        ("3.400", "luot", "có 3.400 lượt, tăng 2 điểm phần trăm so với năm 2023", "không phải tỷ lệ"),
        ("3.400", "luot", "có 3.400 lượt, giảm 100% so với năm 2023", "không để lại"),
    ],
)
def test_a_previous_figure_is_declined_with_the_reason(current, unit, sentence, why):
    (change,) = compute.stated_changes(sentence)
    result = compute.previous(_op(current, unit), change)
    assert not result.ok and why in result.reason


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("Số lượt khám năm 2023 của bệnh viện A suy ra là bao nhiêu?", True),
        ("Năm trước bệnh viện A khám bao nhiêu lượt?", True),
        ("Năm 2024 bệnh viện A khám bao nhiêu lượt?", False),
        ("Số lượt khám tăng bao nhiêu so với năm 2023?", False),
    ],
)
def test_a_previous_figure_is_asked_only_with_its_cue(question, asks):
    assert compute.asks_previous(question) is asks


def test_the_level_question_drops_the_cue_and_the_asked_period():
    level = compute.previous_level("Số lượt khám năm 2023 của Bệnh viện Đa khoa huyện Cây Gạo suy ra là bao nhiêu?")
    assert level == "Số lượt khám của Bệnh viện Đa khoa huyện Cây Gạo là bao nhiêu?"


DERIVED = _docs(
    ("Bệnh viện Đa khoa huyện Cây Gạo năm 2024", "Năm 2024, Bệnh viện Đa khoa huyện Cây Gạo đã khám cho 250.000 lượt người bệnh, tăng 25% so với năm 2023."),
    ("Bảo hiểm y tế huyện Đồi Thông năm 2024", "Năm 2024, tỷ lệ bao phủ bảo hiểm y tế của huyện Đồi Thông đạt 91,5%, tăng 2,5 điểm phần trăm so với năm 2023."),
)


def test_a_previous_year_figure_is_computed_from_the_cited_figure_and_its_change():
    result = answer_extractive("Năm 2023 Bệnh viện Đa khoa huyện Cây Gạo khám bao nhiêu lượt người bệnh, suy ra từ mức tăng?", docs=DERIVED)
    assert not result.abstained
    operand, computed = result.parts
    assert computed.computed == "250.000 × 100 : (100 + 25) = 200.000"
    assert result.text.splitlines()[0].startswith("- Suy ra từ số liệu trích dẫn (năm 2023): 250.000 × 100 : (100 + 25) = **200.000**")
    assert "250.000" in operand.text and operand.citations == computed.citations == [1]
    assert "Cây Gạo" in result.citations[0].doc.page_content[result.citations[0].quote_start : result.citations[0].quote_end]


def test_a_previous_rate_subtracts_the_points():
    result = answer_extractive("Tỷ lệ bao phủ bảo hiểm y tế của huyện Đồi Thông năm trước (2023) là bao nhiêu?", docs=DERIVED)
    assert result.parts[-1].computed == "91,5% − 2,5 = 89%" and "**89%**" in result.text


def test_another_baseline_year_is_not_used():
    result = answer_extractive("Năm 2021 Bệnh viện Đa khoa huyện Cây Gạo khám bao nhiêu lượt, suy ra từ mức tăng?", docs=DERIVED)
    assert not any(p.computed for p in result.parts)


def test_the_verifier_accepts_the_derived_line_and_rejects_a_wrong_one():
    result = answer_extractive("Năm 2023 Bệnh viện Đa khoa huyện Cây Gạo khám bao nhiêu lượt người bệnh, suy ra từ mức tăng?", docs=DERIVED)
    passages = [DERIVED[0]]
    line = result.text.splitlines()[0].removeprefix("- ")
    assert verify(line, passages).ok
    wrong = verify(line.replace("**200.000**", "**210.000**"), passages)
    assert not wrong.ok and any("does not follow" in p for p in wrong.problems)
    uncited = verify(line.replace("(100 + 25)", "(100 + 30)").replace("**200.000**", "**192.308**"), passages)
    assert not uncited.ok and any("30" in p for p in uncited.problems)


# -- operands: the asked measure, the named unit, and a weak operand -------------------------------


@pytest.mark.parametrize(
    ("question", "unit"),
    [
        ("Bệnh viện A có bao nhiêu giường?", "giuong"),
        ("Tổng cộng số ca phẫu thuật của A và B là bao nhiêu?", "ca"),
        ("Tỷ lệ tiêm chủng của A cao hơn B bao nhiêu?", "%"),
        ("A gấp bao nhiêu lần B?", ""),
    ],
)
def test_the_asked_unit(question, unit):
    assert asked_unit(question) == unit


def test_the_measure_is_the_text_before_the_unit_it_is_of():
    assert measure_of("Số ca phẫu thuật năm 2023 của Bệnh viện X") == "Số ca phẫu thuật năm 2023"
    assert measure_of("Huyện Đắk Hà có bao nhiêu ca") == ""


ONE_SENTENCE = _docs(
    ("Bệnh viện Đa khoa huyện Cây Gạo năm 2024", "Năm 2024, Bệnh viện Đa khoa huyện Cây Gạo đã khám cho 250.000 lượt người bệnh; điều trị nội trú 31.000 lượt; thực hiện 9.100 ca phẫu thuật."),
    ("Bệnh viện Đa khoa huyện Đồi Thông năm 2024", "Năm 2024, Bệnh viện Đa khoa huyện Đồi Thông đã khám cho 212.480 lượt người bệnh; điều trị nội trú 20.500 lượt; thực hiện 6.600 ca phẫu thuật."),
    ("Ca bệnh tay chân miệng năm 2024", "Năm 2024, huyện Núi Đỏ có 58 ca và huyện Sông Xanh có 33 ca tay chân miệng."),
)


def test_each_operand_is_the_figure_of_the_asked_measure_not_the_sentence_first_figure():
    result = answer_extractive(
        "Số lượt điều trị nội trú năm 2024 của Bệnh viện Đa khoa huyện Cây Gạo nhiều hơn Bệnh viện Đa khoa huyện Đồi Thông bao nhiêu lượt?", docs=ONE_SENTENCE
    )
    assert result.parts[-1].computed == "31.000 − 20.500 = 10.500"
    surgery = answer_extractive(
        "Số ca phẫu thuật năm 2024 của Bệnh viện Đa khoa huyện Cây Gạo cao hơn Bệnh viện Đa khoa huyện Đồi Thông bao nhiêu ca?", docs=ONE_SENTENCE
    )
    assert surgery.parts[-1].computed == "9.100 − 6.600 = 2.500"


def test_two_units_of_one_sentence_take_the_figure_written_after_each():
    result = answer_extractive("Huyện Núi Đỏ có nhiều hơn huyện Sông Xanh bao nhiêu ca tay chân miệng?", docs=ONE_SENTENCE)
    assert result.parts[-1].computed == "58 − 33 = 25"


def test_a_lower_first_figure_is_written_as_the_positive_gap_and_said():
    result = answer_extractive("Huyện Sông Xanh có nhiều hơn huyện Núi Đỏ bao nhiêu ca tay chân miệng?", docs=ONE_SENTENCE)
    assert result.parts[-1].computed == "58 − 33 = 25" and "số liệu thứ nhất thấp hơn" in result.parts[-1].text


def _confidences(questions: list[str]) -> list[float]:
    return [operands.find(q, ONE_SENTENCE, None, None)[0].confidence for q in questions]


def test_an_operand_below_the_threshold_is_used_when_unit_and_period_agree_and_named_as_the_weakest():
    question = "Số ca phẫu thuật năm 2024 của Bệnh viện Đa khoa huyện Cây Gạo cao hơn Bệnh viện Đa khoa huyện Đồi Thông bao nhiêu ca?"
    plain = answer_extractive(question, docs=ONE_SENTENCE)
    a, b = (p.question for p in plain.parts[:2])
    ca, cb = _confidences([a, b])
    assert ca != cb
    between = replace(default_scorer(), threshold=(ca + cb) / 2)  # one operand alone would now abstain
    weakest = a if ca < cb else b
    result = answer_extractive(question, docs=ONE_SENTENCE, scorer=between)
    assert not result.abstained and result.parts[-1].computed == "9.100 − 6.600 = 2.500"
    assert f"Lưu ý: số liệu “{without_figures(weakest)}” kém chắc chắn nhất" in result.text
    assert "2024”" not in result.text and "(độ tin cậy" not in result.text  # the note states no number of its own
    both = answer_extractive(question, docs=ONE_SENTENCE, scorer=replace(default_scorer(), threshold=max(ca, cb) + 0.01))
    assert both.abstained and both.parts[-1].computed is None and "chưa đủ chắc chắn" in both.parts[-1].text


def test_a_weak_operand_of_another_unit_is_not_used():
    strict = replace(default_scorer(), threshold=0.99)
    result = answer_extractive("Số ca phẫu thuật năm 2024 của Bệnh viện Đa khoa huyện Cây Gạo cao hơn Bệnh viện Đa khoa huyện Hồ Tây bao nhiêu ca?", docs=ONE_SENTENCE, scorer=strict)
    assert result.abstained and result.parts[-1].computed is None
