"""Both figures of a change in one sentence: "tăng từ 212.480 lượt năm 2023 lên 250.000 lượt năm 2024".

Reports often state a figure and its earlier value together: "đạt 250.000 lượt (cùng kỳ năm 2023:
212.480 lượt)", "năm 2024 là 250.000 lượt, năm 2023 là 212.480 lượt", or a table row written as
a sentence ("Số lượt khám — Năm 2023: 212.480; Năm 2024: 250.000"). For a change, difference or
ratio between two periods ("tăng bao nhiêu so với năm 2023", "năm 2024 cao hơn năm 2023 bao
nhiêu", "gấp mấy lần"), :func:`dated_figures` pairs each figure of a sentence with the period it
is of, :func:`pick` takes the figures of the two asked periods (same unit, same measure), and
:func:`answer` shows the computation, marked as computed, with the one sentence quoted and cited:
"250.000 − 212.480 = **37.520** lượt [1]". When the sentence states the change itself ("tăng
37.520 lượt so với năm 2023"), that stated figure is the answer and nothing is computed.

Pairing (pure functions on a sentence): a period written right after a figure, with at most two
words between and no punctuation ("212.480 lượt năm 2023", "350 ca vào quý III/2023"), is that
figure's; a figure not so paired takes the nearest period before it that is not another figure's
in this way and not closed off by a bracket ("Năm 2024, … khám 250.000 lượt (cùng kỳ năm 2023:
212.480 lượt)"). "cùng kỳ năm 2023" is the same months of 2023 as the other figure's period.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from langchain_core.documents import Document

from rag.answer import compute, operands
from rag.answer.candidates import MAX_PASSAGES, Lookup, Unit
from rag.answer.extractive import best_fact
from rag.answer.parts import Citations, ComposedAnswer, PartAnswer
from rag.answer.rendering import Fact, quote_around, render_fact
from rag.answer.scoring import Scorer, default_scorer
from rag.text.spans import dates
from rag.answer.typed_spans import Span, find_spans
from rag.lang import alternation, load_lexicon
from rag.query.analysis import analyze, extract_entities, match_tokens
from rag.text import fold

CANDIDATES = 4  # the best-scored open sentences searched for both figures

_LEX = load_lexicon()
_YEAR = re.compile(r"(?<![\d.,/])(?:19|20)\d{2}(?![\d.,/]?\d)")  # a year standing alone ("2023: 212.480")
_SPAN_YEAR = re.compile(r"(?:19|20)\d{2}")  # a year inside a date span ("quý I/2024", "30/9/2024")
_SAME = re.compile(rf"(?<![\w])(?:{alternation(_LEX.cues['period_same'])})\s*$")  # "cùng kỳ" before "năm 2023"
_PART_YEAR = re.compile(rf"(?<![\w])(?:{alternation(_LEX.cues['part_year'])})(?![\w])")
_CHANGE_VERBS = frozenset(_LEX.cues["change_verbs"] + _LEX.cues["change_exceed"])
_BASELINE = re.compile(rf"(?<![\w])(?:{alternation(_LEX.cues['compute_baseline'])})(?![\w])")
# what may stand between a figure and the period written after it: up to two words ("lượt khám",
# "vào"), never punctuation or a baseline ("so với năm 2023" is a comparison, not the figure's period)
_AFTER_GAP = re.compile(r"\s*(?:[^\W\d_]+\s+){0,2}")


@dataclass(frozen=True)
class Period:
    """A period a sentence names: its offsets (passage), text as written, years, and kind."""

    start: int
    end: int
    text: str  # "năm 2023", "cùng kỳ năm 2023", "quý I/2024", "2023"
    years: frozenset[str]
    part_year: bool  # "6 tháng đầu năm 2024", "quý I/2024": not a full year
    same_months: bool  # "cùng kỳ năm 2023": the same part of the year as the other figure's


@dataclass(frozen=True)
class Dated:
    """A figure of a sentence and the period it is of."""

    span: Span
    period: Period
    clause: str  # from the figure before it (or the last ";" after that) to its unit words
    measure: frozenset[str]  # what it counts beyond its unit noun: "lượt khám ngoại trú" → kham, ngoai, tru


def periods(text: str, start: int, end: int) -> list[Period]:
    """The periods named in ``text[start:end]`` that state a year, in order: the date and period
    spans (:func:`rag.text.spans.dates`) and bare years ("2023: 212.480")."""
    found: list[tuple[int, int, frozenset[str]]] = []
    for f in dates(text, start, end):
        years = frozenset(_SPAN_YEAR.findall(text[f.start : f.end]))
        if years:
            found.append((f.start, f.end, years))
    for m in _YEAR.finditer(text, start, end):
        if not any(a <= m.start() < b for a, b, _ in found):
            found.append((m.start(), m.end(), frozenset({m.group()})))
    out = []
    for a, b, years in sorted(found):
        folded = fold(text[max(start, a - 12) : a]).lower()
        same = _SAME.search(folded)
        a2 = a - (len(folded) - same.start()) if same else a
        written = text[a2:b]
        out.append(Period(a2, b, written, years, bool(_PART_YEAR.search(fold(written).lower())), bool(same)))
    return out


def dated_figures(text: str, start: int, end: int) -> list[Dated]:
    """Every figure of the sentence ``text[start:end]`` (years, dates and stated changes aside)
    paired with the period it is of (see the module); a figure of no period is left out."""
    found = periods(text, start, end)
    figures = [
        sp
        for sp in find_spans("quantity", text, start, end)
        if not sp.change and not _SPAN_YEAR.fullmatch(sp.text) and not any(p.start < sp.end and sp.start < p.end for p in found)
    ]
    after: dict[int, Period] = {}
    for i, sp in enumerate(figures):
        nxt = next((p for p in found if p.start >= sp.end), None)
        if nxt is None or i + 1 < len(figures) and figures[i + 1].start < nxt.start:
            continue  # no period, or another figure first
        gap = text[sp.end : nxt.start]
        if _AFTER_GAP.fullmatch(gap) and not _BASELINE.search(fold(gap).lower()):
            after[i] = nxt
    taken = set(after.values())
    out = []
    for i, sp in enumerate(figures):
        period = after.get(i) or _period_before(text, sp, [p for p in found if p not in taken])
        if period is not None:
            cut = figures[i - 1].end if i else start
            cut = max(cut, text.rfind(";", cut, sp.start) + 1)
            stop = min([end, *(f.start for f in figures[i + 1 : i + 2]), *(p.start for p in found if p.start >= sp.end)])
            tail = re.split(r"[,;.:()]", text[sp.end : stop], maxsplit=1)[0]
            words = " ".join(_unit_words(sp).split()[1:]) + " " + tail
            out.append(Dated(sp, period, text[cut : sp.end], frozenset(analyze(words).keywords_folded)))
    return out


def _unit_words(span: Span) -> str:
    """The span's unit; none for a table cell under a period column ("Năm 2023: 212.480"): it
    counts what its row names, not its header."""
    return "" if span.header and _SPAN_YEAR.search(span.header) else span.unit


def _period_before(text: str, span: Span, found: list[Period]) -> Period | None:
    """The nearest period before ``span`` that no bracket closes off before it ("(năm 2023: 12
    ca), năm 2024 …": the bracketed year is not the next figure's)."""
    for p in reversed([p for p in found if p.end <= span.start]):
        depth = 0
        for ch in text[p.end : span.start]:
            depth += (ch == "(") - (ch == ")")
            if depth < 0:
                break
        else:
            return p
    return None


