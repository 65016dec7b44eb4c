"""The sources panel's cards (rag.web.sources): a cited table row as a table, the OCR note, escaping."""

from __future__ import annotations

import html
import re

from rag.web import sources
from tests.web.test_render import XSS_SCRIPT, answer, citation

ROW = "Trung tâm Y tế huyện A — Giường bệnh kế hoạch: 80; Giường bệnh thực kê: 92; Công suất: 101,3%"


def cells(table: str) -> list[list[str]]:
    """The text of each row's cells, header row first."""
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
    return [[html.unescape(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)] for r in rows]


def test_a_cited_table_row_is_shown_as_a_small_table_under_its_headers():
    text = "Bảng 1. Giường bệnh năm 2024\n" + ROW
    panel = sources.render_turn_sources(answer(citations=[citation(text=text, quote=ROW)]), "q", 1)
    table = re.search(r'<table class="hdyt-row-table">.*?</table>', panel, re.S)
    assert table, panel
    assert cells(table.group(0)) == [
        ["", "Giường bệnh kế hoạch", "Giường bệnh thực kê", "Công suất"],
        ["Trung tâm Y tế huyện A", "80", "92", "101,3%"],
    ]
    assert '<mark class="hdyt-quote">' in panel  # the row is still highlighted in its passage


def test_a_prose_quote_gets_no_table_and_related_passages_never_do():
    assert "<table" not in sources.render_turn_sources(answer(), "q", 1)
    related = answer(citations=[], abstained=True, related=[citation(text=ROW, quote=ROW)])
    assert "<table" not in sources.render_turn_sources(related, "q", 1)


def test_table_cells_are_escaped():
    row = f"Đơn vị {XSS_SCRIPT} — Số ca: 12 {XSS_SCRIPT}"
    panel = sources.render_turn_sources(answer(citations=[citation(text=row, quote=row)]), "q", 1)
    assert "<script" not in panel
    assert cells(re.search(r"<table.*?</table>", panel, re.S).group(0))[1] == [f"Đơn vị {XSS_SCRIPT}", f"12 {XSS_SCRIPT}"]


def test_cards_of_ocr_documents_say_the_text_was_recognised_from_a_scan():
    two = [citation(n=1, doc_id="scan"), citation(n=2, doc_id="typed")]
    panel = sources.render_sources([{"turn": 1, "question": "q", "answer": answer(citations=two)}], scanned={"scan"})
    cards = re.findall(r'<article class="hdyt-src" id="hdyt-src-1-(\d)" data-doc="(\w+)".*?</article>', panel, re.S)
    assert [c[1] for c in cards] == ["scan", "typed"]
    scan_card, typed_card = re.findall(r"<article.*?</article>", panel, re.S)
    assert "văn bản nhận dạng từ bản quét — kiểm tra với bản gốc" in scan_card
    assert "hdyt-ocr-note" not in typed_card
    assert "hdyt-ocr-note" not in sources.render_sources([{"turn": 1, "question": "q", "answer": answer(citations=two)}])
