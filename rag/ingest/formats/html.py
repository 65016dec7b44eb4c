"""HTML pages (BeautifulSoup): visible text, the first heading, and ``<table>``s rendered row by row."""

from __future__ import annotations

from rag.ingest.formats.extracted import Extracted
from rag.ingest.formats.tables import Cell, Grid, clean, render_table

BLOCK_TAGS = ["p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "br", "section", "article", "caption"]
MAX_SPAN = 100  # a colspan="10000" typo must not build a huge grid


def html_text(data: bytes) -> Extracted:
    """The page's text with scripts and styles removed; each table becomes lines (see rag.ingest.formats.tables)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    heading = soup.find(["h1", "title"])
    title = clean(heading.get_text(" ")) if heading else ""
    meta_date = soup.find("meta", attrs={"name": ["date", "dc.date", "DC.date", "article:published_time"]})
    # innermost first: an outer table then reads the inner one as text in its cell
    for table in reversed(soup.find_all("table")):
        caption_tag = table.find("caption")
        caption = clean(caption_tag.get_text(" ")) if caption_tag else ""
        grid, header_rows = table_grid(table)
        lines = render_table(grid, header_rows, caption)
        table.replace_with("\n" + "\n".join(lines) + "\n")
    for tag in soup.find_all(BLOCK_TAGS):
        tag.insert_after("\n")
    body = soup.body or soup
    return Extracted(
        text=body.get_text(""),
        title=title or None,
        meta_date=str(meta_date.get("content", "")) if meta_date else None,
    )


def table_grid(table) -> tuple[Grid, int | None]:
    """Expand ``colspan``/``rowspan`` into a grid; header rows are the leading rows of ``<th>`` (or ``<thead>``)."""
    rows = [tr for tr in table.find_all("tr") if tr.find_parent("table") is table]
    grid: Grid = []
    pending: dict[tuple[int, int], Cell] = {}  # (row, col) positions filled by a rowspan from above
    header_rows = 0
    marked = True
    origin = 0
    for r, tr in enumerate(rows):
        cells = tr.find_all(["td", "th"], recursive=False)
        is_header = bool(cells) and (all(c.name == "th" for c in cells) or tr.find_parent("thead") is not None)
        if marked and is_header:
            header_rows += 1
        else:
            marked = False
        row: list[Cell] = []
        col = 0
        for tag in cells:
            while (r, col) in pending:
                row.append(pending.pop((r, col)))
                col += 1
            cell = Cell(clean(tag.get_text(" ")), origin)
            origin += 1
            colspan, rowspan = _span(tag.get("colspan")), _span(tag.get("rowspan"))
            for dc in range(colspan):
                row.append(cell)
                for dr in range(1, rowspan):
                    pending[(r + dr, col + dc)] = cell
            col += colspan
        while (r, col) in pending:
            row.append(pending.pop((r, col)))
            col += 1
        grid.append(row)
    return grid, (header_rows or None)


def _span(value: object) -> int:
    try:
        return max(1, min(MAX_SPAN, int(str(value))))
    except ValueError:
        return 1
