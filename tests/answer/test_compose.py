"""Compound questions: split on the question's own structure, every part answered or explicitly not found.

The sentences are written for these tests (no corpus or gold wording); the expected parts are read
off the sentences by hand.
"""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from rag.answer.compose import answer_extractive, sub_questions
from rag.answer.extractive import NOT_FOUND
from rag.query.analysis import split_question


def _docs(*passages: tuple[str, str]) -> list[Document]:
    return [
        Document(page_content=text, metadata={"doc_id": f"d{i}", "title": title, "start": 0, "end": len(text), "ranks": {"dense": i + 1}})
        for i, (title, text) in enumerate(passages)
    ]


@pytest.mark.parametrize(
    ("question", "n_parts"),
    [
        ("Giám đốc Trung tâm Y tế huyện Hòa Bình là ai và trung tâm có bao nhiêu giường bệnh?", 2),
        ("Bệnh viện Phổi tỉnh có bao nhiêu bác sĩ, bao nhiêu điều dưỡng và bao nhiêu giường bệnh?", 3),
        ("Trạm Y tế xã An Phú có mấy nhân viên, còn Trạm Y tế xã Bình Minh có mấy nhân viên?", 2),
        ("Năm 2022 tỉnh tiêm được bao nhiêu liều vắc xin, đồng thời tỷ lệ tiêm đủ mũi đạt bao nhiêu?", 2),
        ("Ai là giám đốc Bệnh viện Mắt và bệnh viện được xếp hạng mấy?", 2),
        ("Hội nghị diễn ra khi nào và ở đâu?", 2),
        ("benh vien phoi co bao nhieu bac si va bao nhieu dieu duong", 2),
        # one subject, one question: never split
        ("Sở Y tế và Bệnh viện Đa khoa tỉnh phối hợp tổ chức hội nghị gì?", 1),
        ("Sở Y tế và Bệnh viện Sản Nhi ký kết thỏa thuận hợp tác vào ngày nào?", 1),
        ("Công tác chăm sóc và bảo vệ sức khỏe nhân dân đạt kết quả gì?", 1),
        ("Giám đốc Sở Y tế tỉnh Bến Lạc là ai?", 1),  # "giám đốc" is no "giảm" (a change)
        ("Số ca sốt xuất huyết năm nay tăng bao nhiêu so với năm ngoái?", 1),
        ("Bệnh viện khám bao nhiêu lượt, trong đó bao nhiêu lượt trẻ em?", 2),
    ],
)
def test_compound_questions_split_into_the_parts_asked(question, n_parts):
    parts = split_question(question)
    assert len(parts) == n_parts, parts
    if n_parts > 1:  # in the order asked, nothing of the question lost
        pos = [question.find(p.rstrip("?")) for p in parts]
        assert pos == sorted(pos) and -1 not in pos


def test_each_part_borrows_the_named_unit_it_lacks():
    parts = sub_questions("Bệnh viện Phổi tỉnh có bao nhiêu bác sĩ, bao nhiêu điều dưỡng và bao nhiêu giường bệnh?")
    assert len(parts) == 3
    assert all("Phổi" in p for p in parts)
    assert "điều dưỡng" in parts[1] and "bác sĩ" not in parts[1]
    when, where = sub_questions("Hội nghị diễn ra khi nào và ở đâu?")
    assert "Hội nghị" in where and "khi nào" not in where  # the topic, not the other part's question word


DOCS = _docs(
    ("Bệnh viện Phổi tỉnh Bến Lạc", "Năm 2024, Bệnh viện Phổi tỉnh Bến Lạc có 86 bác sĩ và 240 giường bệnh kế hoạch."),
    ("Bệnh viện Phổi tỉnh Bến Lạc: nhân lực", "Năm 2024, Bệnh viện Phổi tỉnh Bến Lạc có 190 điều dưỡng."),
    ("Trung tâm Y tế huyện Cây Gạo", "Giám đốc Trung tâm Y tế huyện Cây Gạo là bác sĩ Trần Văn Khải."),
)


def test_every_part_is_answered_in_order_with_its_own_citation():
    result = answer_extractive(
        "Bệnh viện Phổi tỉnh Bến Lạc có bao nhiêu bác sĩ và bao nhiêu điều dưỡng?", docs=DOCS
    )
    assert not result.abstained and len(result.parts) == 2
    doctors, nurses = result.parts
    assert "86" in doctors.text and "190" in nurses.text
    assert doctors.citations and nurses.citations
    lines = result.text.splitlines()
    assert len(lines) == 2 and "86" in lines[0] and "190" in lines[1]
    for part in result.parts:  # each part's [n] points at a citation quoting its figure
        quote = " ".join(result.citations[n - 1].doc.page_content[result.citations[n - 1].quote_start : result.citations[n - 1].quote_end] for n in part.citations)
        assert any(x in quote for x in ("86", "190"))


