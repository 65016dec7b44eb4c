"""Tables become one line per row with the row label and every column header, in HTML, DOCX and PDF."""

from __future__ import annotations

import pytest

from rag.ingest.formats.tables import grid_from_rows, parse_row, render_table
from rag.ingest.loaders import load_document

from tests import docs_factory as f

# What each row of tests.docs_factory's health-indicator table must read as (written by hand).
EXPECTED_ROWS = [
    "Trung tâm Y tế huyện A — Giường bệnh kế hoạch: 80; Giường bệnh thực kê: 92; Công suất: 101,3%",
    "Bệnh viện Đa khoa tỉnh — Giường bệnh kế hoạch: 1.250; Giường bệnh thực kê: 1.410; Công suất: 112,8%",
    "Trung tâm Y tế huyện C — Giường bệnh kế hoạch: 60; Công suất: 87,5%",
]


@pytest.mark.parametrize("writer,name", [(f.write_table_html, "t.html"), (f.write_table_docx, "t.docx"), (f.write_table_pdf, "t.pdf")])
def test_table_rows_render_with_headers_in_place(tmp_path, writer, name):
    doc = load_document(writer(tmp_path / name))
    lines = doc.text.split("\n")
    for expected in EXPECTED_ROWS:
        assert expected in lines
    # the table stands where it stood: after the intro, before the closing paragraph
    text = doc.text
    assert text.index(f.TABLE_INTRO) < text.index(EXPECTED_ROWS[0]) < text.index(EXPECTED_ROWS[2]) < text.index(f.TABLE_OUTRO)
    assert "STT" not in text  # the serial-number column labels nothing
    assert doc.title == f.TABLE_TITLE


def test_plain_rows_guess_a_header_when_figures_follow():
    lines = render_table(grid_from_rows([["Chỉ tiêu", "2022", "2023"], ["Lượt khám", "10.500", "12.345"]]))
    # years are figures, so the first row is not taken as a header: each row reads on its own
    assert lines == ["Chỉ tiêu — 2022; 2023", "Lượt khám — 10.500; 12.345"]
    lines = render_table(grid_from_rows([["Chỉ tiêu", "Năm 2022", "Năm 2023"], ["Lượt khám", "10.500", "12.345"]]))
    assert lines == ["Lượt khám — Năm 2022: 10.500; Năm 2023: 12.345"]


def test_empty_header_cells_sections_and_key_value_tables():
    grid = grid_from_rows([["Đơn vị", "", "Tỷ lệ"], ["I. Tuyến tỉnh", "", ""], ["Bệnh viện Phổi", "x", "95,25%"], ["", "", ""]])
    assert render_table(grid) == ["I. Tuyến tỉnh", "Bệnh viện Phổi — x; Tỷ lệ: 95,25%"]
    assert render_table(grid_from_rows([["Số giường", "250"], ["Số bác sĩ", "41"]])) == ["Số giường: 250", "Số bác sĩ: 41"]
    assert render_table([]) == []


def test_merged_body_cell_is_read_once_and_caption_leads():
    # None continues the merged cell on its left (as pdfplumber and spreadsheets report it)
    grid = grid_from_rows([["Đơn vị", "Quý I", "Quý II"], ["Trạm Y tế C", "Tạm dừng hoạt động", None], ["Trạm Y tế D", "310", "402"]])
    assert render_table(grid, caption="Bảng 2") == [
        "Bảng 2",
        "Trạm Y tế C — Quý I: Tạm dừng hoạt động",
        "Trạm Y tế D — Quý I: 310; Quý II: 402",
    ]


def test_html_header_marked_by_th_and_ragged_rows(tmp_path):
    (tmp_path / "r.html").write_text(
        "<h1>Tiêm chủng</h1><table><tr><th>Xã</th><th>Tỷ lệ tiêm chủng</th><th>Ghi chú</th></tr>"
        "<tr><td>Xã Pà Cò</td><td>98,5%</td></tr><tr><td colspan='99999'>Nguồn: CDC tỉnh</td></tr></table>",
        encoding="utf-8",
    )
    text = load_document(tmp_path / "r.html").text
    assert "Xã Pà Cò — Tỷ lệ tiêm chủng: 98,5%" in text.split("\n")
    assert "Nguồn: CDC tỉnh" in text.split("\n")


def test_chunks_of_a_table_hold_headers_and_slice_the_text(tmp_path):
    from rag.ingest.chunking import chunk_document

    rows = [[f"Trạm Y tế xã {i}", str(100 + i), f"{90 + i % 10},5%"] for i in range(60)]
    html = "<h1>Trạm y tế</h1><table><tr><th>Trạm</th><th>Lượt khám</th><th>Tỷ lệ BHYT</th></tr>" + "".join(
        "<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows
    ) + "</table>"
    (tmp_path / "many.html").write_text(html, encoding="utf-8")
    doc = load_document(tmp_path / "many.html")
    chunks = chunk_document(doc.doc_id, doc.title, doc.text)
    assert len(chunks) > 3
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
    row = next(c for c in chunks if "Trạm Y tế xã 42 —" in c.text)
    assert "Trạm Y tế xã 42 — Lượt khám: 142; Tỷ lệ BHYT: 92,5%" in row.text


def test_pdf_table_continued_on_the_next_page_keeps_its_headers(tmp_path):
    doc = load_document(f.write_long_table_pdf(tmp_path / "long.pdf"))
    lines = doc.text.split("\n")
    assert "Trạm Y tế xã 0 — Lượt khám: 1000; Tỷ lệ BHYT: 90,5%" in lines
    assert "Trạm Y tế xã 69 — Lượt khám: 1069; Tỷ lệ BHYT: 99,5%" in lines  # on page 2, under page 1's header
    assert sum(line.startswith("Trạm Y tế xã ") and "Lượt khám: " in line for line in lines) == 70


def test_a_rendered_row_parses_back_into_label_and_headed_values():
    assert parse_row(EXPECTED_ROWS[2]) == (
        "Trung tâm Y tế huyện C",
        [("Giường bệnh kế hoạch", "60"), ("Công suất", "87,5%")],
    )
    line = render_table(grid_from_rows([["Đơn vị", "Giờ mở cửa", "Số bàn khám"], ["Phòng khám X", "07:30", "12"]]))[0]
    assert parse_row(line) == ("Phòng khám X", [("Giờ mở cửa", "07:30"), ("Số bàn khám", "12")])


@pytest.mark.parametrize("line", [
    "Số giường: 250",  # a key/value table's row has no label separator
    "Bệnh viện A — 80; 92",  # values without headers
    "Năm 2024 — một năm nhiều thay đổi",  # prose with a dash
    "Giường: 80; Công suất: 90%",
])
def test_prose_and_headless_rows_are_not_parsed_as_table_rows(line):
    assert parse_row(line) is None
