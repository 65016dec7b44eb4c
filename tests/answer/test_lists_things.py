"""Lists of things across reports ("những kỹ thuật nào", "các thiết bị gồm những gì"): the head
noun, the enumeration each sentence gives after it, deduplicated across sentences, each cited.
Every sentence is written for these tests."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from rag.answer import lists
from rag.answer.compose import answer_extractive


@pytest.mark.parametrize(
    ("question", "head"),
    [
        ("Bệnh viện A đã triển khai những kỹ thuật mới nào?", "ky thuat moi"),
        ("Trạm được trang bị những thiết bị gồm những gì?", "thiet bi"),
        ("Học viên được học quản lý những bệnh nào?", "benh"),
        ("Những người nào được tặng Bằng khen?", ""),
        ("Bệnh viện A có bao nhiêu giường?", ""),
        ("Nhà khoa học tìm ra những thay đổi xảy ra trong tế bào của cây vào thời gian nào?", ""),  # a date is asked
    ],
)
def test_the_head_noun_of_a_list_of_things(question, head):
    assert lists.head_noun(question) == head


def _items(sentence: str, head: str) -> list[str]:
    return [s.text for s in lists._enumerated(sentence, 0, len(sentence), head.split())]


def test_the_enumeration_after_the_colon_of_the_head_noun():
    sentence = "Bệnh viện triển khai 12 kỹ thuật mới, nhiều kỹ thuật trước đây chỉ làm ở tuyến trên như: ghép gan, thay khớp háng (TKH), đặt stent mạch vành."
    assert _items(sentence, "ky thuat moi") == ["ghép gan", "thay khớp háng (TKH)", "đặt stent mạch vành"]


def test_the_enumeration_opened_by_a_cue_after_the_head_noun():
    sentence = "Học viên học quản lý bệnh tăng huyết áp, đái tháo đường và hen phế quản."
    assert _items(sentence, "benh") == ["tăng huyết áp", "đái tháo đường", "hen phế quản"]


def test_no_enumeration_no_items():
    assert _items("Năm 2024 bệnh viện có 500 giường bệnh.", "giuong") == []
    assert _items("Bệnh viện điều trị bệnh tăng huyết áp.", "benh") == []  # one item is no list


DOCS = [
    Document(page_content=text, metadata={"doc_id": f"d{i}", "title": title, "start": 0, "end": len(text), "ranks": {"dense": i + 1}})
    for i, (title, text) in enumerate(
        [
            ("Bệnh viện Đa khoa huyện Cây Gạo năm 2024", "Năm 2024, Bệnh viện Đa khoa huyện Cây Gạo triển khai các kỹ thuật mới như: ghép gan, thay khớp háng, đặt stent mạch vành."),
            ("Bệnh viện Đa khoa huyện Cây Gạo hội nghị", "Tại hội nghị, Bệnh viện Đa khoa huyện Cây Gạo cho biết các kỹ thuật mới gồm: thay khớp háng, lọc máu liên tục."),
        ]
    )
]


def test_a_list_of_things_gathers_every_sentence_deduplicated_and_cites_each():
    result = answer_extractive("Bệnh viện Đa khoa huyện Cây Gạo đã triển khai những kỹ thuật mới nào?", docs=DOCS)
    assert not result.abstained
    lines = result.text.splitlines()
    items = [line.split("**")[1] for line in lines]
    assert sorted(items) == sorted(["ghép gan", "thay khớp háng", "đặt stent mạch vành", "lọc máu liên tục"])
    assert all(line.rstrip().endswith("]") for line in lines)
    cited = {c.doc.metadata["doc_id"] for c in result.citations}
    assert cited == {"d0", "d1"}


@pytest.mark.parametrize(
    "question",
    [
        "Nhưng bệnh viện đã triển khai kỹ thuật nào?",  # "nhưng" (but) is no plural marker
        "Trong các trạm y tế của huyện, trạm nào được công nhận đạt chuẩn?",  # the comma ends the plural: one of them
        "Các đơn vị đã nhận được giải thưởng nào năm ngoái?",  # a clause between the marker and "nào", no noun phrase
        "Bệnh viện tỉnh thuộc hạng nào?",  # no plural marker
    ],
)
def test_questions_for_one_thing_are_no_list(question):
    assert lists.list_target(question) is None


def test_an_accent_less_question_keeps_its_folded_plural():
    assert lists.list_target("benh vien trien khai nhung ky thuat moi nao") == "thing"
    assert lists.list_target("dich bung phat o nhung xa nao") == "place"


def test_an_accented_head_noun_matches_only_as_written():
    # "những chi nào" (branches): "chỉ" and "chị" fold to "chi" but are other words
    sentence = "Hội chỉ có ba nhóm: nhóm A, nhóm B và nhóm C."
    assert lists._enumerated(sentence, 0, len(sentence), ["chi"], "chi") == []
    assert [s.text for s in lists._enumerated(sentence, 0, len(sentence), ["chi"])] == ["nhóm A", "nhóm B", "nhóm C"]  # folded: any


def test_an_accented_list_question_does_not_fire_on_a_homograph():
    docs = [
        Document(
            page_content="Hội Chữ thập đỏ tỉnh Cây Gạo chỉ hoạt động ở ba nơi: xã Tân An, xã Bình Yên, xã Hòa Lạc. Hội có chi hội Tân An.",
            metadata={"doc_id": "d0", "title": "Hội Chữ thập đỏ tỉnh Cây Gạo", "start": 0, "ranks": {"dense": 1}},
        )
    ]
    result = answer_extractive("Hội Chữ thập đỏ tỉnh Cây Gạo có những chi nào?", docs=docs)
    assert "\n- " not in result.text and not result.text.startswith("- ")  # no list of the places "chỉ" enumerates


def test_a_list_of_units_one_unit_helps_takes_the_sentence_that_names_only_those_units():
    text = (
        "Năm 2024, Bệnh viện tiếp nhận 48.000 lượt khám. Bệnh viện duy trì hỗ trợ chuyên môn cho Trung tâm Y tế huyện Kỳ Anh, "
        "Trung tâm Y tế huyện Hương Khê và Trung tâm Y tế thị xã Hồng Lĩnh."
    )
    docs = [Document(page_content=text, metadata={"doc_id": "d0", "title": "Bệnh viện Sản Nhi Hà Tĩnh sơ kết năm 2024", "start": 0, "end": len(text), "ranks": {"dense": 1}})]
    result = answer_extractive("Bệnh viện Sản Nhi Hà Tĩnh hỗ trợ chuyên môn cho những trung tâm y tế nào?", docs=docs)
    assert not result.abstained
    assert [line.split("**")[1] for line in result.text.splitlines()] == [
        "Trung tâm Y tế huyện Kỳ Anh", "Trung tâm Y tế huyện Hương Khê", "Trung tâm Y tế thị xã Hồng Lĩnh",
    ]