def test_a_part_not_found_keeps_its_own_line():
    docs = DOCS[:1]
    result = answer_extractive("Bệnh viện Phổi tỉnh Bến Lạc có bao nhiêu bác sĩ và Giám đốc Sở Y tế tỉnh Sông Cầu là ai?", docs=docs)
    assert len(result.parts) == 2
    found = [p for p in result.parts if not p.abstained]
    assert found and "86" in found[0].text
    for p in result.parts:
        if p.abstained:
            assert NOT_FOUND in p.text and not p.citations
            assert p.text in result.text  # never dropped


def test_a_one_part_question_has_no_parts():
    result = answer_extractive("Bệnh viện Phổi tỉnh Bến Lạc có bao nhiêu bác sĩ?", docs=DOCS, )
    assert result.parts == [] and "86" in result.text


# ---------------------------------------------------------------------------------------------
# Lists across reports, English questions
# ---------------------------------------------------------------------------------------------

from rag.answer.compose import ENGLISH_NOTE  # noqa: E402
from rag.answer.lists import list_target  # noqa: E402
from rag.answer.scoring import Scorer  # noqa: E402

DEPUTIES = _docs(
    ("Sở Y tế tỉnh Bến Lạc họp giao ban", "Tham dự buổi họp có ông Trần Văn Khải, Phó Giám đốc Sở Y tế tỉnh Bến Lạc."),
    ("Sở Y tế tỉnh Bến Lạc kiểm tra bệnh viện", "Đoàn kiểm tra do bà Lê Thị Hoa, Phó Giám đốc Sở Y tế tỉnh Bến Lạc, làm trưởng đoàn."),
    ("Sở Y tế tỉnh Bến Lạc tổng kết", "Phó Giám đốc Sở Y tế tỉnh Bến Lạc, BSCKII Trần Văn Khải phát biểu tại hội nghị tổng kết."),
)


@pytest.mark.parametrize(
    ("question", "target"),
    [
        ("Các Phó Giám đốc Sở Y tế tỉnh Bến Lạc là ai?", "person"),
        ("Những người nào được tặng Bằng khen?", None),  # "những người nào" is no "những … là ai" of a role: the answerer's own
        ("Dịch bùng phát ở những xã nào?", "place"),
        ("Các bệnh viện nào triển khai kỹ thuật mới?", "place"),
        ("Bệnh viện triển khai những kỹ thuật nào?", "thing"),  # things, gathered from every sentence that lists them
        ("Các thiết bị được trang bị gồm những gì?", "thing"),
        ("Ai là Giám đốc Sở Y tế?", None),
    ],
)
def test_plural_list_questions_are_recognised(question, target):
    assert list_target(question) == target


def test_a_list_collects_each_person_once_across_documents_each_cited():
    result = answer_extractive("Các Phó Giám đốc Sở Y tế tỉnh Bến Lạc là ai?", docs=DEPUTIES)
    lines = result.text.splitlines()
    assert len(lines) == 2  # Trần Văn Khải is named twice (once with a title): listed once
    assert "**Trần Văn Khải**" in lines[0] and "**Lê Thị Hoa**" in lines[1]
    docs = {ref.doc.metadata["doc_id"] for ref in result.citations}
    assert len(result.citations) == 2 and len(docs) == 2
    for line, ref in zip(lines, result.citations, strict=True):
        assert ref.doc.page_content[ref.quote_start : ref.quote_end] in line


def test_an_english_question_says_the_answer_quotes_vietnamese_reports():
    neutral = Scorer.neutral()  # threshold 0: always answers (the note, not the scorer, is tested)
    result = answer_extractive("How many doctors does Ben Lac Lung Hospital have?", docs=DOCS, scorer=neutral)
    assert not result.abstained and result.text.endswith(ENGLISH_NOTE)
    assert not result.text.startswith(ENGLISH_NOTE)  # the answer (and its bold lead) comes first
    vietnamese = answer_extractive("Bệnh viện Phổi tỉnh Bến Lạc có bao nhiêu bác sĩ?", docs=DOCS)
    assert ENGLISH_NOTE not in vietnamese.text