@dataclass(frozen=True)
class Asked:
    """The two periods a question compares: the later one's years and the earlier one's (either
    may be empty: "so với cùng kỳ" names none, it is then the sentence's other period)."""

    current: frozenset[str]
    baseline: frozenset[str]


def asked_periods(p: compute.Plan) -> Asked | None:
    """The periods of a change ("… năm 2024 tăng bao nhiêu so với năm 2023") or of a difference or
    ratio of one measure between two periods ("… năm 2024 cao hơn năm 2023 bao nhiêu"); None for a
    comparison of two units (answered by two operands of their own)."""
    left = frozenset(_YEAR.findall(p.left))
    if p.op == "change":
        return Asked(left, frozenset(_YEAR.findall(p.baseline)) - left)
    if p.op not in ("difference", "ratio") or not p.right:
        return None
    right = frozenset(_YEAR.findall(p.right))
    named = {e.tokens for e in extract_entities(p.right) if e.kind in ("facility", "place", "name", "person")}
    if not left or not right or left & right or not named <= {e.tokens for e in extract_entities(p.left)}:
        return None
    return Asked(left, right)


@dataclass(frozen=True)
class Pair:
    """The figure of the later period and the one of the earlier, or why the sentence's figures
    of the two periods cannot be compared (``reason``)."""

    current: Dated
    baseline: Dated
    reason: str = ""


