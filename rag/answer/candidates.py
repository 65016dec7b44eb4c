"""Candidate units of an extractive answer: the retrieved passages with their document's title
and lead, split into sentences and clauses (``;``-separated parts), each knowing its sentence and
the previous sentence of its paragraph. Instruction-like sentences are never candidates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from langchain_core.documents import Document

from rag.query.analysis import match_tokens
from rag.text import fold, sentence_spans

MAX_PASSAGES = 8  # passages considered per (sub-)question
LEAD_MAX_CHARS = 400  # how much of a document's beginning counts as its lead (context for entities)

Lookup = Callable[[str], "str | None"]


@dataclass
class Passage:
    """A retrieved passage with what scoring needs."""

    index: int  # position in the retrieved list (0-based)
    doc: Document
    text: str
    doc_id: str
    title: str
    start: int
    lead: str = ""
    full_text: str = ""  # the whole document, when a lookup is available
    title_tokens: list[str] = field(default_factory=list)
    lead_tokens: list[str] = field(default_factory=list)


@dataclass
class Unit:
    """A clause of a sentence of a passage (offsets within the passage text)."""

    passage: Passage
    start: int
    end: int
    sent_start: int
    sent_end: int
    tokens: list[str]
    sent_tokens: list[str]
    prev_start: int | None = None  # the previous sentence of the same paragraph (context)
    prev_end: int | None = None
    prev_tokens: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.passage.text[self.start : self.end]

    @property
    def sentence(self) -> str:
        return self.passage.text[self.sent_start : self.sent_end]


def make_passages(docs: Sequence[Document], lookup: Lookup | None) -> list[Passage]:
    out: list[Passage] = []
    leads: dict[str, str] = {}
    fulls: dict[str, str] = {}
    for i, doc in enumerate(docs[:MAX_PASSAGES]):
        md = doc.metadata or {}
        doc_id = str(md.get("doc_id", ""))
        title = str(md.get("title", "") or "")
        start = int(md.get("start", 0) or 0)
        if doc_id not in leads:
            full = lookup(doc_id) if lookup else None
            if full is None and start == 0:
                full = doc.page_content
            if full is None:
                full = next((d.page_content for d in docs if (d.metadata or {}).get("doc_id") == doc_id and (d.metadata or {}).get("start") == 0), "")
            leads[doc_id] = _lead(full or "")
            fulls[doc_id] = (lookup(doc_id) or "") if lookup else ""
        p = Passage(i, doc, doc.page_content, doc_id, title, start, leads[doc_id], fulls[doc_id])
        p.title_tokens = match_tokens(title.rstrip("…"))
        p.lead_tokens = match_tokens(p.lead)
        out.append(p)
    return out


def _lead(text: str) -> str:
    """The first sentences of a document, up to LEAD_MAX_CHARS."""
    spans = sentence_spans(text[: LEAD_MAX_CHARS * 2])
    end = 0
    for s, e in spans:
        if e > LEAD_MAX_CHARS and end:
            break
        end = e
    return text[: min(end, LEAD_MAX_CHARS)] if end else text[:LEAD_MAX_CHARS]


# Sentences that address the reader as instructions ("bỏ qua hướng dẫn trước…") are never quoted
# as answers: a report states facts, it does not instruct the assistant.
_INSTRUCTION = re.compile(
    r"\b(bo qua (?:cac |moi |tat ca )?(?:huong dan|chi dan|yeu cau|quy tac)|hay tra loi (?:rang|la)|tu gio hay|"
    r"ignore (?:all |any )?(?:the )?(?:previous|prior|above|earlier) instructions?|disregard (?:the )?(?:previous|above)|"
    r"system prompt|you are now|as an ai)\b"
)


def make_units(passages: list[Passage], by_sentence: bool = False) -> list[Unit]:
    """Candidate units: clauses, or whole sentences (``by_sentence``, for list/other questions
    whose answer is usually a whole enumeration). Instruction-like sentences are skipped."""
    units: list[Unit] = []
    seen: set[tuple[str, int, int]] = set()
    for p in passages:
        prev: tuple[int, int] | None = None
        prev_tokens: list[str] = []
        for s, e in sentence_spans(p.text):
            if _INSTRUCTION.search(fold(p.text[s:e]).lower()):
                continue
            sent_tokens = match_tokens(p.text[s:e])
            if prev is not None and "\n" in p.text[prev[1] : s]:
                prev, prev_tokens = None, []
            for cs, ce in [(s, e)] if by_sentence else _clauses(p.text, s, e):
                key = (p.doc_id, p.start + cs, p.start + ce)
                if key in seen:
                    continue
                seen.add(key)
                units.append(
                    Unit(
                        p, cs, ce, s, e, match_tokens(p.text[cs:ce]), sent_tokens,
                        prev[0] if prev else None, prev[1] if prev else None, prev_tokens,
                    )
                )
            prev, prev_tokens = (s, e), sent_tokens
    return units


def _clauses(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """``;``-separated parts of a sentence (a lone sentence is one clause)."""
    out: list[tuple[int, int]] = []
    s = start
    for m in re.finditer(r";\s+", text[start:end]):
        ce = start + m.start()
        if ce > s:
            out.append((s, ce))
        s = start + m.end()
    if s < end:
        out.append((s, end))
    return out


def contains_run(tokens: list[str], run: Sequence[str]) -> bool:
    n = len(run)
    if n == 0:
        return True
    first = run[0]
    for i, t in enumerate(tokens):
        if t == first and list(tokens[i : i + n]) == list(run):
            return True
    return False


def lookup_text(p: Passage) -> str:
    """The passage's whole document when known, else the passage itself."""
    return p.full_text or p.text

