"""Table cells as answers (rag.answer.cells): the column header is the measure; an empty cell answers nothing."""

from __future__ import annotations

from langchain_core.documents import Document

from rag.answer.cells import cell_fit, cell_header, header_match, missing_column, other_row
from rag.answer.compose import answer_extractive
from rag.answer.typed_spans import quantity_spans

# a table that is not in the corpus: a vaccination report's rows, as the ingest renders them
TABLE = (
    "Bảng 2. Kết quả tiêm chủng mở rộng 6 tháng đầu năm 2025\n"
    "Trạm Y tế xã Tân Lập — Trẻ được tiêm đủ mũi: 312; Phụ nữ có thai tiêm uốn ván: 57; Tỷ lệ đạt: 96,4%\n"
    "Trạm Y tế xã Hòa Bình — Trẻ được tiêm đủ mũi: 208; Tỷ lệ đạt: 91,2%\n"
)
DOC = {"doc_id": "tcmr", "title": "Báo cáo tiêm chủng mở rộng 6 tháng đầu năm 2025"}


def extractive_answer(question: str):
    doc = Document(page_content=TABLE, metadata={**DOC, "chunk_id": "tcmr:0", "start": 0, "end": len(TABLE), "rank": 1})
    return answer_extractive(question, retrieve=lambda q: [doc], lookup=lambda d: TABLE)


def test_every_cell_figure_knows_its_column_header_and_prose_figures_have_none():
    spans = quantity_spans(TABLE)
    headers = {s.text: s.header for s in spans}
    assert {s.text: s.unit for s in spans}["57"] == "phu nu co thai tiem uon van"  # a bare cell counts its column
    assert headers["312"] == "Trẻ được tiêm đủ mũi"
    assert headers["57"] == "Phụ nữ có thai tiêm uốn ván"
    assert headers["96,4%"] == "Tỷ lệ đạt"
    prose = "Năm 2025, toàn huyện tiêm đủ mũi cho 1.204 trẻ: đạt 95%."
    assert all(s.header == "" for s in quantity_spans(prose))
    assert cell_header("Số ca: 12 — ghi nhận", 7) == ""  # a key/value line, not a row of a table


def test_header_match_compares_accents_when_the_question_has_them():
    assert header_match("bao nhiêu phụ nữ có thai tiêm uốn ván", "Phụ nữ có thai tiêm uốn ván") == 1.0
    assert header_match("có bao nhiêu giường thực kê", "Giường kế hoạch") == 1 / 3  # "kê" is not "kế"
    assert header_match("co bao nhieu giuong thuc ke", "Giường kế hoạch") == 2 / 3  # folded: they meet
    assert cell_fit("bao nhiêu trẻ được tiêm đủ mũi", "Tỷ lệ đạt", TABLE) is None


def test_the_asked_column_is_the_bold_lead_of_a_row():
    ans = extractive_answer("Trạm Y tế xã Tân Lập có bao nhiêu phụ nữ có thai được tiêm uốn ván?")
    assert not ans.abstained
    assert ans.text.startswith("**57**"), ans.text
    ans = extractive_answer("Trạm Y tế xã Tân Lập tiêm đủ mũi cho bao nhiêu trẻ?")
    assert ans.text.startswith("**312**"), ans.text


def test_a_row_that_leaves_the_asked_column_empty_does_not_answer():
    row = TABLE.splitlines()[2]
    why = missing_column("Trạm Y tế xã Hòa Bình có bao nhiêu phụ nữ có thai tiêm uốn ván?", row, TABLE)
    assert why and "Phụ nữ có thai tiêm uốn ván" in why
    assert missing_column("Trạm Y tế xã Hòa Bình có bao nhiêu trẻ được tiêm đủ mũi?", row, TABLE) is None
    assert missing_column("Xã Hòa Bình có bao nhiêu ca?", row, TABLE) is None  # no column named
    ans = extractive_answer("Trạm Y tế xã Hòa Bình có bao nhiêu phụ nữ có thai tiêm uốn ván?")
    assert ans.abstained, ans.text
    assert "57" not in ans.text


def test_a_row_answers_for_its_own_label_even_when_the_lead_names_every_row():
    row = TABLE.splitlines()[1]  # Tân Lập's row; the short document's lead names Hòa Bình too
    assert other_row([("hoa", "binh")], row, TABLE)
    assert other_row([("tan", "lap")], row, TABLE) is None
    assert other_row([("son", "la")], row, TABLE) is None  # named by no row: the entity checks decide
    assert other_row([("hoa", "binh")], "Xã Tân Lập tiêm cho 312 trẻ.", TABLE) is None  # prose
