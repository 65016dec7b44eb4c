"""The answer text of a fact: which quote to cite (the sentence, or the clauses around the span
for long sentences), whether to bold the span as the answer (only when it is the asked-for thing),
and the line with its ``[n]`` citations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from langchain_core.documents import Document

from rag.answer.candidates import Unit
from rag.answer.checks import span_ok, unit_satisfies
from rag.answer.compute import asks_change
from rag.answer.features import Scored
from rag.answer.typed_spans import Span, question_role
from rag.query.analysis import QuestionType, canon, words

QUOTE_MAX_CHARS = 420  # longer sentences are quoted by the clauses around the answer
RELATED_MAX = 3


@dataclass
class Fact:
    """One answered (sub-)question: the unit, the span (None for untyped answers) and its quotes.

    ``quotes`` are passage-offset ranges, in reading order; usually one, two when the span sits in
    the previous sentence and both sentences do not fit one quote.
    """

    unit: Unit
    span: Span | None
    quotes: list[tuple[int, int]]
    score: float
    coverage: float
    confidence: float = 0.0  # P(the answer is right), the scorer's answer model
    lead: bool = True  # the span is bolded as the answer; False: the quote alone (the span is doubtful)


@dataclass
class QuoteRef:
    """A citation before numbering: a passage and a quote inside it (passage offsets)."""

    doc: Document
    quote_start: int
    quote_end: int


@dataclass
class ExtractiveAnswer:
    text: str
    abstained: bool
    citations: list[QuoteRef]
    related: list[QuoteRef]
    reasons: list[str]
    confidence: float = 0.0  # the least sure part's P(right); for an abstention, the best P seen


def _quote_bounds(text: str, s: int, e: int, focus: tuple[int, int]) -> tuple[int, int]:
    """The sentence ``text[s:e]`` when short; else the clauses (then comma pieces) around ``focus``."""
    if e - s <= QUOTE_MAX_CHARS:
        return s, e
    for separators in (r";\s+", r"[;,:]\s+"):
        cuts = [s] + [s + m.end() for m in re.finditer(separators, text[s:e])] + [e]
        lo = max(i for i in range(len(cuts) - 1) if cuts[i] <= focus[0])
        hi = min(i for i in range(1, len(cuts)) if cuts[i] >= focus[1])
        if cuts[hi] - cuts[lo] > QUOTE_MAX_CHARS:
            continue  # the focus alone is too long for whole clauses: try comma pieces
        # grow backwards first (the subject usually comes before), then forwards
        while True:
            if lo > 0 and cuts[hi] - cuts[lo - 1] <= QUOTE_MAX_CHARS:
                lo -= 1
            elif hi < len(cuts) - 1 and cuts[hi + 1] - cuts[lo] <= QUOTE_MAX_CHARS:
                hi += 1
            else:
                break
        qs, qe = cuts[lo], cuts[hi]
        while qe > qs and text[qe - 1] in " ,;:":
            qe -= 1
        return qs, qe
    return focus


def _focus(scored: Scored, qt: QuestionType) -> tuple[int, int]:
    if scored.span is not None and not scored.span_in_prev:
        return scored.span.start, scored.span.end
    u = scored.unit
    if u.end - u.start <= QUOTE_MAX_CHARS:
        return u.start, u.end  # the whole clause (a list answer must not lose its tail)
    hits = [(s + u.start, e + u.start) for t, s, e in words(u.text) if canon(t) in qt.keywords_folded]
    if not hits:
        return u.start, u.start + QUOTE_MAX_CHARS
    return hits[0][0], min(hits[-1][1], hits[0][0] + QUOTE_MAX_CHARS)


def fact_from(scored: Scored, qt: QuestionType) -> Fact:
    u = scored.unit
    text = u.passage.text
    qs, qe = _quote_bounds(text, u.sent_start, u.sent_end, _focus(scored, qt))
    span = scored.span
    if span is not None and scored.span_in_prev and u.prev_start is not None:
        ps, pe = _quote_bounds(text, u.prev_start, u.prev_end or u.prev_start, (span.start, span.end))
        if qe - ps <= QUOTE_MAX_CHARS * 1.5:
            return Fact(u, span, [(ps, qe)], scored.score, scored.coverage)
        return Fact(u, span, [(ps, pe), (qs, qe)], scored.score, scored.coverage)
    if span is not None:
        qs, qe = min(qs, span.start), max(qe, span.end)
    return Fact(u, span, [(qs, qe)], scored.score, scored.coverage)


def render_fact(fact: Fact, numbers: list[int]) -> str:
    """The answer line of a fact: the bold span (when sure) and its quotes, each with its ``[n]``."""
    text = fact.unit.passage.text
    quotes = " … ".join(f"“{text[a:b].replace(chr(10), ' ')}” [{n}]" for (a, b), n in zip(fact.quotes, numbers))
    if fact.span is not None and fact.lead:
        return f"**{fact.span.text}** — {quotes}"
    return quotes


LEAD_DOUBT = -0.15  # span_ok preferences below this are doubts (a % for a count −0.6, a change −0.4, brackets −0.35,
# a rate −0.3, a bare year −0.2); a figure followed by "so với" (−0.1) is only a ranking hint


def sure_lead(scored: Scored, qt: QuestionType, question: str) -> bool:
    """Bold the span only when it is the asked-for thing: found in the unit itself, with no doubt
    about its measure, unit or role (a preference from :func:`span_ok` under ``LEAD_DOUBT``: a percentage
    for a count, a change, a rate, a figure in brackets; its distance to the keywords is no doubt), and
    for a quantity question that names a measure, a span whose unit is that measure ("bao nhiêu trẻ"
    is not answered in bold by "dưới 1 tuổi"); for a change asked ("tăng bao nhiêu phần trăm",
    "vượt bao nhiêu"), a stated change, never the level."""
    span = scored.span
    if span is None or scored.span_in_prev:
        return False
    q_role = question_role(question) or (question_role(" ".join(qt.keywords_folded)) if qt.english else None)
    acceptable, preference = span_ok(qt, question, span, scored.unit, q_role)
    if not acceptable or preference < LEAD_DOUBT:
        return False
    if span.kind == "quantity" and not span.change and asks_change(question):
        return False  # "tăng bao nhiêu": the level it changes is no answer to bold
    if span.kind == "quantity" and qt.units and qt.measure != "ordinal":
        return unit_satisfies(span.unit, span.before, qt.units) and bool(span.unit)
    return True


def quote_around(text: str, start: int, end: int, span: Span) -> tuple[int, int]:
    """The sentence ``text[start:end]``, or for a long one the words around the span (cut at spaces)."""
    if end - start <= QUOTE_MAX_CHARS:
        return start, end
    half = (QUOTE_MAX_CHARS - (span.end - span.start)) // 2
    a, b = max(start, span.start - half), min(end, span.end + half)
    while a > start and not text[a - 1].isspace():
        a += 1
    while b < end and not text[b].isspace():
        b -= 1
    return a, max(b, span.end)
