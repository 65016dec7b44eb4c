"""The sources panel (a ``gr.HTML``): one card per cited passage, the latest turn open, older ones folded.

Every text from a document or a user is escaped with :func:`rag.web.render.esc`. A cited table row
("label — header: value; …", :mod:`rag.ingest.formats.tables`) is also shown as a small table, and
a card of a document whose text came from OCR says so, since a misread digit cannot be ruled out.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from pathlib import PurePath
from typing import Any
from urllib.parse import quote as url_quote, urlencode

from rag.ingest.formats.tables import parse_row
from rag.web.render import SMALLTALK, esc, field, format_date, render_passage, shorten

OCR_NOTE = "văn bản nhận dạng từ bản quét — kiểm tra với bản gốc"

ICON_DOC = (
    '<svg viewBox="0 0 24 24" width="34" height="34" fill="none" stroke="currentColor" stroke-width="1.6" '
    'stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 '
    '2-2V8z"/><path d="M14 3v5h5M9 13h6M9 17h6M9 9h2"/></svg>'
)
ICON_CAL = (
    '<svg class="hdyt-ico" viewBox="0 0 24 24" width="12" height="12" fill="none" stroke="currentColor" stroke-width="2" '
    'aria-hidden="true"><rect x="3" y="5" width="18" height="16" rx="2"/><path d="M3 10h18M8 3v4M16 3v4"/></svg>'
)

EMPTY_SOURCES_HTML = (
    '<div class="hdyt-sources hdyt-sources-empty">'
    f'<div class="hdyt-empty-icon">{ICON_DOC}</div>'
    "<p>Các đoạn trích dẫn sẽ hiển thị ở đây: tên báo cáo, ngày, đoạn văn gốc và câu làm căn cứ được tô sáng.</p>"
    "</div>"
)


def row_table(quote: str | None) -> str:
    """A cited table row as a one-row table under its column headers, or "" for prose."""
    row = parse_row(quote or "")
    if row is None:
        return ""
    label, cells = row
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h, _ in cells)
    body = "".join(f"<td>{esc(v)}</td>" for _, v in cells)
    return (
        '<table class="hdyt-row-table"><caption>Dòng bảng được trích</caption>'
        f'<thead><tr><th scope="col"></th>{head}</tr></thead>'
        f'<tbody><tr><th scope="row">{esc(label)}</th>{body}</tr></tbody></table>'
    )


def _source_card(
    c: Any,
    turn: int,
    dates: Mapping[str, Sequence[str]],
    related_index: int | None = None,
    names: Mapping[str, str] | None = None,
    scanned: Collection[str] = (),
) -> str:
    doc_id = str(field(c, "doc_id") or "")
    title = field(c, "title") or doc_id
    doc_dates = list(dates.get(doc_id) or [])
    date = format_date(doc_dates[0]) if doc_dates else ""
    start, end = field(c, "start"), field(c, "end")
    if related_index is None:
        n = int(field(c, "n"))
        anchor = f"hdyt-src-{turn}-{n}"
        badge = f'<span class="hdyt-badge">{n}</span>'
        body = render_passage(field(c, "text") or "", field(c, "quote"), field(c, "quote_start"), field(c, "quote_end"), start)
        table = row_table(field(c, "quote"))
        cls = "hdyt-src"
    else:
        anchor = f"hdyt-rel-{turn}-{related_index}"
        badge = '<span class="hdyt-badge hdyt-badge-related">?</span>'
        body = render_passage(field(c, "text") or "")
        table = ""
        cls = "hdyt-src hdyt-related"
    meta = []
    if date:
        meta.append(f'<span class="hdyt-date" title="Ngày trong báo cáo">{ICON_CAL}{esc(date)}</span>')
    name = (names or {}).get(doc_id)
    if name:
        meta.append(f'<span class="hdyt-srcname" title="Tệp nguồn">{esc(name)}</span>')
    ocr = f'<div class="hdyt-ocr-note" role="note">{esc(OCR_NOTE)}</div>' if doc_id in scanned else ""
    # ids and offsets stay in data attributes (and the JSON), not in front of the reader
    offsets = f' data-start="{start}" data-end="{end}"' if isinstance(start, int) and isinstance(end, int) else ""
    href = doc_href(doc_id, start, end, field(c, "quote_start") if related_index is None else None,
                    field(c, "quote_end") if related_index is None else None)
    return (
        f'<article class="{cls}" id="{anchor}" data-doc="{esc(doc_id)}"{offsets}>'
        f'<div class="hdyt-src-head">{badge}<div class="hdyt-src-headtext">'
        f'<div class="hdyt-src-title">{esc(title)}</div>'
        f'<div class="hdyt-src-meta">{" · ".join(meta)}</div></div></div>'
        f"{ocr}"
        f'<blockquote class="hdyt-passage">{body}</blockquote>{table}'
        f'<a class="hdyt-src-open" href="{esc(href)}" target="_blank" rel="noopener">Xem toàn văn</a>'
        "</article>"
    )


def doc_href(doc_id: str, start: Any = None, end: Any = None, qs: Any = None, qe: Any = None) -> str:
    """The document view's link (:mod:`rag.web.documents`): passage ``start``–``end``, quote ``qs``–``qe``."""
    params = {k: v for k, v in {"start": start, "end": end, "qs": qs, "qe": qe}.items() if isinstance(v, int)}
    return f"/doc/{url_quote(doc_id, safe='')}" + (f"?{urlencode(params)}" if params else "")