def pick(figures: Sequence[Dated], asked: Asked, want: str, words: frozenset[str]) -> Pair | None:
    """The figures of the asked periods, in the asked unit (``want``, folded first unit word; ""
    any), each the one whose clause says most of the question's ``words``; None when the sentence
    lacks a figure of either period, a Pair with a reason when units or measures disagree."""
    def unit_of(d: Dated) -> str:
        return _operand(d).unit

    current = [d for d in figures if d.period.years == asked.current] if asked.current else []
    if not asked.current:  # "so với cùng kỳ năm 2023" alone: the later of the sentence's periods
        later = [d for d in figures if d.period.years and not d.period.years & asked.baseline]
        top = max((max(d.period.years) for d in later), default=None)
        current = [d for d in later if top in d.period.years and len(d.period.years) == 1]
    if not current:
        return None
    baseline = [d for d in figures if d.period.years == asked.baseline] if asked.baseline else [
        d for d in figures if len(d.period.years) == 1 and max(d.period.years) < min(current[0].period.years)
    ]
    if not baseline:
        return None
    if want:  # the figures in the asked unit ("": a bare figure, a table cell)
        in_unit = [d for d in current if unit_of(d) in (want, "")]
        if not in_unit:
            return None  # the sentence has no figure of the asked measure for the later period
        current = in_unit
    a = max(current, key=lambda d: (_said(d, words), -d.span.start))
    same_unit = [d for d in baseline if unit_of(d) in (unit_of(a), "")]
    if not same_unit:
        b = max(baseline, key=lambda d: (_said(d, words), -d.span.start))
        return Pair(a, b, f"hai số liệu khác đơn vị ({a.span.text}, {b.span.text}), không tính được")
    b = max(same_unit, key=lambda d: (_said(d, words), -d.span.start))
    if a.measure and b.measure and not (a.measure <= b.measure or b.measure <= a.measure):
        return Pair(a, b, f"hai số liệu không cùng chỉ tiêu ({a.span.text}, {b.span.text}), không tính được")
    part_a = a.period.part_year if not a.period.same_months else b.period.part_year
    part_b = b.period.part_year if not b.period.same_months else a.period.part_year
    if part_a != part_b and unit_of(a) != "%":
        return Pair(a, b, "một số liệu là cả năm, số liệu kia chỉ một phần năm: không tính được")
    return Pair(a, b)


def _said(d: Dated, words: frozenset[str]) -> int:
    """How many of the question's words the figure's clause says (ranks the figures of a period)."""
    return len(words & set(match_tokens(d.clause)))


def stated(unit: Unit, want: str, percent: bool) -> Span | None:
    """A change the sentence states of the asked kind: "tăng 17,7%" for a change asked in per cent,
    "tăng 37.520 lượt" in the asked unit; None when it states none."""
    for sp in find_spans("quantity", unit.passage.text, unit.sent_start, unit.sent_end):
        if not sp.change or fold(sp.text).lower().split()[0] not in _CHANGE_VERBS:
            continue  # "bằng 110%" is a level against another, no change
        op = compute.operand(sp.text, sp.unit, "")
        if op is not None and (op.unit == "%") == (percent or want == "%") and (not want or op.unit in (want, "")):
            return sp
    return None


def answer(question: str, p: compute.Plan, docs: Sequence[Document], lookup: Lookup | None, scorer: Scorer | None) -> ComposedAnswer | None:
    """The change (difference, ratio) between two periods computed from one sentence that states
    both figures, or that sentence's own stated change; a declined answer when its two figures
    disagree in unit, measure or period kind; None when no top sentence states both figures."""
    asked = asked_periods(p)
    if asked is None:
        return None
    scorer = scorer or default_scorer()
    # the unit of both figures: of the level a change changes ("Số lượt khám năm 2024 bao nhiêu" →
    # "luot"; in the question as typed "bao nhiêu so với" names none), any for a change in per cent
    want = "" if p.percent else operands.asked_unit(compute.level_question(p.left) if p.op == "change" else question)
    words = frozenset(match_tokens(operands.measure_of(question) or question)) - frozenset(analyze(question).qwords)
    words = frozenset(w for w in words if not _SPAN_YEAR.fullmatch(w))
    fact, scored = best_fact(question, docs[:MAX_PASSAGES], lookup, scorer=scorer)
    named = [e for e in extract_entities(question) if e.kind in ("facility", "place", "name")]
    units = [(fact.unit, fact.confidence)] if fact is not None else []
    units += [(s.unit, s.confidence or s.score) for s in scored if s.rejected is None][:CANDIDATES]
    declined: tuple[Unit, Pair, float] | None = None  # from the answer's own sentence only: another may hold both figures
    seen: set[tuple[str, int]] = set()
    for unit, confidence in units:
        key = (unit.passage.doc_id, unit.passage.start + unit.sent_start)
        if key in seen or (confidence < scorer.threshold and not operands.names_subject(unit, named)):
            continue
        seen.add(key)
        pair = pick(dated_figures(unit.passage.text, unit.sent_start, unit.sent_end), asked, want, words)
        if pair is None:
            continue
        change = stated(unit, want, p.percent)
        if change is not None:  # the report states the asked change: that is the answer
            return _one_line(Fact(unit, change, [_quote(unit, change)], confidence, 1.0, confidence, True), confidence)
        result = None
        if not pair.reason:
            a, b = _operand(pair.current), _operand(pair.baseline)
            unit_text = "điểm phần trăm" if a.unit == "%" else compute.unit_after(pair.current.span.text, a.written)
            result = compute.combine(p.op, a, b, unit_text, p.percent, across_periods=True)
            if result.ok:
                return _computed(question, unit, pair, result, confidence)
        if declined is None and fact is not None and unit is fact.unit:
            declined = (unit, replace(pair, reason=pair.reason or (result.reason if result else "")), confidence)
    if declined is not None:
        return _declined(question, *declined)
    return None


