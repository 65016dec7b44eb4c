"""Figures derived from a stated change: "… năm 2022 là bao nhiêu, suy ra từ mức tăng".

A report says "năm 2023 đã khám 9.864.215 lượt người, tăng 8,7% so với năm 2022"; a question asks
for the 2022 figure. :func:`answer_previous` finds the sentence that states the current figure and
its change (:func:`rag.answer.compute.stated_changes`), checks that the change's baseline is the
period asked and that the figure is of the asked measure, and shows the arithmetic with both
operands quoted and cited: "9.864.215 × 100 : (100 + 8,7) = **9.074.715** lượt người [1]". The
line is marked as computed (``PartAnswer.computed``) so the verifier and the faithfulness metric
check it like any other computed number.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from langchain_core.documents import Document

from rag.answer import compute
from rag.answer.candidates import MAX_PASSAGES, Lookup, Unit
from rag.answer.extractive import best_fact
from rag.answer.rendering import QUOTE_MAX_CHARS, Fact, render_fact
from rag.answer.typed_spans import Span, find_spans
from rag.answer.parts import Citations, ComposedAnswer, PartAnswer
from rag.answer.scoring import Scorer
from rag.text import fold

CANDIDATES = 4  # the best-scored sentences searched for a stated change (the one answered first)
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")


def answer_previous(
    question: str, search: Callable[[str], list[Document]], lookup: Lookup | None, scorer: Scorer | None
) -> ComposedAnswer | None:
    """The earlier period's figure computed from a cited figure and its stated change; a declined
    answer saying why (units disagree, another baseline); None when the question asks no such thing
    or no sentence states a change of the asked figure (answered as an ordinary question)."""
    if not compute.asks_previous(question):
        return None
    level = compute.previous_level(question)
    docs = _merge(search(level), search(question))
    units: list[tuple[Unit, float]] = []
    for asked in (level, question):  # the current figure's sentence; the question as asked names the baseline
        fact, scored = best_fact(asked, docs, lookup, scorer=scorer)
        units += [(fact.unit, fact.confidence)] if fact is not None else []
        units += [(s.unit, s.confidence or s.score) for s in scored if s.rejected is None][:CANDIDATES]
    asked_years = frozenset(_YEAR.findall(question))
    declined = ""
    for unit, confidence in units:
        found = _figure_and_change(unit, level, asked_years)
        if found is None:
            continue
        span, change = found
        op = compute.operand(span.text, span.unit, unit.sentence, unit.passage.title)
        if op is None:
            continue
        unit_text = "%" if op.unit == "%" else compute.unit_after(span.text, op.written)
        result = compute.previous(op, change, unit_text)
        if not result.ok:
            declined = declined or result.reason
            continue
        return _answer(question, level, unit, span, change, result, confidence)
    if declined:
        return ComposedAnswer(f"Không tính: {declined}.", True, [], [], [declined], 0.0)
    return None


def _figure_and_change(unit: Unit, level: str, asked_years: frozenset[str]) -> tuple[Span, compute.StatedChange] | None:
    """The sentence's figure of the asked measure with the change stated right after it (same
    clause) against the asked baseline period, or None."""
    text, start = unit.passage.text, unit.sent_start
    spans = [sp for sp in find_spans("quantity", text, unit.sent_start, unit.sent_end) if not sp.change and not re.fullmatch(r"(?:19|20)\d{2}", sp.text)]
    asked = " " + fold(level).lower() + " "
    for change in compute.stated_changes(unit.sentence):
        if asked_years and change.baseline and not asked_years & change.baseline:
            continue  # "so với năm 2021" when 2022 was asked
        before = [sp for sp in spans if sp.end <= start + change.start and ";" not in text[sp.end : start + change.start]]
        if not before:
            continue
        span = before[-1]
        words = (fold(span.unit).lower().split() or [""])[:1]
        is_rate = "%" in span.text
        if is_rate and not re.search(r" (ty le|ti le|cong suat|phan tram|bao phu) ", asked):
            continue  # a rate for a count question
        if not is_rate and words[0] and f" {words[0]} " not in asked and re.search(r" (ty le|ti le) ", asked):
            continue  # a count for a rate question
        return span, change
    return None


def _answer(
    question: str, level: str, unit: Unit, span: Span, change: compute.StatedChange, result: compute.Result, confidence: float
) -> ComposedAnswer:
    fact = Fact(unit, span, [_quote(unit, span)], confidence, 1.0, confidence, True)
    citer = Citations()
    numbers = citer.cite(fact)
    operand = PartAnswer(level, render_fact(fact, numbers), False, numbers)
    period = f" ({change.period})" if change.period else ""
    head = f"Suy ra từ số liệu trích dẫn{period}: {result.line} {''.join(f'[{n}]' for n in numbers)}"
    computed = PartAnswer(question, head, False, numbers, result.computed)
    text = "\n".join(f"- {line}" for line in (head, operand.text))
    return ComposedAnswer(text, False, citer.refs, [], [], confidence, parts=[operand, computed])


def _quote(unit: Unit, span: Span) -> tuple[int, int]:
    """The sentence, or for a long one the words from a little before the figure (cut at spaces)."""
    a, b = unit.sent_start, unit.sent_end
    if b - a <= QUOTE_MAX_CHARS:
        return a, b
    text = unit.passage.text
    a = max(a, span.start - QUOTE_MAX_CHARS // 4)
    while a > unit.sent_start and not text[a - 1].isspace():
        a += 1
    b = min(b, a + QUOTE_MAX_CHARS)
    while b > span.end and b < unit.sent_end and not text[b].isspace():
        b -= 1
    return a, b


def _merge(first: Sequence[Document], second: Sequence[Document]) -> list[Document]:
    """``first`` then the passages of ``second`` it lacks, at most MAX_PASSAGES."""
    def key(d: Document) -> tuple[str, object]:
        return (str((d.metadata or {}).get("doc_id")), (d.metadata or {}).get("start"))

    seen = {key(d) for d in first}
    return (list(first) + [d for d in second if key(d) not in seen])[:MAX_PASSAGES]


__all__ = ["CANDIDATES", "answer_previous"]