_MACHINE_NAME = re.compile(r"(?:\d+_)?[0-9a-f]{12,}", re.I)  # e.g. 001_74a51137ac984768: an id, not a name


def source_names(sources: Mapping[str, str]) -> dict[str, str]:
    """doc_id → the file name shown on cards, from doc_id → stored source path (machine-made names left out)."""
    names = {d: PurePath(str(s).replace("\\", "/")) for d, s in sources.items() if s}
    return {d: p.name for d, p in names.items() if not _MACHINE_NAME.fullmatch(p.stem)}


def render_turn_sources(
    answer: Any,
    question: str,
    turn: int,
    dates: Mapping[str, Sequence[str]] | None = None,
    names: Mapping[str, str] | None = None,
    scanned: Collection[str] = (),
) -> str:
    """The sources of one answer: cited passage cards, or the related passages when none were cited.

    ``scanned``: ids of documents whose text came from OCR (their cards carry :data:`OCR_NOTE`)."""
    dates = dates or {}
    if field(answer, "backend") == SMALLTALK:
        return (
            f'<div class="hdyt-turn-q"><span class="hdyt-turn-q-label">Câu hỏi</span>{esc(question)}</div>'
            '<div class="hdyt-help"><p>Đây là lời chào hoặc câu hỏi về cách dùng: không cần tra cứu nguồn. '
            "Hãy đặt một câu hỏi về các báo cáo y tế.</p></div>"
        )
    citations = list(field(answer, "citations") or [])
    related = list(field(answer, "related") or [])
    parts = [f'<div class="hdyt-turn-q"><span class="hdyt-turn-q-label">Câu hỏi</span>{esc(question)}</div>']
    rewritten, restored = field(answer, "rewritten_query"), field(answer, "restored_query")
    if rewritten:
        parts.append(f'<div class="hdyt-rewritten">Tìm kiếm với câu hỏi viết lại: <em>{esc(rewritten)}</em></div>')
    if restored:
        parts.append(f'<div class="hdyt-rewritten">Tìm kiếm với câu hỏi đã thêm dấu: <em>{esc(restored)}</em></div>')
    if citations:
        parts.append(f'<div class="hdyt-section-label">Trích dẫn ({len(citations)})</div>')
        parts.extend(_source_card(c, turn, dates, names=names, scanned=scanned) for c in citations)
    if field(answer, "abstained") or not citations:
        parts.append(
            '<div class="hdyt-notfound hdyt-notfound-panel"><div class="hdyt-notfound-title">Không tìm thấy</div>'
            "<p>Không có đoạn văn nào trong thư viện trả lời được câu hỏi này.</p></div>"
        )
        if related:
            parts.append(
                '<div class="hdyt-section-label hdyt-section-related">Có thể liên quan '
                "<small>(không phải trích dẫn, chỉ để tham khảo)</small></div>"
            )
            parts.extend(_source_card(c, turn, dates, i, names, scanned) for i, c in enumerate(related, start=1))
    return "".join(parts)


def render_sources(
    turns: Sequence[Mapping[str, Any]],
    dates: Mapping[str, Sequence[str]] | None = None,
    names: Mapping[str, str] | None = None,
    scanned: Collection[str] = (),
) -> str:
    """The whole panel: the latest answer's sources open, earlier turns folded below.

    ``turns`` holds dicts ``{"turn", "question", "answer"}`` (answer = ``Answer`` or its JSON dict).
    """
    if not turns:
        return EMPTY_SOURCES_HTML
    *older, latest = turns
    parts = ['<div class="hdyt-sources">']
    parts.append(
        f'<section class="hdyt-turn hdyt-turn-latest" data-turn="{int(latest["turn"])}">'
        f"{render_turn_sources(latest['answer'], latest['question'], int(latest['turn']), dates, names, scanned)}</section>"
    )
    for t in reversed(older):
        n = int(t["turn"])
        parts.append(
            f'<details class="hdyt-turn hdyt-turn-old" data-turn="{n}"><summary>Lượt {n}: {esc(shorten(t["question"], 80))}</summary>'
            f"{render_turn_sources(t['answer'], t['question'], n, dates, names, scanned)}</details>"
        )
    parts.append("</div>")
    return "".join(parts)
