"""Rebuild ``eval/extra/corpus/`` from the plain-text reports in ``eval/extra/sources/``.

Every report is written once, as plain text, in ``sources/<id>.txt`` (one paragraph per line);
this script turns each into the format listed in :data:`FORMATS`:

- ``txt`` and ``md``: copied byte for byte (the ``md`` sources already hold Markdown);
- ``html``: line 1 is the site header, line 2 the navigation (items separated by ``" | "``),
  line 3 the headline (``<title>`` and ``<h1>``), line 4 the date line; lines with tab
  characters are table rows (the first row of a run is the header row); a last line starting
  with ``©`` is the footer; every other line is a ``<p>``;
- ``docx``: line 1 is the heading, lines with tabs are table rows, the rest paragraphs;
- ``pdf``: line 1 is the heading (bold), the rest paragraphs, with a real text layer
  (DejaVu Sans, embedded).

The visible text of every generated file is exactly the text of its source (modulo
whitespace), so the gold evidence can be checked against ``sources/``. Output is
deterministic: fixed document dates, fixed zip timestamps, fixed PDF id.

Usage (from the repository root)::

    .venv/bin/python eval/extra/make_corpus.py
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import io
import shutil
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
CORPUS = HERE / "corpus"
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")

FORMATS: dict[str, str] = {
    "e01_quangtri_sxh": "txt",
    "e02_nghean_tongket": "txt",
    "e03_thanhhoa_tcm": "md",
    "e04_daklak_bhyt": "md",
    "e05_cantho_bvdk": "html",
    "e06_binhdinh_tiemchung": "html",
    "e07_hatinh_thamchucmung": "docx",
    "e08_kontum_tramyte": "docx",
    "e09_thaibinh_mri": "pdf",
    "e10_sonla_thaythuoc": "txt",
    "e11_angiang_triton": "pdf",
    "e12_phutho_khonglaynhiem": "txt",
}

#: Publisher shown as document author (docx/pdf metadata).
AUTHORS: dict[str, str] = {
    "e07_hatinh_thamchucmung": "Bệnh viện Đa khoa tỉnh Hà Tĩnh",
    "e08_kontum_tramyte": "Sở Y tế tỉnh Kon Tum",
    "e09_thaibinh_mri": "Bệnh viện Đa khoa tỉnh Thái Bình",
    "e11_angiang_triton": "Sở Y tế tỉnh An Giang",
}

FIXED_TIME = dt.datetime(2024, 10, 1, 8, 0, 0, tzinfo=dt.timezone.utc)
ZIP_TIME = (2024, 10, 1, 8, 0, 0)


def read_lines(doc_id: str) -> list[str]:
    text = (SOURCES / f"{doc_id}.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


# --------------------------------------------------------------------------- html


def _table_html(rows: list[list[str]]) -> str:
    head, *body = rows
    out = ['<table class="data">', "  <thead><tr>"]
    out += [f"    <th>{html.escape(c)}</th>" for c in head]
    out.append("  </tr></thead>")
    out.append("  <tbody>")
    for row in body:
        out.append("  <tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
    out.append("  </tbody>")
    out.append("</table>")
    return "\n".join(out)


def build_html(doc_id: str) -> bytes:
    lines = read_lines(doc_id)
    site, nav, title, meta, *rest = lines
    footer = rest.pop() if rest and rest[-1].startswith("©") else ""
    nav_items = [item.strip() for item in nav.split(" | ")]
    nav_html = " | ".join(
        f'<a href="/muc/{i}">{html.escape(item)}</a>' for i, item in enumerate(nav_items)
    )
    body: list[str] = []
    table: list[list[str]] = []
    for line in rest:
        if "\t" in line:
            table.append(line.split("\t"))
            continue
        if table:
            body.append(_table_html(table))
            table = []
        body.append(f"<p>{html.escape(line)}</p>")
    if table:
        body.append(_table_html(table))
    page = f"""<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: Arial, sans-serif; max-width: 860px; margin: 0 auto; color: #222; }}
