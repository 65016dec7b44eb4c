"""HTML for answers and their sources: everything that came from a user or a document is escaped.

Two places show text:

* the Gradio ``Chatbot`` renders Markdown *and* HTML inside messages, so each message is one HTML
  block (``<div …>…</div>`` with no blank line, which Markdown passes through untouched) whose text
  is escaped with :func:`esc_md` (HTML escaping plus entities for Markdown's punctuation, so a
  ``*`` or ``[`` in a report is never read as syntax);
* the sources panel is a ``gr.HTML`` whose text is escaped with :func:`esc`.

``[n]`` markers become ``<a class="hdyt-cite">`` links to the passage card ``#hdyt-src-<turn>-<n>``
in the sources panel; the supporting quote is wrapped in ``<mark>`` *inside* the escaped passage
(the passage is cut at the quote's offsets and each piece escaped separately).

Functions accept the pydantic ``Answer``/``Citation`` objects or their ``to_json_dict()`` form.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "esc",
    "esc_md",
    "field",
    "shorten",
    "format_date",
    "highlight_span",
    "render_passage",
    "render_answer_text",
    "render_answer_message",
    "render_streaming_message",
    "render_pending_message",
    "render_user_message",
    "render_error_message",
    "provenance_note",
    "understood_query",
    "PROVISIONAL_NOTE",
    "STOPPED_NOTE",
    "STOPPED_REASON",
]

# Markdown punctuation turned into numeric entities so text is shown literally by the Chatbot.
_MD_ENTITIES = {
    "\\": "&#92;",
    "`": "&#96;",
    "*": "&#42;",
    "_": "&#95;",
    "[": "&#91;",
    "]": "&#93;",
    "#": "&#35;",
    "|": "&#124;",
    "~": "&#126;",
    "$": "&#36;",
    "!": "&#33;",
    "{": "&#123;",
    "}": "&#125;",
}
_MD_TABLE = str.maketrans({**_MD_ENTITIES, "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"})

# [1], [2, 3], [1][2] and **bold** spans in answer text
_TOKEN_RE = re.compile(r"\*\*(?P<bold>.+?)\*\*|\[(?P<refs>\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]", re.S)
_CITE_RE = re.compile(r"\[(?P<refs>\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")


def esc(text: object) -> str:
    """``html.escape`` (quotes included) of any value; ``None`` is the empty string."""
    return html.escape("" if text is None else str(text), quote=True)


def esc_md(text: object) -> str:
    """Escape for a Chatbot message: HTML and Markdown punctuation as entities (one pass); newlines → <br>."""
    return _newlines(("" if text is None else str(text)).translate(_MD_TABLE))


def _newlines(escaped: str) -> str:
    """Newlines as ``<br>`` so a message stays a single HTML block (no blank line ends it)."""
    escaped = escaped.replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(r"\n", "<br>", escaped.strip("\n"))


def field(obj: Any, name: str, default: Any = None) -> Any:
    """``obj.name`` of a pydantic object or ``obj[name]`` of its JSON dict."""
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def format_date(iso: str | None) -> str:
    """``2024-01-05`` → ``05/01/2024``; ``2023-10`` → ``10/2023``; anything else is returned as is."""
    if not iso:
        return ""
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?", iso)
    if m:
        return f"{m.group(3)}/{m.group(2)}/{m.group(1)}"
    m = re.fullmatch(r"(\d{4})-(\d{2})", iso)
    if m:
        return f"{m.group(2)}/{m.group(1)}"
    return iso


# -- quote highlighting -----------------------------------------------------------------------------


def highlight_span(
    text: str,
    quote: str | None,
    quote_start: int | None = None,
    quote_end: int | None = None,
    passage_start: int | None = None,
) -> tuple[int, int] | None:
    """Where ``quote`` lies in the passage ``text``, as passage offsets; ``None`` if it cannot be found.

    The quote offsets may be document offsets (the passage begins at ``passage_start``) or passage
    offsets; both are tried and checked against the text, then a whitespace-insensitive search.
    """
    if not text or not quote or not quote.strip():
        return None
    candidates: list[tuple[int, int]] = []
    if quote_start is not None and quote_end is not None:
        if passage_start is not None:
            candidates.append((quote_start - passage_start, quote_end - passage_start))
        candidates.append((quote_start, quote_end))
    for a, b in candidates:
        if 0 <= a < b <= len(text) and _same(text[a:b], quote):
            return a, b
    i = text.find(quote)
    if i >= 0:
        return i, i + len(quote)
    words = quote.split()
    if words:
        pattern = r"\s+".join(re.escape(w) for w in words)
        m = re.search(pattern, text) or re.search(pattern, text, re.I)
        if m:
            return m.start(), m.end()
    return None


def _same(a: str, b: str) -> bool:
    return a == b or " ".join(a.split()) == " ".join(b.split())


def render_passage(
    text: str,
    quote: str | None = None,
    quote_start: int | None = None,
    quote_end: int | None = None,
    passage_start: int | None = None,
) -> str:
    """The escaped passage with the supporting quote wrapped in ``<mark class="hdyt-quote">``."""
    text = text or ""
    span = highlight_span(text, quote, quote_start, quote_end, passage_start)
    if span is None:
        return _newlines(esc(text))
    a, b = span
    return _newlines(esc(text[:a]) + '<mark class="hdyt-quote">' + esc(text[a:b]) + "</mark>" + esc(text[b:]))


# -- answers (Chatbot messages) ---------------------------------------------------------------------


def _cite_link(n: int, turn: int, title: str | None) -> str:
    label = f"Nguồn [{n}]" + (f": {title}" if title else "")
    return (
        f'<a class="hdyt-cite" href="#hdyt-src-{turn}-{n}" data-turn="{turn}" data-n="{n}" '
        f'title="{esc(label)}">&#91;{n}&#93;</a>'
    )


def _render_refs(refs: str, turn: int, titles: Mapping[int, str]) -> str:
    numbers = [int(x) for x in re.split(r"\s*[,;]\s*", refs.strip())]
    if all(n in titles for n in numbers):
        return "".join(_cite_link(n, turn, titles[n]) for n in numbers)
    return esc_md(f"[{refs}]")  # a bracketed number that is not a citation stays literal text


def _render_inline(text: str, turn: int, titles: Mapping[int, str], allow_bold: bool = True) -> str:
    out: list[str] = []
    pos = 0
    pattern = _TOKEN_RE if allow_bold else _CITE_RE
    for m in pattern.finditer(text):
        out.append(esc_md(text[pos : m.start()]))
        bold = m.groupdict().get("bold")
        if bold is not None:
            out.append("<strong>" + _render_inline(bold, turn, titles, allow_bold=False) + "</strong>")
        else:
            out.append(_render_refs(m.group("refs"), turn, titles))
        pos = m.end()
    out.append(esc_md(text[pos:]))
    return "".join(out)


def render_answer_text(text: str, citations: Iterable[Any] = (), turn: int = 0) -> str:
    """Answer text → escaped HTML with ``**bold**`` as ``<strong>`` and cited ``[n]`` as links."""
    titles = _titles(citations)
    paragraphs = re.split(r"\n\s*\n", (text or "").strip())
    return "".join(f'<p class="hdyt-p">{_render_inline(p, turn, titles)}</p>' for p in paragraphs if p.strip())


def render_user_message(question: str) -> str:
    """The question as the user typed it, shown as text."""
    return f'<div class="hdyt-msg hdyt-user">{esc_md(question)}</div>'


def render_streaming_message(partial: str) -> str:
    """Text received so far (citations are linked once the answer is complete)."""
    return (
        f'<div class="hdyt-msg hdyt-bot hdyt-streaming">'
        f'<p class="hdyt-p">{esc_md(partial)}<span class="hdyt-caret"></span></p></div>'
    )


def render_pending_message() -> str:
    """Shown at once after Enter, until the answer arrives."""
    return (
        '<div class="hdyt-msg hdyt-bot hdyt-pending" role="status"><p class="hdyt-p">'
        'Đang tìm trong các báo cáo…<span class="hdyt-caret"></span></p></div>'
    )


def render_error_message(message: str) -> str:
    return f'<div class="hdyt-msg hdyt-bot hdyt-error"><p class="hdyt-p">{esc_md(message)}</p></div>'


SMALLTALK = "smalltalk"  # Answer.backend of a greeting or help reply (rag.answer.smalltalk)

# who wrote the answer shown, and why the configured LLM's answer is not it (Answer.fallback_reason)
PROVISIONAL_NOTE = (
    '<div class="hdyt-provenance hdyt-provisional" role="status">'
    "Trả lời trích xuất · đang chờ LLM viết và kiểm chứng…</div>"
)
STOPPED_REASON = "stopped by the user"  # the page's own fallback_reason when "Dừng" ends the wait for the LLM
_LLM_NOTE = '<div class="hdyt-provenance hdyt-by-llm">Trả lời do LLM viết, đã đối chiếu với nguồn trích dẫn.</div>'
_FALLBACK_WHY = (  # (what fallback_reason starts with or contains, the reason shown), first match wins
    ("rejected", "câu trả lời của LLM không khớp với nguồn"),
    ("says nothing", "câu trả lời của LLM không khớp với nguồn"),
    ("found no answer", "LLM không tìm thấy câu trả lời"),
    ("timed out", "LLM không phản hồi kịp"),
    ("no passages", "không có đoạn văn nào để LLM đọc"),
    (STOPPED_REASON, "đã dừng chờ LLM"),
)


def provenance_note(answer: Any) -> str:
    """A small note saying who wrote the answer: the extractive answer while the LLM's is awaited
    (``provisional``), the verified LLM answer, or the extractive one with why the LLM's is not shown;
    nothing when no LLM is configured. The technical reason stays in the tooltip (escaped)."""
    if field(answer, "provisional"):
        return PROVISIONAL_NOTE
    if field(answer, "backend") == "llm":
        return _LLM_NOTE
    reason = field(answer, "fallback_reason")
    if not reason:
        return ""
    why = next((text for key, text in _FALLBACK_WHY if key in reason), "LLM không phản hồi")
    return f'<div class="hdyt-provenance hdyt-fallback" title="{esc(reason)}">Trả lời trích xuất — {esc(why)}.</div>'


STOPPED_NOTE = provenance_note({"fallback_reason": STOPPED_REASON})


def understood_query(answer: Any) -> str | None:
    """The question as the assistant searched it, when that differs from what was typed: an accent-less
    question with its accents restored (``restored_query``, itself made from a rewrite when there was
    one), else a follow-up rewritten to stand alone (``rewritten_query``)."""
    return field(answer, "restored_query") or field(answer, "rewritten_query") or None
NOT_FOUND_TEXT = "Không tìm thấy thông tin trả lời câu hỏi này trong các báo cáo hiện có."


def render_answer_message(answer: Any, turn: int, dates: Mapping[str, Sequence[str]] | None = None) -> str:
    """A complete answer for the Chatbot: rewritten query, text with links, source chips (``dates`` tell apart
    chips of documents with the same title)."""
    citations = list(field(answer, "citations") or [])
    related = list(field(answer, "related") or [])
    abstained = bool(field(answer, "abstained"))
    # the turn also as a class: the Chatbot's sanitiser drops data-* attributes on a <div>
    parts: list[str] = [f'<div class="hdyt-msg hdyt-bot hdyt-answer hdyt-turn-{turn}" data-turn="{turn}">']
    understood = understood_query(answer)
    if understood:
        parts.append(f'<div class="hdyt-rewritten">Đã hiểu câu hỏi là: <em>{esc_md(understood)}</em></div>')
    text = field(answer, "answer") or ""
    answer_parts = list(field(answer, "parts") or [])
    if answer_parts and field(answer, "backend") != "llm":  # an LLM answer is its own text, not the parts'
        parts.append(render_parts(answer_parts, citations, turn))
    elif field(answer, "backend") == SMALLTALK:
        parts.append(f'<div class="hdyt-help">{render_answer_text(text, (), turn)}</div>')
    elif abstained:
        parts.append(
            '<div class="hdyt-notfound"><div class="hdyt-notfound-title">Không tìm thấy</div>'
            f"{render_answer_text(text or NOT_FOUND_TEXT, citations, turn)}</div>"
        )
    else:
        parts.append(render_answer_text(text, citations, turn))
    if citations:
        chips = "".join(
            f'<a class="hdyt-cite hdyt-chip" href="#hdyt-src-{turn}-{int(field(c, "n"))}" data-turn="{turn}" '
            f'data-n="{int(field(c, "n"))}" title="{esc(field(c, "title") or "")}"><span class="hdyt-chip-n">{int(field(c, "n"))}</span>'
            f"{esc_md(label)}</a>"
            for c, label in zip(citations, chip_labels(citations, dates))
        )
        parts.append(f'<div class="hdyt-chips"><span class="hdyt-chips-label">Nguồn:</span>{chips}</div>')
    if related and not citations:
        chips = "".join(
            f'<a class="hdyt-rel-link hdyt-chip hdyt-chip-related" href="#hdyt-rel-{turn}-{i}" '
            f'data-turn="{turn}" data-rel="{i}" title="{esc(field(c, "title") or "")}">{esc_md(label)}</a>'
            for i, (c, label) in enumerate(zip(related, chip_labels(related, dates)), start=1)
        )
        parts.append(
            '<div class="hdyt-chips hdyt-chips-related"><span class="hdyt-chips-label">'
            f"Có thể liên quan (không phải trích dẫn):</span>{chips}</div>"
        )
    parts.append(provenance_note(answer))
    latency = field(answer, "latency_ms")
    if isinstance(latency, (int, float)):
        parts.append(f'<div class="hdyt-meta-row"><span class="hdyt-latency">{latency / 1000:.1f} giây</span></div>')
    parts.append("</div>")
    return "".join(parts)


PART_NOT_FOUND = "không tìm thấy"
COMPUTED_BADGE = "đã tính"


def render_parts(answer_parts: Sequence[Any], citations: Iterable[Any] = (), turn: int = 0) -> str:
    """The parts of a compound question or a computed comparison, each its own small block: the
    part's question, its answer (or "không tìm thấy") with its ``[n]`` links, and for a computed
    part its arithmetic marked "đã tính". Everything escaped."""
    citations = list(citations)
    blocks = []
    for part in sorted(answer_parts, key=lambda q: not field(q, "computed")):  # the computed result first, as in the text
        question = str(field(part, "question") or "")
        text = str(field(part, "answer") or "").strip()
        computed = field(part, "computed")
        abstained = bool(field(part, "abstained"))
        kind = " hdyt-part-computed" if computed else " hdyt-part-notfound" if abstained else ""
        lines = [re.sub(r"^-\s+", "", line) for line in text.splitlines() if line.strip()]
        if field(part, "not_found"):
            body = f'<p class="hdyt-p hdyt-part-a hdyt-part-none">{esc(PART_NOT_FOUND)}</p>'
        else:
            # .hdyt-p: the page's "copy answer" gathers these paragraphs
            body = "".join(f'<p class="hdyt-p hdyt-part-a">{_render_inline(line, turn, _titles(citations))}</p>' for line in lines)
        badge = (
            f'<div class="hdyt-part-arith"><span class="hdyt-part-badge">{esc(COMPUTED_BADGE)}</span>'
            f'<code class="hdyt-part-expr">{esc(computed)}</code></div>'
            if computed
            else ""
        )
        blocks.append(f'<div class="hdyt-part{kind}"><div class="hdyt-part-q">{esc_md(question)}</div>{body}{badge}</div>')
    return '<div class="hdyt-parts">' + "".join(blocks) + "</div>"


def _titles(citations: Iterable[Any]) -> dict[int, str]:
    return {int(field(c, "n")): str(field(c, "title") or "") for c in citations}


def chip_labels(items: Sequence[Any], dates: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """Short titles for source chips; titles that read the same once shortened get the date, then the quote's start."""
    dates = dates or {}
    labels = [shorten(field(c, "title") or field(c, "doc_id") or "", 48) for c in items]
    for extra in (
        lambda c: format_date((list(dates.get(str(field(c, "doc_id"))) or [""]))[0]),
        lambda c: "“" + shorten(field(c, "quote") or field(c, "text") or "", 28) + "”",
    ):
        dup = {x for x in labels if labels.count(x) > 1}
        labels = [f"{lab} · {extra(c)}" if lab in dup and extra(c) else lab for lab, c in zip(labels, items)]
    return labels


def shorten(title: str, limit: int = 60) -> str:
    """One line of at most ``limit`` characters, an ellipsis where it was cut."""
    title = " ".join(str(title).split())
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"
