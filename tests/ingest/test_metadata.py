"""Titles (headings joined across soft breaks, short leads cut at phrase boundaries) and document dates."""

from __future__ import annotations

import datetime as dt

from rag.ingest.formats.metadata import TITLE_MAX_CHARS, derive_title
from rag.ingest.loaders import load_document

from tests import docs_factory as f


def test_heading_wrapped_over_two_lines_is_joined():
    text = "BÁO CÁO TỔNG KẾT CÔNG TÁC Y TẾ NĂM 2023\nVÀ PHƯƠNG HƯỚNG NHIỆM VỤ NĂM 2024\nNăm 2023, ngành y tế đạt 12 chỉ tiêu."
    assert derive_title(text) == "BÁO CÁO TỔNG KẾT CÔNG TÁC Y TẾ NĂM 2023 VÀ PHƯƠNG HƯỚNG NHIỆM VỤ NĂM 2024"
    text = "Trung tâm Y tế huyện Tiên Du tổ chức hội nghị\nsơ kết 9 tháng đầu năm 2023\nNgày 28/10/2023, trung tâm họp."
    assert derive_title(text) == "Trung tâm Y tế huyện Tiên Du tổ chức hội nghị sơ kết 9 tháng đầu năm 2023"
    # a new line that starts a sentence of its own is not part of the title
    assert derive_title("Trạm Y tế xã Pà Cò\nTrạm có 6 nhân viên.") == "Trạm Y tế xã Pà Cò"


def test_long_lead_sentence_is_cut_at_a_phrase_boundary():
    lead = (
        "Đến thăm Trạm Y tế Pà Cò, đồng chí Giám đốc Sở Y tế vui mừng khi thấy trạm có cơ sở khang trang "
        "sạch sẽ và khu vực chuyên môn được sắp xếp gọn gàng theo đúng quy định của ngành."
    )
    title = derive_title(lead + " Câu sau.")
    assert title == "Đến thăm Trạm Y tế Pà Cò"
    assert len(derive_title(lead)) <= TITLE_MAX_CHARS
    # no phrase boundary at all: a word cut, marked as such
    words = " ".join(["Bệnh viện khám chữa bệnh cho nhân dân trong tỉnh"] * 4) + "."
    cut = derive_title(words)
    assert cut.endswith("…") and len(cut) <= TITLE_MAX_CHARS + 1 and words.startswith(cut[:-1])


def test_date_from_the_header_comes_first(tmp_path):
    path = tmp_path / "bc.txt"
    path.write_text(
        "SỞ Y TẾ QUẢNG NINH\nQuảng Ninh, ngày 05 tháng 01 năm 2024\nBÁO CÁO\nNăm 2023 (từ 1/1/2023) bệnh viện khám 12.345 lượt.",
        encoding="utf-8",
    )
    doc = load_document(path)
    assert doc.date == "2024-01-05"
    assert doc.dates[0] == "2024-01-05" and "2023-01-01" in doc.dates


def test_date_from_file_metadata_when_the_text_has_none(tmp_path):
    import docx
    from fpdf import FPDF

    document = docx.Document()
    document.add_paragraph("Báo cáo không ghi ngày tháng.")
    document.core_properties.created = dt.datetime(2023, 3, 4, 8, 30)
    document.save(str(tmp_path / "a.docx"))
    assert load_document(tmp_path / "a.docx").date == "2023-03-04"

    pdf = FPDF()
    pdf.set_creation_date(dt.datetime(2022, 11, 30, 9, 0, tzinfo=dt.timezone.utc))
    pdf.add_page()
    pdf.add_font("DejaVu", fname=f.font_path())
    pdf.set_font("DejaVu", size=12)
    pdf.cell(text="Báo cáo không ghi ngày tháng.")
    pdf.output(str(tmp_path / "b.pdf"))
    doc = load_document(tmp_path / "b.pdf")
    assert doc.date == "2022-11-30" and doc.dates == ["2022-11-30"]

    # a date in the text's header wins over the metadata
    assert load_document(f.write_docx(tmp_path / "c.docx")).date == "2024-01-05"


def test_no_date_anywhere(tmp_path):
    (tmp_path / "n.txt").write_text("Trạm Y tế C\nTrạm có 6 nhân viên.", encoding="utf-8")
    doc = load_document(tmp_path / "n.txt")
    assert doc.date is None and doc.dates == []
