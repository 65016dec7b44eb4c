"""Scope and qualifier doubts of a figure (rag/answer/qualifiers.py) on sentences written for this
test (not from corpus/ or any gold file): a part of the unit, a shortage, several districts, a
count where money is asked; and what they do to the answer (features, no bold lead)."""

from __future__ import annotations

from langchain_core.documents import Document

from rag.answer.candidates import Unit, make_passages, make_units
from rag.answer.extractive import best_fact
from rag.answer.qualifiers import asks_money, doubts, is_money, many_places, other_level, part_scope, plan_unasked, shortage
from rag.answer.scoring import Scorer
from rag.answer.typed_spans import Span, find_spans
from rag.query.analysis import analyze


def _doc(text: str, title: str = "Tin y tế") -> Document:
    return Document(page_content=text, metadata={"doc_id": "d0", "title": title, "start": 0, "end": len(text), "ranks": {"dense": 1}})


def unit_and_span(text: str, figure: str) -> tuple[Unit, Span]:
    unit = next(u for u in make_units(make_passages([_doc(text)], None)) if figure in u.text)
    span = next(s for s in find_spans("quantity", text, unit.start, unit.end) if figure in s.text)
    return unit, span


def test_a_ward_figure_is_a_part_of_the_hospital():
    unit, span = unit_and_span("Năm nay, khoa Hồi sức hiện có 24 giường bệnh.", "24")
    assert part_scope("Bệnh viện Đa khoa Hoằng Hóa có tổng cộng bao nhiêu giường?", span, unit)
    # the question names the ward itself: no doubt
    assert not part_scope("Khoa Hồi sức có bao nhiêu giường?", span, unit)


def test_trong_do_opens_a_part_and_the_whole_figure_is_no_part():
    text = "Bệnh viện có 310 cán bộ, trong đó 62 bác sĩ."
    unit, whole = unit_and_span(text, "310")
    _, part = unit_and_span(text, "62")
    q = "Bệnh viện có bao nhiêu cán bộ?"
    assert not part_scope(q, whole, unit) and part_scope(q, part, unit)


def test_a_shortage_is_not_how_many_there_are():
    _, span = unit_and_span("Toàn tỉnh hiện còn thiếu khoảng 420 điều dưỡng.", "420")
    assert shortage("Tỉnh có tổng cộng bao nhiêu điều dưỡng?", span)
    assert not shortage("Tỉnh còn thiếu bao nhiêu điều dưỡng?", span)
    _, plain = unit_and_span("Toàn tỉnh hiện có 420 điều dưỡng.", "420")
    assert not shortage("Tỉnh có tổng cộng bao nhiêu điều dưỡng?", plain)


def test_a_figure_over_several_districts_for_one():
    text = "Dự án đã xây mới 18 trạm y tế tại ba huyện Mường Lát, Quan Sơn và Quan Hóa."
    unit, _ = unit_and_span(text, "18")
    q = "Huyện Quan Sơn có bao nhiêu trạm y tế được xây mới?"
    assert many_places(q, analyze(q), unit)
    plural = "Các huyện miền núi có bao nhiêu trạm y tế được xây mới?"
    assert not many_places(plural, analyze(plural), unit)
    one, _ = unit_and_span("Huyện Quan Sơn đã xây mới 6 trạm y tế.", "6")
    assert not many_places(q, analyze(q), one)


def test_money_is_asked_by_a_money_noun_before_bao_nhieu():
    for q in ("Máy siêu âm được mua với giá bao nhiêu?", "Tổng vốn đầu tư của dự án là bao nhiêu?", "tong kinh phi du an la bao nhieu"):
        assert asks_money(q, analyze(q)), q
    for q in ("Bao nhiêu người tham gia đợt khám?", "Bệnh viện tiết kiệm chi phí cho bao nhiêu bệnh nhân?", "co bao nhieu nguoi tham gia"):
        assert not asks_money(q, analyze(q)), q


