"""Render a table as lines of text: one line per row, "label — header: value; header: value".

A table cell read on its own ("92") answers nothing; the row label and the column headers do. So
every row becomes one self-contained line (a sentence to the splitter, which ends sentences at line
breaks) carrying its label and every column header, repeated for each row, so that any chunk holding
a row also holds what its numbers mean. Cell text is copied verbatim (whitespace collapsed), numbers
included. The parsers (HTML, DOCX, PDF, spreadsheets) only build a :class:`Cell` grid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBER = re.compile(r"^[\s(]*[-+−]?[\d.,\s]*\d[\d.,\s]*%?[\s)]*$")
_INDEX = re.compile(r"^(\d{1,3}|[IVXLC]{1,5})\.?$")  # "1", "2.", "IV": a serial-number column
MAX_HEADER_ROWS = 3
LABEL_SEPARATOR = " — "


@dataclass(frozen=True)
class Cell:
    """One grid position: ``origin`` is shared by every position one merged cell covers."""

    text: str
    origin: int


Grid = list[list[Cell]]


def clean(text: str | None) -> str:
    """A cell's text on one line: every whitespace run (line breaks included) becomes one space."""
    return " ".join((text or "").split())


def is_number(text: str) -> bool:
    """Whether a cell holds a figure ("12.345", "101,3%", "-2"), not words."""
    return bool(_NUMBER.match(text))


def pad(grid: Grid) -> Grid:
    """Square the grid: short rows get empty cells of their own."""
    width = max((len(r) for r in grid), default=0)
    next_id = max((c.origin for r in grid for c in r), default=0) + 1
    out: Grid = []
    for row in grid:
        extra = [Cell("", next_id + i) for i in range(width - len(row))]
        next_id += len(extra)
        out.append(row + extra)
    return out


def render_table(grid: Grid, header_rows: int | None = None, caption: str = "") -> list[str]:
    """Lines for a table; ``header_rows`` as the source marks them (HTML ``<th>``), else guessed.

    Empty rows are dropped; a row whose only text is its label (a section such as "I. Tuyến tỉnh")
    stays a line of its own.
    """
    headers, body = split_header(grid, header_rows)
    return render_body(body, headers, caption) if body else []


def split_header(grid: Grid, header_rows: int | None = None) -> tuple[list[str], Grid]:
    """(one header per column, the body rows) of a squared grid without its empty rows."""
    grid = [r for r in pad(grid) if any(c.text for c in r)]
    if not grid:
        return [], []
    if header_rows is None:
        header_rows = guess_header_rows(grid)
    header_rows = min(header_rows, len(grid) - 1) if len(grid) > 1 else 0
    return column_headers(grid[:header_rows], len(grid[0])), grid[header_rows:]


def render_body(body: Grid, headers: list[str], caption: str = "") -> list[str]:
    """One line per body row under ``headers``, the caption first."""
    columns = list(range(len(body[0])))
    if len(columns) > 2 and all(_INDEX.match(r[0].text) or not r[0].text for r in body) and any(r[0].text for r in body):
        columns = columns[1:]  # "STT" serial numbers label nothing; the next column names the row
    lines = [caption] if caption else []
    for row in body:
        line = render_row(row, columns, headers)
        if line:
            lines.append(line)
    return lines


def guess_header_rows(grid: Grid) -> int:
    """Leading rows that hold no figure, when figures follow below them (at most three)."""
    if len(grid) < 2 or len(grid[0]) < 2:
        return 0
    count = 0
    while count < min(MAX_HEADER_ROWS, len(grid) - 1):
        row = grid[count]
        if any(is_number(c.text) for c in row[1:] if c.text):
            break
        # a further header row only under a merged (spanning) header cell: "Giường bệnh" over two columns
        if count and not _has_span(grid[count - 1]):
            break
        count += 1
    has_figures_below = any(is_number(c.text) for r in grid[count:] for c in r[1:] if c.text)
    return count if has_figures_below else 0


def column_headers(rows: Grid, width: int) -> list[str]:
    """One header per column: the distinct texts of its header rows, outer first ("Giường bệnh kế hoạch")."""
    headers: list[str] = []
    for col in range(width):
        parts: list[str] = []
        for row in rows:
            text = row[col].text
            if text and text not in parts:
                parts.append(text)
        headers.append(" ".join([parts[0], *map(lower_initial, parts[1:])]) if parts else "")
    return headers


def lower_initial(text: str) -> str:
    """"Kế hoạch" → "kế hoạch" inside a joined header; an acronym ("BHYT", "Quý I" stays "quý I") keeps its case."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def render_row(row: list[Cell], columns: list[int], headers: list[str]) -> str:
    """"label — header: value; …"; a merged cell is read once; empty values are left out."""
    label_col, value_cols = columns[0], columns[1:]
    label = row[label_col].text
    parts: list[str] = []
    seen = {row[label_col].origin}
    for col in value_cols:
        cell = row[col]
        if not cell.text or cell.origin in seen:
            continue
        seen.add(cell.origin)
        header = headers[col]
        parts.append(f"{header}: {cell.text}" if header and header != cell.text else cell.text)
    if not parts:
        return label
    values = "; ".join(parts)
    if not label:
        return values
    if not any(headers) and len(value_cols) == 1:
        return f"{label}: {values}"  # a two-column key/value table: "Số giường: 250"
    return f"{label}{LABEL_SEPARATOR}{values}"


_PAIR = re.compile(r"([^:;]+?): ([^;]+)")


def parse_row(line: str) -> tuple[str, list[tuple[str, str]]] | None:
    """The inverse of :func:`render_row` for a row with a label and headed values, else None.

    "Trung tâm Y tế huyện A — Giường thực kê: 92; Công suất: 101,3%" → ("Trung tâm Y tế huyện A",
    [("Giường thực kê", "92"), ("Công suất", "101,3%")]). A line that only looks alike (no label,
    a value without its header) is not a row: the UI shows it as text.
    """
    label, sep, values = line.strip().partition(LABEL_SEPARATOR)
    if not sep or not label or LABEL_SEPARATOR in values:
        return None
    pairs = [_PAIR.fullmatch(part.strip()) for part in values.split("; ")]
    if not pairs or not all(pairs):
        return None
    return label, [(m.group(1).strip(), m.group(2).strip()) for m in pairs if m]


def _has_span(row: list[Cell]) -> bool:
    return any(a.origin == b.origin and a.text for a, b in zip(row, row[1:]))


def grid_from_rows(rows: list[list[str | None]]) -> Grid:
    """A grid from plain rows (spreadsheets, PDF tables): ``None`` continues the merged cell on its left."""
    grid: Grid = []
    next_id = 0
    for row in rows:
        cells: list[Cell] = []
        for value in row:
            if value is None and cells:
                cells.append(cells[-1])
                continue
            cells.append(Cell(clean(value), next_id))
            next_id += 1
        grid.append(cells)
    return grid