header {{ background: #0b6e4f; color: #fff; padding: 12px 16px; }}
header nav a {{ color: #fff; text-decoration: none; }}
table.data {{ border-collapse: collapse; margin: 12px 0; }}
table.data th, table.data td {{ border: 1px solid #999; padding: 4px 8px; }}
.meta {{ color: #777; font-size: 0.9em; }}
footer {{ border-top: 1px solid #ccc; margin-top: 24px; font-size: 0.85em; color: #555; }}
</style>
</head>
<body>
<header>
<div class="site-name">{html.escape(site)}</div>
<nav>{nav_html}</nav>
</header>
<main>
<article>
<h1>{html.escape(title)}</h1>
<p class="meta">{html.escape(meta)}</p>
{chr(10).join(body)}
</article>
</main>
<footer><p>{html.escape(footer)}</p></footer>
</body>
</html>
"""
    return page.encode("utf-8")


# --------------------------------------------------------------------------- docx


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed timestamps so that the bytes do not depend on the clock."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            new = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            new.compress_type = zipfile.ZIP_DEFLATED
            new.external_attr = 0o644 << 16
            dst.writestr(new, src.read(info.filename))
    return out.getvalue()


def build_docx(doc_id: str) -> bytes:
    import docx  # python-docx
    from docx.shared import Pt

    lines = read_lines(doc_id)
    title, *rest = lines
    document = docx.Document()
    props = document.core_properties
    props.title = title
    props.author = AUTHORS.get(doc_id, "")
    props.last_modified_by = AUTHORS.get(doc_id, "")
    props.created = FIXED_TIME.replace(tzinfo=None)
    props.modified = FIXED_TIME.replace(tzinfo=None)
    props.revision = 1
    style = document.styles["Normal"]
    style.font.name = "Times New Roman"
    style.font.size = Pt(13)

    document.add_heading(title, level=1)
    table: list[list[str]] = []

    def flush() -> None:
        if not table:
            return
        t = document.add_table(rows=len(table), cols=len(table[0]))
        t.style = "Table Grid"
        for r, row in enumerate(table):
            for c, cell in enumerate(row):
                t.cell(r, c).text = cell
                if r == 0:
                    for run in t.cell(r, c).paragraphs[0].runs:
                        run.bold = True
        table.clear()

    for line in rest:
        if "\t" in line:
            table.append(line.split("\t"))
            continue
        flush()
        document.add_paragraph(line)
    flush()
    buf = io.BytesIO()
    document.save(buf)
    return _normalise_zip(buf.getvalue())


# --------------------------------------------------------------------------- pdf


def build_pdf(doc_id: str) -> bytes:
    from fpdf import FPDF

    lines = read_lines(doc_id)
    title, *rest = lines
    pdf = FPDF(format="A4")
    pdf.set_creation_date(FIXED_TIME)
    pdf.set_title(title)
    pdf.set_author(AUTHORS.get(doc_id, ""))
    pdf.set_creator("eval/extra/make_corpus.py")
    digest = hashlib.md5(doc_id.encode("utf-8")).hexdigest().upper()
    pdf.file_id = lambda: f"<{digest}><{digest}>"  # fixed document id
    pdf.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 14)
    pdf.multi_cell(0, 8, title, align="L")
    pdf.ln(4)
    pdf.set_font("DejaVu", "", 11)
    for line in rest:
        pdf.multi_cell(0, 6, line, align="L")
        pdf.ln(3)
    return bytes(pdf.output())


# --------------------------------------------------------------------------- main

BUILDERS = {"html": build_html, "docx": build_docx, "pdf": build_pdf}


def main() -> int:
    CORPUS.mkdir(parents=True, exist_ok=True)
    known = {f"{doc_id}.{fmt}" for doc_id, fmt in FORMATS.items()}
    for stale in CORPUS.iterdir():
        if stale.is_file() and stale.name not in known:
            stale.unlink()
    for doc_id, fmt in FORMATS.items():
        target = CORPUS / f"{doc_id}.{fmt}"
        if fmt in ("txt", "md"):
            shutil.copyfile(SOURCES / f"{doc_id}.txt", target)
        else:
            target.write_bytes(BUILDERS[fmt](doc_id))
        print(f"{target.relative_to(HERE.parent.parent)}  {target.stat().st_size:>6} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
