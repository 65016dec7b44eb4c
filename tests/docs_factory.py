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


def font_path() -> str:
    import matplotlib

    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")


def write_pdf(path: Path, encrypt: bool = False) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("DejaVu", fname=font_path())
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


# A table of health indicators, written in each format: a two-row header ("Giường bệnh" spans two
# columns, "Đơn vị" and "Công suất" span both header rows) and a serial-number column.
TABLE_TITLE = "Báo cáo giường bệnh các đơn vị năm 2023"
TABLE_INTRO = "Bảng 1 tổng hợp giường bệnh và công suất sử dụng của các đơn vị."
TABLE_OUTRO = "Công suất sử dụng giường bệnh chung toàn tỉnh vượt kế hoạch."
TABLE_ROWS = [
    ("1", "Trung tâm Y tế huyện A", "80", "92", "101,3%"),
    ("2", "Bệnh viện Đa khoa tỉnh", "1.250", "1.410", "112,8%"),
    ("3", "Trung tâm Y tế huyện C", "60", "", "87,5%"),
]


def write_table_html(path: Path) -> Path:
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in TABLE_ROWS)
    path.write_text(
        f"<html><body><h1>{TABLE_TITLE}</h1><p>{TABLE_INTRO}</p><table>"
        '<thead><tr><th rowspan="2">STT</th><th rowspan="2">Đơn vị</th><th colspan="2">Giường bệnh</th>'
        '<th rowspan="2">Công suất</th></tr><tr><th>Kế hoạch</th><th>Thực kê</th></tr></thead>'
        f"<tbody>{body}</tbody></table><p>{TABLE_OUTRO}</p></body></html>",
        encoding="utf-8",
    )
    return path


def write_table_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading(TABLE_TITLE, level=1)
    document.add_paragraph(TABLE_INTRO)
    table = document.add_table(rows=2 + len(TABLE_ROWS), cols=5)
    head = table.rows[0].cells
    for col, text in ((0, "STT"), (1, "Đơn vị"), (2, "Giường bệnh"), (4, "Công suất")):
        head[col].text = text
    for col in (0, 1, 4):
        table.cell(0, col).merge(table.cell(1, col))
    table.cell(0, 2).merge(table.cell(0, 3))
    table.cell(1, 2).text, table.cell(1, 3).text = "Kế hoạch", "Thực kê"
    for r, row in enumerate(TABLE_ROWS, start=2):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    document.add_paragraph(TABLE_OUTRO)
    document.save(str(path))
    return path


def write_table_pdf(path: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("DejaVu", fname=font_path())
    pdf.set_font("DejaVu", size=10)
    pdf.multi_cell(0, 8, TABLE_TITLE, new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 8, TABLE_INTRO, new_x="LMARGIN", new_y="NEXT")
    with pdf.table(col_widths=(10, 60, 25, 25, 25), first_row_as_headings=False) as table:
        head = table.row()
        head.cell("STT", rowspan=2)
        head.cell("Đơn vị", rowspan=2)
        head.cell("Giường bệnh", colspan=2)
        head.cell("Công suất", rowspan=2)
        sub = table.row()
        sub.cell("Kế hoạch")
        sub.cell("Thực kê")
        for row in TABLE_ROWS:
            cells = table.row()
            for text in row:
                cells.cell(text)
    pdf.multi_cell(0, 8, TABLE_OUTRO, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def write_table_xlsx(path: Path) -> Path:
    """The health-indicator table as a workbook: a merged title row, a two-row header, real number formats."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Giường bệnh"
    sheet["A1"] = TABLE_TITLE
    sheet.merge_cells("A1:E1")
    for col, text in zip("ABCE", ("STT", "Đơn vị", "Giường bệnh", "Công suất")):
        sheet[f"{col}2"] = text
    for col in "ABE":
        sheet.merge_cells(f"{col}2:{col}3")
    sheet.merge_cells("C2:D2")
    sheet["C3"], sheet["D3"] = "Kế hoạch", "Thực kê"
    for r, (n, unit, plan, real, rate) in enumerate(TABLE_ROWS, start=4):
        sheet.cell(r, 1, int(n))
        sheet.cell(r, 2, unit)
        for c, value in ((3, plan), (4, real)):
            if value:
                sheet.cell(r, c, int(value.replace(".", ""))).number_format = "#,##0"
        sheet.cell(r, 5, float(rate.rstrip("%").replace(",", ".")) / 100).number_format = "0.0%"
    other = workbook.create_sheet("Nhân lực")
    other.append(["Đơn vị", "Bác sĩ", "Điều dưỡng"])
    other.append(["Trung tâm Y tế huyện A", 41, 97])
    workbook.save(str(path))
    return path


SCAN_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def render_scan(lines: list[str], dpi: int = 300, skew: float = 0.8, noise: float = 0.02, seed: int = 0):
    """A page as a scanner gives it: black text on an A4 page at ``dpi``, slightly rotated, with speckle noise."""
    import random

    from PIL import Image, ImageDraw, ImageFont

    width, height = int(8.27 * dpi), int(11.69 * dpi)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(SCAN_FONT if Path(SCAN_FONT).exists() else font_path(), size=int(12 / 72 * dpi))
    y = int(dpi * 0.9)
    for line in lines:
        draw.text((int(dpi * 0.9), y), line, font=font, fill=0)
        y += int(12 / 72 * dpi * 1.6)
    page = page.rotate(skew, resample=Image.BICUBIC, fillcolor=255, expand=False)
    rng = random.Random(seed)
    pixels = page.load()
    for _ in range(int(width * height * noise / 100)):
        pixels[rng.randrange(width), rng.randrange(height)] = rng.choice((0, 96, 160))
    return page


def write_scan_pdf(path: Path, pages: list[list[str]], text_page: list[str] | None = None) -> Path:
    """A PDF of scanned pages (images, no text layer), after an optional page with real text."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_font("DejaVu", fname=font_path())
    pdf.set_font("DejaVu", size=12)
    if text_page:
        pdf.add_page()
        for line in text_page:
            pdf.multi_cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    for n, lines in enumerate(pages):
        pdf.add_page()
        pdf.image(render_scan(lines, seed=n), x=0, y=0, w=pdf.w, h=pdf.h)
    pdf.output(str(path))
    return path


def write_long_table_pdf(path: Path, rows: int = 70) -> Path:
    """A table of commune health stations long enough to continue on the next page (header printed once)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("DejaVu", fname=font_path())
    pdf.set_font("DejaVu", size=10)
    pdf.multi_cell(0, 8, "Hoạt động các trạm y tế xã năm 2023", new_x="LMARGIN", new_y="NEXT")
    with pdf.table(col_widths=(70, 40, 40), first_row_as_headings=False) as table:
        for cells in [("Trạm y tế", "Lượt khám", "Tỷ lệ BHYT")] + [(f"Trạm Y tế xã {i}", f"{1000 + i}", f"{90 + i % 10},5%") for i in range(rows)]:
            row = table.row()
            for text in cells:
                row.cell(text)
    pdf.output(str(path))
    return path
