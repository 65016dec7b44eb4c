"""A surplus over plan: "… vượt kế hoạch bao nhiêu ca?".

A report states the surplus itself, often in per cent of the plan ("vượt 12% kế hoạch") when the
question asks it in the count's unit, or in that unit ("vượt kế hoạch 600 ca"); or it states the
result and the plan as two counts ("thực hiện 5.600 ca, kế hoạch giao 5.000 ca"). :func:`answer`
answers with the stated surplus in bold (said to be a per cent of the plan when a count was
asked), else computes result − plan from the one sentence, cited and marked as computed
("5.600 − 5.000 = **600** ca [1]"); None when no top sentence states either (answered as an
ordinary question). Pure over the passages given: no retrieval here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from langchain_core.documents import Document

from rag.answer import compute, operands
from rag.answer.candidates import MAX_PASSAGES, Lookup, Unit
from rag.answer.extractive import best_fact
from rag.answer.parts import Citations, ComposedAnswer, PartAnswer
from rag.answer.rendering import Fact, quote_around, render_fact
from rag.answer.scoring import Scorer, default_scorer
from rag.answer.typed_spans import Span, find_spans
from rag.lang import alternation, load_lexicon
from rag.query.analysis import extract_entities
from rag.text import fold

CANDIDATES = 4  # the best-scored open sentences searched after the answer's own

_LEX = load_lexicon()
_EXCEED = rf"(?<![\w])(?:{alternation(_LEX.cues['change_exceed'])})(?![\w])"
_ASKED = re.compile(rf"{_EXCEED}(?:\s+\w+){{0,3}}?\s+(?:{alternation(_LEX.cues['compute_how_much'])})(?![\w])")
_PLAN = re.compile(rf"(?<![\w])(?:{alternation(_LEX.cues['plan_words'])})(?![\w])")
_CLAUSE = re.compile(r"[,;:(]")
PERCENT_NOTE = "(mức vượt tính bằng phần trăm so với kế hoạch)"


def asks_excess(question: str) -> bool:
    """"vượt kế hoạch bao nhiêu", "vượt bao nhiêu phần trăm": a surplus is asked."""
    return bool(_ASKED.search(fold(question).lower()))


def answer(question: str, docs: Sequence[Document], lookup: Lookup | None, scorer: Scorer | None) -> ComposedAnswer | None:
    """The stated or computed surplus over plan (see the module), or None."""
    if not asks_excess(question):
        return None
    scorer = scorer or default_scorer()
    want = operands.asked_unit(question)
    fact, scored = best_fact(question, docs[:MAX_PASSAGES], lookup, scorer=scorer)
    named = [e for e in extract_entities(question) if e.kind in ("facility", "place", "name")]
    units = [(fact.unit, fact.confidence)] if fact is not None else []
    units += [(s.unit, s.confidence or s.score) for s in scored if s.rejected is None][:CANDIDATES]
    for unit, confidence in units:
        if confidence < scorer.threshold and not operands.names_subject(unit, named):
            continue
        spans = find_spans("quantity", unit.passage.text, unit.sent_start, unit.sent_end)
        stated = next((sp for sp in spans if _is_surplus(unit, sp, want)), None)
        if stated is not None:
            return _stated(unit, stated, confidence, percent_for_count=bool(want) and want != "%" and stated.text.endswith("%"))
        result_span, plan_span = _result_and_plan(unit, spans, want)
        if result_span is not None and plan_span is not None:
            return _computed(question, unit, result_span, plan_span, confidence)
    return None


def _clause_before(unit: Unit, span: Span) -> str:
    """The folded words of the span's clause before it (from the last , ; : or "(")."""
    head = unit.passage.text[unit.sent_start : span.start]
    cut = max((m.end() for m in _CLAUSE.finditer(head)), default=0)
    return fold(head[cut:]).lower()


def _is_surplus(unit: Unit, span: Span, want: str) -> bool:
    """A surplus the sentence states: "vượt 12%" (any unit), "vượt kế hoạch 600 ca" (the asked unit)."""
    if span.change:
        return fold(span.text).lower().split()[0] in _LEX.cues["change_exceed"]
    op = compute.operand(span.text, span.unit, "")
    return op is not None and (not want or op.unit == want) and bool(re.search(_EXCEED, _clause_before(unit, span)))


def _result_and_plan(unit: Unit, spans: list[Span], want: str) -> tuple[Span | None, Span | None]:
    """A count of the asked unit the sentence achieved, and the plan's count after it ("kế hoạch
    giao 5.000 ca"), both in one unit; (None, None) when it states no such pair."""
    counts = [(sp, op) for sp in spans if not sp.change and (op := compute.operand(sp.text, sp.unit, "")) is not None]
    counts = [(sp, op) for sp, op in counts if op.unit != "%" and (not want or op.unit == want)]
    plan = next(((sp, op) for sp, op in counts if _PLAN.search(_clause_before(unit, sp))), None)
    if plan is None:
        return None, None
    done = [(sp, op) for sp, op in counts if sp.end <= plan[0].start and op.unit == plan[1].unit and not _PLAN.search(_clause_before(unit, sp))]
    return (done[-1][0], plan[0]) if done else (None, None)


def _stated(unit: Unit, span: Span, confidence: float, percent_for_count: bool) -> ComposedAnswer:
    """The stated surplus in bold, its sentence cited; a per cent asked as a count is said to be one."""
    fact = Fact(unit, span, [quote_around(unit.passage.text, unit.sent_start, unit.sent_end, span)], confidence, 1.0, confidence, True)
    citer = Citations()
    line = render_fact(fact, citer.cite(fact))
    if percent_for_count:
        line = line.replace("** — ", f"** {PERCENT_NOTE} — ", 1)
    return ComposedAnswer(line, False, citer.refs, [], [], confidence)


def _computed(question: str, unit: Unit, result_span: Span, plan_span: Span, confidence: float) -> ComposedAnswer:
    """"- Tính từ số liệu trích dẫn (kết quả và kế hoạch): 5.600 − 5.000 = **600** ca [1]" and the sentence."""
    a = compute.operand(result_span.text, result_span.unit, "")
    b = compute.operand(plan_span.text, plan_span.unit, "")
    assert a is not None and b is not None  # checked by _result_and_plan
    result = compute.combine("difference", a, b, compute.unit_after(result_span.text, a.written), across_periods=True)
    quote = (min(plan_span.start, result_span.start), max(plan_span.end, result_span.end))
    qs, qe = quote_around(unit.passage.text, unit.sent_start, unit.sent_end, result_span)
    fact = Fact(unit, result_span, [(min(qs, quote[0]), max(qe, quote[1]))], confidence, 1.0, confidence, False)
    citer = Citations()
    numbers = citer.cite(fact)
    head = f"Tính từ số liệu trích dẫn (kết quả và kế hoạch): {result.line} {''.join(f'[{n}]' for n in numbers)}"
    shown = PartAnswer(question, render_fact(fact, numbers), False, numbers)
    computed = PartAnswer(question, head, False, numbers, result.computed)
    return ComposedAnswer(f"- {head}\n- {shown.text}", False, citer.refs, [], [], confidence, parts=[shown, computed])


__all__ = ["CANDIDATES", "PERCENT_NOTE", "answer", "asks_excess"]
