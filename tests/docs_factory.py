"""Builders for test documents in every supported format (real files, written with real libraries)."""

from __future__ import annotations

from pathlib import Path

SAMPLE_TITLE = "Bệnh viện Đa khoa Thử Nghiệm tổng kết năm 2023"
SAMPLE_BODY = [
    "Năm 2023, Bệnh viện đã khám cho 12.345 lượt người, tăng 7,5% so với năm 2022.",
    "Giám đốc bệnh viện là BS CKII. Trần Văn Thử.",
    "Ngày 5/1/2024, bệnh viện tổ chức hội nghị tổng kết.",
]


def write_txt(path: Path, title: str = SAMPLE_TITLE, body: list[str] = SAMPLE_BODY) -> Path:
    path.write_text("\n".join([title, *body]), encoding="utf-8")
    return path


def write_md(path: Path) -> Path:
    path.write_text(f"# {SAMPLE_TITLE}\n\n" + "\n\n".join(SAMPLE_BODY), encoding="utf-8")
    return path


def write_html(path: Path) -> Path:
    paragraphs = "".join(f"<p>{s}</p>" for s in SAMPLE_BODY)
    path.write_text(
        f"<html><head><title>{SAMPLE_TITLE}</title><style>p{{color:red}}</style>"
        f"<script>var x = 'không được lấy';</script></head>"
        f"<body><h1>{SAMPLE_TITLE}</h1>{paragraphs}</body></html>",
        encoding="utf-8",
    )
    return path


def _font() -> str:
    import matplotlib

    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")


def write_pdf(path: Path, encrypt: bool = False) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("DejaVu", fname=_font())
    pdf.set_font("DejaVu", size=12)
    for line in [SAMPLE_TITLE, *SAMPLE_BODY]:
        pdf.multi_cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    if encrypt:
        pdf.set_encryption(owner_password="owner", user_password="secret")
    pdf.output(str(path))
    return path


def write_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading(SAMPLE_TITLE, level=1)
    for line in SAMPLE_BODY:
        document.add_paragraph(line)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Số giường"
    table.rows[0].cells[1].text = "250"
    document.save(str(path))
    return path


# A small library for ingest and index tests: doc id -> (title, sentences)
LIBRARY = {
    "bv_a": ("Bệnh viện A báo cáo năm 2023", ["Bệnh viện A khám 10.500 lượt người.", "Giám đốc là ông Lê Văn A."]),
    "ttyt_b": ("Trung tâm Y tế B sơ kết", ["Trung tâm Y tế B tiêm chủng đạt 98,5%.", "Phó giám đốc là bà Trần Thị B."]),
    "tram_c": ("Trạm Y tế C", ["Trạm Y tế C có 6 nhân viên.", "Trạm phục vụ 3 thôn bản."]),
}
