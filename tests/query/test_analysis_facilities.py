"""Facility names with lower-case words: the question's entity and the sentence's place span run
over specialty phrases and administrative words up to the proper name's end (sentences written
for this test, not from corpus/ or any gold file)."""

from __future__ import annotations

import pytest

from rag.answer.typed_spans import place_spans
from rag.query.analysis import extract_entities


def named(question: str) -> list[tuple[str, str]]:
    return [(e.kind, e.text) for e in extract_entities(question) if e.kind in ("facility", "place", "name")]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Bệnh viện Đa khoa huyện Mường Lát có bao nhiêu giường bệnh?", [("facility", "Mường Lát")]),
        ("Bệnh viện Đa khoa khu vực Ngọc Lặc khám bao nhiêu lượt?", [("facility", "Ngọc Lặc")]),
        ("Trung tâm Y tế thành phố Sầm Sơn có mấy bác sĩ?", [("facility", "Sầm Sơn")]),
        ("Bệnh viện Tâm thần Mỹ Đức tiếp nhận bao nhiêu ca?", [("facility", "Mỹ Đức")]),
        ("Bệnh viện Phục hồi chức năng tiếp nhận bao nhiêu bệnh nhân?", [("facility", "Phục hồi chức năng")]),
        ("Bệnh viện Chấn thương Chỉnh hình tỉnh có bao nhiêu khoa?", [("facility", "Chấn thương Chỉnh hình")]),
        # "Hữu nghị" is a name word, not the end of the name at a lower-case word ("Hữu" alone was the name)
        ("Bệnh viện Hữu nghị Lạc Việt có bao nhiêu bác sĩ?", [("facility", "Lạc Việt")]),
        ("Bệnh viện Hữu nghị tiếp nhận bao nhiêu ca?", [("facility", "Hữu nghị")]),
    ],
)
def test_facility_entity_runs_over_specialty_and_administrative_words(question, expected):
    assert named(question) == expected


def test_no_bogus_entity_from_the_first_word_of_a_specialty():
    # "Đa" alone was taken as the name; "Lào Cai" is the province, and nothing else is named
    got = named("Năm 2022 Bệnh viện Đa khoa tỉnh Yên Bái khám bao nhiêu lượt?")
    assert got == [("place", "Yên Bái")]


def test_accented_question_must_match_the_specialty_accents():
    # "mất" is not the specialty "mắt": the name after it is read as usual
    assert ("facility", "Mất") not in named("Bệnh viện mất điện bao nhiêu giờ?")
    assert named("Bệnh viện Mắt có bao nhiêu giường?") == [("facility", "Mắt")]


def test_accentless_question_skips_the_specialty_words():
    got = named("benh vien da khoa huyen muong lat co bao nhieu giuong")
    assert got and got[0][1].startswith("muong")


@pytest.mark.parametrize(
    ("sentence", "span"),
    [
        ("Năm nay Bệnh viện Y học cổ truyền tỉnh Yên Bái có 120 giường.", "Bệnh viện Y học cổ truyền tỉnh Yên Bái"),
        ("Đoàn đã thăm Bệnh viện Phục hồi chức năng Thanh Hóa vào sáng nay.", "Bệnh viện Phục hồi chức năng Thanh Hóa"),
        ("Bệnh viện Đa khoa huyện Mường Lát tiếp nhận 40 ca.", "Bệnh viện Đa khoa huyện Mường Lát"),
        ("Bệnh viện Lao và bệnh Phổi tỉnh Kon Tum có 80 giường.", "Bệnh viện Lao và bệnh Phổi tỉnh Kon Tum"),
    ],
)
def test_sentence_place_span_is_the_whole_facility_name(sentence, span):
    assert span in [s.text for s in place_spans(sentence)]


def test_sentence_without_a_facility_has_no_span():
    assert place_spans("Người dân đã được khám sức khỏe miễn phí trong ba ngày.") == []


def test_an_accented_question_reads_a_head_only_with_its_accents():
    # "Quan" of "Quan Sơn" folds to "quận" (a head) but is written without its accents: a name
    assert named("Huyện Quan Sơn có bao nhiêu trạm y tế?") == [("facility", "Quan Sơn")]
    assert named("Quận Ba Đình có bao nhiêu trạm y tế?") == [("facility", "Ba Đình")]
