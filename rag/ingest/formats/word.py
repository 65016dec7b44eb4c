"""Word .docx files (python-docx): paragraphs and tables in document order, the first heading, core properties."""

from __future__ import annotations

import io
import zipfile

from rag.errors import DocumentError
from rag.ingest.formats.extracted import Extracted
from rag.ingest.formats.tables import Cell, Grid, clean, render_table

_HEADING_STYLES = ("Heading", "Title")


def docx_text(path: object, data: bytes) -> Extracted:
    """Paragraphs as lines, each table rendered row by row where it stands; title and date from headings/metadata."""
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise DocumentError(path, f"corrupt or unreadable .docx file ({exc})") from None
    except Exception as exc:  # python-docx raises its own PackageNotFoundError and lxml errors
        raise DocumentError(path, f"corrupt or unreadable .docx file ({type(exc).__name__}: {exc})") from None
    blocks: list[str] = []
    title = None
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            grid, header_rows = table_grid(item)
            blocks.extend(render_table(grid, header_rows))
            continue
        if title is None and item.text.strip() and item.style is not None and item.style.name.startswith(_HEADING_STYLES):
            title = clean(item.text)
        blocks.append(item.text)
    props = document.core_properties
    stamp = props.created or props.modified
    return Extracted(
        text="\n".join(blocks),
        title=title,
        meta_date=stamp.date().isoformat() if stamp else None,
    )


def table_grid(table) -> tuple[Grid, int | None]:
    """The table's cells by grid position (a merged cell at each position it covers) and its marked header rows."""
    from docx.oxml.ns import qn

    grid: Grid = []
    header_rows = 0
    marked = True
    for row in table.rows:
        trpr = row._tr.trPr
        if marked and trpr is not None and trpr.find(qn("w:tblHeader")) is not None:
            header_rows += 1
        else:
            marked = False
        grid.append([Cell(clean(cell.text), id(cell._tc)) for cell in row.cells])
    return grid, (header_rows or None)
