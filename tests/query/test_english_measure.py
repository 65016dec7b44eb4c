"""An English question's measure noun is read over the words after "how many", never inside a
name there ("… did Lam Dong …": "dong" is the currency word "đồng", not a unit asked).
Hand-written questions about invented units."""

from __future__ import annotations

from rag.query.analysis import analyze


def test_a_place_name_in_the_measure_window_is_no_measure():
    qt = analyze("How many screening sessions did Lam Dong Rehabilitation Hospital hold in 2022?")
    assert qt.measure is None and qt.units == ()


def test_the_measure_noun_before_a_name_is_still_read():
    qt = analyze("How many beds does Vu Lam District Health Center have?")
    assert qt.measure == "beds" and qt.units == ("giuong",)
    qt = analyze("How many doctors did Ca Mau send to the communes?")
    assert qt.measure == "doctors" and qt.units == ("bac si",)


def test_a_vietnamese_measure_is_unchanged():
    qt = analyze("Bệnh viện Đa khoa tỉnh Lâm Đồng có bao nhiêu giường bệnh?")
    assert qt.measure == "giuong benh"
