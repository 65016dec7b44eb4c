"""Spreadsheets: .xlsx workbooks (openpyxl) and .csv files, each sheet a table rendered row by row.

Each sheet opens with its name and its title rows (leading rows with one filled cell, such as
"BÁO CÁO GIƯỜNG BỆNH NĂM 2023"), then the table (rag.ingest.formats.tables). A number is written as
the sheet shows it to a Vietnamese reader: "." between thousands when its format groups them, ","
before decimals, "%" formats as percentages ("1.250", "101,3%").
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile

from rag.errors import DocumentError
from rag.ingest.formats.extracted import Extracted
from rag.ingest.formats.tables import Cell, Grid, clean, render_table

_DECIMALS = re.compile(r"0\.(0+)")
MAX_TITLE_ROWS = 3


def xlsx_text(path: object, data: bytes) -> Extracted:
    """Every sheet in workbook order: name, title rows, table lines."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError) as exc:
        raise DocumentError(path, f"corrupt or unreadable .xlsx file ({exc})") from None
    blocks: list[str] = []
    title = None
    for sheet in workbook.worksheets:
        grid = sheet_grid(sheet)
        heads, lines = sheet_lines(grid)
        if not lines and not heads:
            continue
        title = title or (heads[0] if heads else None)
        blocks.append("\n".join([sheet.title, *heads, *lines]))
    created = workbook.properties.created
    return Extracted(text="\n\n".join(blocks), title=title, meta_date=created.date().isoformat() if created else None)


def csv_text(path: object, data: bytes) -> Extracted:
    """One table; the delimiter (",", ";", tab) is sniffed from the first lines."""
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(path, f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); save it as UTF-8 CSV") from None
    try:
        dialect = csv.Sniffer().sniff(content[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(content), dialect))
    grid: Grid = [[Cell(clean(v), r * 10_000 + c) for c, v in enumerate(row)] for r, row in enumerate(rows)]
    heads, lines = sheet_lines(grid)
    return Extracted(text="\n".join([*heads, *lines]), title=heads[0] if heads else None)


def sheet_lines(grid: Grid) -> tuple[list[str], list[str]]:
    """(title rows, table lines): leading rows with a single filled cell are titles, the rest the table."""
    grid = [row for row in grid if any(c.text for c in row)]
    heads: list[str] = []
    while grid and len(heads) < MAX_TITLE_ROWS and len({c.origin for c in grid[0] if c.text}) == 1 and len(grid) > 1:
        heads.append(next(c.text for c in grid[0] if c.text))
        grid = grid[1:]
    width = max((max((i for i, c in enumerate(r) if c.text), default=0) for r in grid), default=-1) + 1
    return heads, render_table([row[:width] for row in grid])


def sheet_grid(sheet) -> Grid:
    """The sheet's used range as a grid; a merged range's cells share its top-left value."""
    merged: dict[tuple[int, int], tuple[int, int]] = {}
    for rng in sheet.merged_cells.ranges:
        for r in range(rng.min_row, rng.max_row + 1):
            for c in range(rng.min_col, rng.max_col + 1):
                merged[(r, c)] = (rng.min_row, rng.min_col)
    width = sheet.max_column
    grid: Grid = []
    for row in sheet.iter_rows(min_row=1, max_row=sheet.max_row):
        cells: list[Cell] = []
        for cell in row:
            top = merged.get((cell.row, cell.column), (cell.row, cell.column))
            source = sheet.cell(*top) if top != (cell.row, cell.column) else cell
            cells.append(Cell(display(source.value, source.number_format), top[0] * (width + 1) + top[1]))
        grid.append(cells)
    return grid


def display(value: object, number_format: str = "General") -> str:
    """A cell value as a Vietnamese reader sees it: 1250 with "#,##0" → "1.250", 1.013 with "0.0%" → "101,3%"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y") if not (value.hour or value.minute) else value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, (int, float)):
        return number(value, number_format or "General")
    return clean(str(value))


def number(value: float, number_format: str) -> str:
    """Format with the sheet's decimals, grouping and percent, in Vietnamese separators."""
    percent = "%" in number_format
    if percent:
        value = value * 100
    group = "," if "#,#" in number_format or "0,0" in number_format else ""
    decimals = _DECIMALS.search(number_format)
    if decimals:
        text = f"{value:{group}.{len(decimals.group(1))}f}"
    elif float(value).is_integer():
        text = f"{int(value):{group}d}"
    elif "0" in number_format:  # a format without decimals ("0", "#,##0") rounds to units
        text = f"{value:{group}.0f}"
    else:  # General: the shortest form, as the sheet shows it
        text = f"{value:.10g}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".") + ("%" if percent else "")
