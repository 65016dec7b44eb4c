"""Spreadsheets (.xlsx, .csv): each sheet a table with its name and title row, numbers as the sheet shows them."""

from __future__ import annotations

import pytest

from rag.errors import DocumentError
from rag.ingest.formats.sheets import display
from rag.ingest.loaders import SUPPORTED_EXTENSIONS, load_document

from tests import docs_factory as f
from tests.ingest.test_tables import EXPECTED_ROWS


def test_xlsx_sheets_render_as_tables_with_context(tmp_path):
    assert {".xlsx", ".csv"} <= set(SUPPORTED_EXTENSIONS)
    doc = load_document(f.write_table_xlsx(tmp_path / "giuong.xlsx"))
    lines = doc.text.split("\n")
    assert lines[:2] == ["Giường bệnh", f.TABLE_TITLE]
    for expected in EXPECTED_ROWS:
        assert expected in lines
    assert "Nhân lực" in lines and "Trung tâm Y tế huyện A — Bác sĩ: 41; Điều dưỡng: 97" in lines
    assert doc.title == f.TABLE_TITLE


@pytest.mark.parametrize(
    "value,number_format,shown",
    [(1250, "#,##0", "1.250"), (1.013, "0.0%", "101,3%"), (0.9525, "0.00%", "95,25%"), (2023, "General", "2023"),
     (87.5, "General", "87,5"), (12345.678, "#,##0.00", "12.345,68"), (3.5, "0", "4"), (None, "General", "")],
)
def test_numbers_read_as_the_sheet_shows_them(value, number_format, shown):
    assert display(value, number_format) == shown


def test_csv_with_semicolons_and_a_title_row(tmp_path):
    (tmp_path / "tc.csv").write_text(
        "Tỷ lệ tiêm chủng mở rộng 2023;;\nXã;Số trẻ;Tỷ lệ\nXã Pà Cò;120;98,5%\nXã Hang Kia;95;96,8%\n", encoding="utf-8-sig"
    )
    doc = load_document(tmp_path / "tc.csv")
    assert doc.title == "Tỷ lệ tiêm chủng mở rộng 2023"
    assert doc.text.split("\n") == [
        "Tỷ lệ tiêm chủng mở rộng 2023",
        "Xã Pà Cò — Số trẻ: 120; Tỷ lệ: 98,5%",
        "Xã Hang Kia — Số trẻ: 95; Tỷ lệ: 96,8%",
    ]


def test_corrupt_xlsx_and_non_utf8_csv(tmp_path):
    (tmp_path / "bad.xlsx").write_bytes(b"PK\x03\x04 not a workbook")
    with pytest.raises(DocumentError, match="corrupt or unreadable .xlsx"):
        load_document(tmp_path / "bad.xlsx")
    (tmp_path / "bad.csv").write_bytes(b"\xff\xfe\x00a;b")
    with pytest.raises(DocumentError, match="bad.csv.*not valid UTF-8"):
        load_document(tmp_path / "bad.csv")
