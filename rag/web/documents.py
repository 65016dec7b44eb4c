"""The document view: ``GET /doc/{doc_id}`` shows a report's whole normalised text, escaped.

``?start=&end=`` mark the cited passage and ``?qs=&qe=`` the supporting quote (document offsets,
as in the JSON citations); the page opens scrolled to the quote. "Xem toàn văn" on a source card
links here. The page is self-contained (inline CSS, no script from elsewhere) and follows the
light or dark colour scheme like the chat page (``?__theme=dark`` or the OS preference).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from rag.web.render import esc, format_date
from rag.web.sources import source_names

__all__ = ["documents_router", "render_document"]


def _clip(a: int | None, b: int | None, n: int) -> tuple[int, int] | None:
    if a is None or b is None:
        return None
    a, b = max(0, min(a, n)), max(0, min(b, n))
    return (a, b) if a < b else None


def _marked(text: str, passage: tuple[int, int] | None, quote: tuple[int, int] | None) -> str:
    """The escaped text with ``<span class=passage>`` and ``<mark>`` at the given offsets (quote inside passage)."""
    cuts: list[tuple[int, int, str]] = []  # (offset, order, tag): closing tags sort before opening ones
    if passage:
        cuts += [(passage[0], 1, '<span class="passage" id="passage">'), (passage[1], 0, "</span>")]
    if quote:
        if passage and not (passage[0] <= quote[0] and quote[1] <= passage[1]):
            quote = None  # a quote outside its passage would break the nesting: show the passage only
        else:
            cuts += [(quote[0], 2, '<mark class="quote" id="quote">'), (quote[1], -1, "</mark>")]
    out, pos = [], 0
    for offset, _, tag in sorted(cuts):
        out.append(esc(text[pos:offset]))
        out.append(tag)
        pos = offset
    out.append(esc(text[pos:]))
    return "".join(out)


_PAGE = """<!doctype html><html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} · Hỏi Đáp Y Tế</title>
<style>
:root{{--text:#1f2937;--muted:#475569;--bg:#fff;--soft:#f1f5f9;--line:#cbd5e1;--accent:#115e59;--pass:#e0f2f1;--mark:#fde047;--mark-text:#1c1917}}
@media (prefers-color-scheme: dark){{:root:not(.light){{--text:#e5e7eb;--muted:#cbd5e1;--bg:#111827;--soft:#1f2937;--line:#475569;--accent:#5eead4;--pass:#134e4a}}}}
:root.dark{{--text:#e5e7eb;--muted:#cbd5e1;--bg:#111827;--soft:#1f2937;--line:#475569;--accent:#5eead4;--pass:#134e4a}}
body{{margin:0;background:var(--bg);color:var(--text);font:16px/1.7 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif}}
header{{position:sticky;top:0;background:var(--soft);border-bottom:1px solid var(--line);padding:10px 18px}}
h1{{font-size:1.15rem;margin:0;line-height:1.35}} .meta{{color:var(--muted);font-size:.88rem}}
a{{color:var(--accent);font-weight:600}} a:focus-visible{{outline:3px solid #1d4ed8;outline-offset:2px}}
main{{max-width:860px;margin:0 auto;padding:18px}} .text{{white-space:pre-wrap;overflow-wrap:anywhere}}
.passage{{background:var(--pass);border-radius:4px}} mark.quote{{background:var(--mark);color:var(--mark-text);border-radius:3px;padding:1px 2px}}
#quote,#passage{{scroll-margin:35vh}}
</style>
<script>var t=new URLSearchParams(location.search).get("__theme");if(t==="dark"||t==="light")document.documentElement.classList.add(t);
addEventListener("DOMContentLoaded",function(){{var el=document.getElementById("quote")||document.getElementById("passage");if(el)el.scrollIntoView({{block:"center"}});}});</script>
</head><body><header><h1>{title}</h1><div class="meta">{meta}</div>
<div class="meta"><a href="/">← Quay lại hỏi đáp</a></div></header>
<main><div class="text">{body}</div></main></body></html>"""


def render_document(record, start: int | None = None, end: int | None = None, qs: int | None = None, qe: int | None = None) -> str:
    """The whole page for one stored document (``DocumentRecord``)."""
    text = record.text or ""
    meta = [format_date(d) for d in list(record.dates)[:1]] + [source_names({record.doc_id: record.source}).get(record.doc_id, "")]
    body = _marked(text, _clip(start, end, len(text)), _clip(qs, qe, len(text)))
    return _PAGE.format(title=esc(record.title or record.doc_id), meta=" · ".join(esc(m) for m in meta if m), body=body)


_NOT_FOUND = """<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Không tìm thấy tài liệu</title></head>
<body style="font-family:system-ui,sans-serif;max-width:680px;margin:3rem auto;padding:0 1rem">
<h1>Không tìm thấy tài liệu</h1><p>Tài liệu <code>{doc_id}</code> không có trong thư viện (có thể đã bị xoá).</p>
<p><a href="/">← Quay lại hỏi đáp</a></p></body></html>"""


def documents_router(assistant) -> APIRouter:
    """``GET /doc/{doc_id}`` over the live index."""
    router = APIRouter()

    @router.get("/doc/{doc_id}", include_in_schema=False)
    def document(
        doc_id: str, start: int | None = None, end: int | None = None, qs: int | None = None, qe: int | None = None
    ) -> HTMLResponse:
        record = assistant.store.document(doc_id)
        if record is None:
            return HTMLResponse(_NOT_FOUND.format(doc_id=esc(doc_id)), status_code=404)
        return HTMLResponse(render_document(record, start, end, qs, qe))

    return router
