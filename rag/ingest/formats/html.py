"""HTML pages (BeautifulSoup): visible text, the first heading, and ``<table>``s rendered row by row.

The text comes from one pass over the parsed tree with an explicit stack (:class:`_PageReader`): no
recursion and no edits to the tree, so the cost is linear in the page's size whatever its nesting
(100,000 nested ``<div>``s read in seconds). Editing the tree instead (``insert_after``, ``replace_with``)
walks to the edited element's last descendant every time, which is quadratic in the nesting depth.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from rag.ingest.formats.extracted import Extracted
from rag.ingest.formats.tables import Cell, Grid, clean, render_table

BLOCK_TAGS = frozenset(["p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "br", "section", "article", "caption"])
HIDDEN_TAGS = frozenset(["script", "style", "noscript", "template"])
TITLE_TAGS = frozenset(["h1", "title"])
META_DATE_NAMES = frozenset(["date", "dc.date", "DC.date", "article:published_time"])
MAX_SPAN = 100  # a colspan="10000" typo must not build a huge grid
# each level of table nesting copies its inner tables' text once more: deeper tables are read as plain text
MAX_TABLE_NESTING = 8


def html_text(data: bytes) -> Extracted:
    """The page's text with scripts and styles removed; each table becomes lines (see rag.ingest.formats.tables)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    reader = _PageReader()
    reader.read(soup)
    return Extracted(text="".join(reader.page()), title=reader.title or None, meta_date=reader.meta_date)


@dataclass
class _RawCell:
    text: str
    is_th: bool
    colspan: int
    rowspan: int


@dataclass
class _Table:
    """A table being read: its rows in document order (cells, whether inside a ``<thead>``)."""

    rows: list[tuple[list[_RawCell], bool]] = field(default_factory=list)
    open_rows: dict[int, list[_RawCell]] = field(default_factory=dict)  # id(<tr>) → its cells
    caption: list[str] | None = None
    caption_tag: Any = None


@dataclass
class _Frame:
    """An element whose text is gathered apart: a table (its loose text dropped) or one of its cells."""

    tag: Any
    parts: list[str] | None  # None: text here is dropped (a table's own text outside its cells)
    table: _Table | None = None
    row: list[_RawCell] | None = None  # for a cell: the row it belongs to