def test_money_span_and_a_count_where_money_is_asked():
    text = "Bệnh viện đã mua 1 máy siêu âm với giá 3,2 tỷ đồng."
    unit, count = unit_and_span(text, "1 máy")
    _, money = unit_and_span(text, "3,2")
    assert is_money(money) and not is_money(count)
    q = "Máy siêu âm được mua với giá bao nhiêu?"
    assert doubts(q, analyze(q), count, unit)["money_missing"] == 1.0
    assert doubts(q, analyze(q), money, unit)["money_missing"] == 0.0


def test_the_answer_picks_the_money_figure_and_never_bolds_a_count_for_money():
    fact, scored = best_fact("Máy siêu âm được mua với giá bao nhiêu?", [_doc("Bệnh viện đã mua 1 máy siêu âm với giá 3,2 tỷ đồng.")], scorer=Scorer.neutral())
    assert scored[0].span is not None and "3,2 tỷ đồng" in scored[0].span.text
    fact, _ = best_fact("Máy siêu âm được mua với giá bao nhiêu?", [_doc("Bệnh viện đã mua 1 máy siêu âm hiện đại.")], scorer=Scorer.neutral())
    assert fact is None or not fact.lead


def test_a_shortage_figure_is_not_bolded_as_the_total():
    fact, scored = best_fact("Tỉnh có tổng cộng bao nhiêu điều dưỡng?", [_doc("Toàn tỉnh hiện còn thiếu khoảng 420 điều dưỡng.")], scorer=Scorer.neutral())
    assert scored[0].features["shortage"] == 1.0
    assert fact is None or not fact.lead


def test_a_place_named_gia_is_no_money_noun():
    # "Giá Rai", "Chi Lăng" are places; "giá" in lower case or opening the question still asks money
    for q in ("Năm 2024 huyện Giá Rai đạt bao nhiêu?", "Giá Rai tiêm cho bao nhiêu?"):
        assert not asks_money(q, analyze(q)), q
    for q in ("Giá bao nhiêu một liều vắc xin?", "Mỗi liều vắc xin ở Giá Rai có giá bao nhiêu?"):
        assert asks_money(q, analyze(q)), q


def test_a_target_is_not_what_was_done():
    target, _ = unit_and_span("Huyện phấn đấu đến năm 2026 có 95% trạm y tế đạt chuẩn.", "95%")
    future, _ = unit_and_span("Bệnh viện sẽ cử 12 điều dưỡng đi học chuyên sâu.", "12")
    shared, _ = unit_and_span("Bác sĩ chia sẻ kinh nghiệm với 12 điều dưỡng của khoa.", "12")
    q = "Hiện nay bao nhiêu % trạm y tế của huyện đạt chuẩn?"
    assert plan_unasked(q, target) and plan_unasked("Bệnh viện có bao nhiêu điều dưỡng?", future)
    assert not plan_unasked("Bệnh viện có bao nhiêu điều dưỡng?", shared)  # "chia sẻ" is no "sẽ"
    # the question asks for the plan itself
    assert not plan_unasked("Huyện dự kiến đến năm 2026 có bao nhiêu % trạm đạt chuẩn?", target)
    assert not plan_unasked("What share of stations does the district plan to certify?", target)


def test_another_level_of_the_health_system():
    unit, _ = unit_and_span("Công suất giường bệnh của các bệnh viện tuyến tỉnh đạt 97%, tuyến huyện đạt 85%.", "97%")
    assert other_level("Công suất giường bệnh tuyến xã là bao nhiêu?", unit)
    assert not other_level("cong suat giuong benh tuyen huyen la bao nhieu", unit)  # the asked level is named
    assert not other_level("Công suất giường bệnh là bao nhiêu?", unit)  # no level asked
    q = "Công suất giường bệnh tuyến xã là bao nhiêu?"
    assert doubts(q, analyze(q), None, unit)["any_doubt"] == 1.0