def _operand(d: Dated) -> compute.Operand:
    """The figure as an operand of its paired period (not every year its sentence names)."""
    op = compute.operand(d.span.text, _unit_words(d.span), "")
    assert op is not None  # a quantity span always holds a figure
    return replace(op, years=d.period.years, part_year=d.period.part_year)


def _quote(unit: Unit, span: Span) -> tuple[int, int]:
    return quote_around(unit.passage.text, unit.sent_start, unit.sent_end, span)


def _quote_both(unit: Unit, pair: Pair) -> tuple[int, int]:
    """The sentence, or for a long one the words around both figures."""
    a, b = sorted((pair.current.span, pair.baseline.span), key=lambda s: s.start)
    qs, qe = _quote(unit, a)
    return min(qs, a.start), max(qe, b.end)


def _one_line(fact: Fact, confidence: float) -> ComposedAnswer:
    """The stated change in bold and its sentence, cited."""
    citer = Citations()
    line = render_fact(fact, citer.cite(fact))
    return ComposedAnswer(line, False, citer.refs, [], [], confidence)


def _computed(question: str, unit: Unit, pair: Pair, result: compute.Result, confidence: float) -> ComposedAnswer:
    """"- Tính từ số liệu trích dẫn (năm 2024, năm 2023): 250.000 − 212.480 = **37.520** lượt [1]"
    and the sentence quoted (no bold: both figures are levels, the change is the answer)."""
    fact = Fact(unit, pair.current.span, [_quote_both(unit, pair)], confidence, 1.0, confidence, False)
    citer = Citations()
    numbers = citer.cite(fact)
    marks = "".join(f"[{n}]" for n in numbers)
    shown = ", ".join(_lower_initial(d.period.text) for d in (pair.current, pair.baseline))
    head = f"Tính từ số liệu trích dẫn ({shown}): {result.line} {marks}"
    quote = PartAnswer(question, render_fact(fact, numbers), False, numbers)
    computed = PartAnswer(question, head, False, numbers, result.computed)
    return ComposedAnswer(f"- {head}\n- {quote.text}", False, citer.refs, [], [], confidence, parts=[quote, computed])


def _lower_initial(text: str) -> str:
    """"Năm 2024" (a sentence's first words) → "năm 2024" inside the computed line."""
    return text[0].lower() + text[1:] if len(text) > 1 and text[1].islower() else text


def _declined(question: str, unit: Unit, pair: Pair, confidence: float) -> ComposedAnswer:
    """The reason it is not computed, and the sentence quoted (no bold lead)."""
    fact = Fact(unit, pair.current.span, [_quote_both(unit, pair)], confidence, 1.0, confidence, False)
    citer = Citations()
    numbers = citer.cite(fact)
    head = f"Không tính: {pair.reason}."
    quote = PartAnswer(question, render_fact(fact, numbers), False, numbers)
    computed = PartAnswer(question, head, True)
    return ComposedAnswer(f"- {head}\n- {quote.text}", True, citer.refs, [], [pair.reason], confidence, parts=[quote, computed])


__all__ = ["CANDIDATES", "Asked", "Dated", "Pair", "Period", "answer", "asked_periods", "dated_figures", "periods", "pick", "stated"]
