"""English facility names end with their head ("Vu Lam District Health Center"): the name is a
facility whose head reads in the Vietnamese order ("trung tam y te huyen"), so the entity checks
see the head a Vietnamese question types before the name. Hand-written questions about invented units."""

from __future__ import annotations

import pytest

from rag.query.analysis import extract_entities
from rag.query.english_names import vietnamese_head


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # a surname-led run ("Vu …") before an English head is a facility, not a person
        ("How many nurses does Vu Lam District Health Center employ?", ("Vu Lam", ("vu", "lam"), "trung tam y te huyen")),
        ("Who heads Dong Son General Hospital?", ("Dong Son", ("dong", "son"), "benh vien da khoa")),
        # "and" joins two specialties of one head, kept in their order
        ("Where is Tan Phu Obstetrics and Pediatrics Hospital?", ("Tan Phu", ("tan", "phu"), "benh vien san nhi")),
        ("Who is the director of Bai Chay Hospital?", ("Bai Chay", ("bai", "chay"), "benh vien")),
    ],
)
def test_an_english_head_after_a_name_makes_it_a_facility(question, expected):
    found = [(e.text, e.tokens, e.head) for e in extract_entities(question) if e.kind not in ("year", "number")]
    assert found == [expected]


def test_a_province_inside_an_english_facility_name_is_the_only_entity():
    # "Provincial General Hospital" adds no name of its own: the province names the unit
    found = [(e.kind, e.text, e.head) for e in extract_entities("Who is the director of Ha Nam Provincial General Hospital?")]
    assert found == [("place", "Ha Nam", "")]


def test_a_vietnamese_facility_has_no_english_head():
    found = [(e.kind, e.text, e.head) for e in extract_entities("Giám đốc Trung tâm Y tế huyện Vu Lâm là ai?")]
    assert found == [("facility", "Vu Lâm", "")]


def test_the_head_reads_in_the_vietnamese_order():
    assert vietnamese_head(["provincial", "general", "hospital"]) == "benh vien da khoa tinh"
    assert vietnamese_head(["medical", "center"]) == "trung tam y te"
    assert vietnamese_head(["commune", "health", "station"]) == "tram y te xa"


def test_the_english_head_lets_a_sentence_speak_of_the_titled_unit():
    # "Trạm Y tế xã …" are objects of the sentence; "Trung tâm" is the titled unit, as it is for
    # "Trung tâm Y tế huyện Vu Lâm" asked in Vietnamese
    from langchain_core.documents import Document

    from rag.answer.checks import check_entities
    from rag.answer.extractive import best_fact
    from rag.query.analysis import analyze

    title = "Trung tâm Y tế huyện Vu Lâm tổng kết năm 2023"
    text = "Tuy nhiên, Trung tâm còn thiếu 9 bác sĩ; Trạm Y tế xã Đồng Lạc và Trạm Y tế xã Nà Mò đã xuống cấp."
    doc = Document(page_content=text, metadata={"doc_id": "d0", "title": title, "start": 0, "end": len(text), "ranks": {"dense": 1}})
    for q in ("How many doctors is Vu Lam District Health Center short of?", "Trung tâm Y tế huyện Vu Lâm thiếu bao nhiêu bác sĩ?"):
        _, scored = best_fact(q, [doc])
        unit = next(s for s in scored if "thiếu 9 bác sĩ" in s.unit.sentence)
        assert check_entities(analyze(q), q, unit.unit) is None, q