class _PageReader:
    """Start/end/text events from an iterative walk; text goes to the innermost frame, else the page."""

    def __init__(self) -> None:
        self.body: Any = None  # the first visible <body>; without one the whole document is the page
        self.in_body = False
        self.document: list[str] = []
        self.body_parts: list[str] = []
        self.frames: list[_Frame] = []
        self.tables: list[_Table] = []
        self.overflow = 0  # open tables past MAX_TABLE_NESTING, read as plain elements
        self.thead = 0  # open <thead>s, any table's: their rows are header rows
        self.title = ""
        self._title_seen = False  # only the first heading is the title, even an empty one
        self.meta_date: str | None = None
        self._title_tag: Any = None
        self._title_parts: list[str] = []
        self._collectors: list[list[str]] = []  # the title's and captions' text, gathered alongside

    def read(self, root: Any) -> None:
        from bs4 import CData, NavigableString, Tag

        text_types = (NavigableString, CData)  # what get_text() reads: no comments, doctypes, scripts
        stack: list[tuple[Any, Iterator[Any]]] = [(root, iter(root.contents))]
        while stack:
            tag, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                self.end(tag)
            elif isinstance(child, Tag):
                if child.name not in HIDDEN_TAGS:
                    self.start(child)
                    stack.append((child, iter(child.contents)))
            elif type(child) in text_types:
                self.text(str(child))

    def _emit(self, text: str) -> None:
        if self.frames:
            parts = self.frames[-1].parts
            if parts is not None:
                parts.append(text)
        else:
            self.document.append(text)
            if self.in_body:
                self.body_parts.append(text)

    def page(self) -> list[str]:
        return self.body_parts if self.body is not None else self.document

    def text(self, text: str) -> None:
        for collector in self._collectors:
            collector.append(text)
        self._emit(text)

    def start(self, tag: Any) -> None:
        name = tag.name
        if name == "body" and self.body is None and not self.tables and not self.overflow:  # a table is read as a whole
            self.body, self.in_body = tag, True
        if name in TITLE_TAGS and not self._title_seen:
            self._title_tag, self._title_seen = tag, True
            self._collectors.append(self._title_parts)
        if name == "meta" and self.meta_date is None and _attr(tag, "name") in META_DATE_NAMES:
            self.meta_date = str(tag.get("content", ""))
        if name == "thead":
            self.thead += 1
        if name == "table":
            if self.overflow or len(self.tables) >= MAX_TABLE_NESTING:
                self.overflow += 1
            else:
                self.tables.append(_Table())
                self.frames.append(_Frame(tag, None, table=self.tables[-1]))
            return
        if not self.tables or self.overflow:
            return
        table = self.tables[-1]
        if name == "tr":
            cells: list[_RawCell] = []
            table.rows.append((cells, self.thead > 0))
            table.open_rows[id(tag)] = cells
        elif name in ("td", "th") and id(tag.parent) in table.open_rows:
            self.frames.append(_Frame(tag, [], row=table.open_rows[id(tag.parent)]))
        elif name == "caption" and table.caption is None:
            table.caption, table.caption_tag = [], tag
            self._collectors.append(table.caption)

    def end(self, tag: Any) -> None:
        name = tag.name
        if tag is self._title_tag:
            self._stop_collecting(self._title_parts)
            self.title = clean(" ".join(self._title_parts))
            self._title_tag = None
        if name == "thead":
            self.thead -= 1
        if name == "table" and self.overflow:
            self.overflow -= 1
        elif self.tables and tag is self.tables[-1].caption_tag:
            self._stop_collecting(self.tables[-1].caption or [])
        elif name == "tr" and self.tables and not self.overflow:
            self.tables[-1].open_rows.pop(id(tag), None)
        if self.frames and self.frames[-1].tag is tag:
            frame = self.frames.pop()
            if frame.table is not None:
                self.tables.pop()
                self._emit("\n" + "\n".join(_render(frame.table)) + "\n")
            elif frame.row is not None and frame.parts is not None:
                frame.row.append(
                    _RawCell(clean(" ".join(frame.parts)), name == "th", _span(tag.get("colspan")), _span(tag.get("rowspan")))
                )
        if name in BLOCK_TAGS:
            self._emit("\n")
        if tag is self.body:
            self.in_body = False

    def _stop_collecting(self, parts: list[str]) -> None:
        self._collectors = [c for c in self._collectors if c is not parts]


def _render(table: _Table) -> list[str]:
    grid, header_rows = table_grid(table.rows)
    return render_table(grid, header_rows, clean(" ".join(table.caption or [])))


def table_grid(rows: list[tuple[list[_RawCell], bool]]) -> tuple[Grid, int | None]:
    """Expand ``colspan``/``rowspan`` into a grid; header rows are the leading rows of ``<th>`` (or ``<thead>``)."""
    grid: Grid = []
    pending: dict[tuple[int, int], Cell] = {}  # (row, col) positions filled by a rowspan from above
    header_rows = 0
    marked = True
    origin = 0
    for r, (cells, in_thead) in enumerate(rows):
        is_header = bool(cells) and (all(c.is_th for c in cells) or in_thead)
        if marked and is_header:
            header_rows += 1
        else:
            marked = False
        row: list[Cell] = []
        col = 0
        for raw in cells:
            while (r, col) in pending:
                row.append(pending.pop((r, col)))
                col += 1
            cell = Cell(raw.text, origin)
            origin += 1
            for dc in range(raw.colspan):
                row.append(cell)
                for dr in range(1, raw.rowspan):
                    pending[(r + dr, col + dc)] = cell
            col += raw.colspan
        while (r, col) in pending:
            row.append(pending.pop((r, col)))
            col += 1
        grid.append(row)
    return grid, (header_rows or None)


def _attr(tag: Any, name: str) -> str | None:
    value = tag.get(name)
    return value if isinstance(value, str) else None


def _span(value: object) -> int:
    try:
        return max(1, min(MAX_SPAN, int(str(value))))
    except ValueError:
        return 1
