"""Table cells as answers: a cell's column header is the measure of its figure.

A table row reaches the answerer as one line, "label — header: value; header: value"
(:mod:`rag.ingest.formats.tables`). Every cell of the row names the row's subject, so the subject
check cannot tell "Giường bệnh kế hoạch: 80" from "Giường bệnh thực kê: 92"; the header can. A cell
answers only when its header matches the question about as well as the best header of the
passage's table rows: a row without the asked column (an empty cell) answers nothing.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rag.answer.candidates import contains_run
from rag.ingest.formats.tables import parse_row
from rag.query.analysis import canon_tokens
from rag.text import fold

_CELL_START = re.compile(r"(?:^| — |; )([^:;\n]+?): $")
_WORD = re.compile(r"\w+")
COLUMN_MARGIN = 0.25  # a header this much worse than the passage's best is another column


def _line(text: str, pos: int) -> tuple[int, int]:
    a = text.rfind("\n", 0, pos) + 1
    b = text.find("\n", pos)
    return a, len(text) if b < 0 else b


def cell_header(text: str, pos: int) -> str:
    """The column header of the table cell whose value starts at ``pos``, or "" outside a table row."""
    a, b = _line(text, pos)
    m = _CELL_START.search(text, a, pos)
    if m is None or m.end() != pos or parse_row(text[a:b]) is None:
        return ""
    return m.group(1).strip()


def _syllables(text: str, accented: bool) -> list[str]:
    low = text.lower()
    return _WORD.findall(low if accented else fold(low))


def header_match(question: str, header: str) -> float:
    """Share of the header's syllables the question has (accents compared when the question has them:
    "thực kê" is not "kế hoạch")."""
    accented = fold(question) != question
    words = _syllables(header, accented)
    asked = set(_syllables(question, accented))
    return sum(w in asked for w in words) / len(words) if words else 0.0


@lru_cache(maxsize=4096)
def _rows(passage_text: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(label, column headers) of every table row of the passage."""
    rows = (parse_row(line) for line in passage_text.splitlines())
    return tuple((r[0], tuple(h for h, _ in r[1])) for r in rows if r is not None)


def _headers(passage_text: str) -> tuple[str, ...]:
    """Every column header of the passage's table rows."""
    return tuple(dict.fromkeys(h for _, headers in _rows(passage_text) for h in headers))


def cell_fit(question: str, header: str, passage_text: str) -> float | None:
    """How well a cell's header fits the question (0–1), or None when another column is asked."""
    fit = header_match(question, header)
    best = max((header_match(question, h) for h in _headers(passage_text)), default=0.0)
    return None if best - fit > COLUMN_MARGIN else fit


NAMED_COLUMN = 0.75  # the question names a column when a header matches it this well


def missing_column(question: str, sentence: str, passage_text: str) -> str | None:
    """Why a table row cannot answer: the question names a column of the table that this row leaves
    empty ("… huyện C có bao nhiêu giường thực kê?" over a row without that cell), else None."""
    row = parse_row(sentence)
    if row is None:
        return None
    scored = [(header_match(question, h), h) for h in _headers(passage_text)]
    best, header = max(scored, default=(0.0, ""))
    row_best = max((header_match(question, h) for h, _ in row[1]), default=0.0)
    if best >= NAMED_COLUMN and best - row_best > COLUMN_MARGIN:
        return f"the sentence is about other columns: the row has no “{header}” cell"
    return None


def other_row(entities: list[tuple[str, ...]], sentence: str, passage_text: str) -> str | None:
    """Why a table row is about another unit: a name the question asks for (canonical tokens) is not
    in this row's label but is the label of another row of the table, else None. A row's label is its
    subject, so the document's lead naming every row does not make one row answer for another."""
    row = parse_row(sentence)
    if row is None:
        return None
    label = canon_tokens(row[0])
    for ent in entities:
        if contains_run(label, ent):
            continue
        for other, _ in _rows(passage_text):
            if contains_run(canon_tokens(other), ent):
                return f"the sentence is about another unit: “{other}” has its own row"
    return None
