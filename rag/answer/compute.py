"""Computed comparisons and derived figures: a difference, a sum, a ratio, a share, a comparison.

"… cao hơn … bao nhiêu", "chênh lệch", "tổng cộng", "gấp bao nhiêu lần", "chiếm bao nhiêu phần
trăm", "tăng bao nhiêu so với", "so sánh": :func:`plan` reads which operation the question asks
and the two operands' questions; :mod:`rag.answer.compose` answers each operand as its own cited
part; :func:`combine` checks that the two figures are of one unit and one period and computes the
result, or says why it will not. The result is shown as the computation it is ("250.000 −
212.480 = **37.520** lượt [1][2]") so a reader (and :func:`computations`, used by the verifier)
can check it against the quoted operands.

Pure functions: no retrieval here. The cue words are in ``rag/lang/vi/question_words.toml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Literal

from rag.answer.numbers import decimals_of, format_number, parse_number
from rag.lang import alternation, load_lexicon
from rag.text import fold

Op = Literal["difference", "change", "sum", "ratio", "share", "compare"]

_LEX = load_lexicon()


def _cue(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w]){'(' + alternation(_LEX.cues[name]) + ')'}(?![\w])")


_COMPARATOR = _cue("compute_comparators")  # "cao hơn": A on its left, B on its right
_RATIO = _cue("compute_ratio")  # "gấp bao nhiêu lần"
_GAP = _cue("compute_gap")  # "chênh lệch": A và B
_TOTAL = _cue("compute_total")  # "tổng cộng": A và B
_SHARE = _cue("compute_share")  # "chiếm bao nhiêu phần trăm": A of B
_COMPARE = _cue("compute_compare")  # "so sánh": A và B
_HOW_MUCH = _cue("compute_how_much")
_BASELINE_CUE = _cue("compute_baseline")
# "tăng bao nhiêu … so với …": a change between two periods
_CHANGE = re.compile(
    rf"(?<![\w])({alternation(_LEX.cues['change_verbs'])})(?![\w])(?:\s+\w+){{0,3}}?\s+({alternation(_LEX.cues['compute_how_much'])})(?![\w])"
    rf".*?(?<![\w])({alternation(_LEX.cues['compute_baseline'])})(?![\w])"
)
_CHANGE_ASKED = re.compile(
    rf"(?<![\w])({alternation(_LEX.cues['change_verbs'])})(?![\w])(?:\s+\w+){{0,3}}?\s+({alternation(_LEX.cues['compute_how_much'])})(?![\w])"
)
# a change or an excess asked: "tăng bao nhiêu", "giảm mấy phần trăm", "vượt kế hoạch bao nhiêu"
_CHANGE_OR_EXCESS = re.compile(
    rf"(?<![\w])({alternation(_LEX.cues['change_verbs'] + _LEX.cues['change_exceed'])})(?![\w])(?:\s+\w+){{0,2}}?\s+({alternation(_LEX.cues['compute_how_much'])})(?![\w])"
)  # at most two words between, as the question analysis: "tặng bằng khen cho bao nhiêu" typed bare is no change
_WHICH = _cue("compute_which")
# "A và B, bệnh viện nào nhiều giường hơn?", "which had the higher …": both figures, which is higher
_WHICH_MORE = re.compile(rf"(?<![\w])({alternation(_LEX.cues['list_which'])})(?![\w]).*(?<![\w])({alternation(_LEX.cues['compute_more'])})(?![\w])")
_CLAUSE_START = re.compile(rf"(?:,|(?<![\w])(?:{alternation(_LEX.cues['compute_clause_start'])}))\s*$")
_MORE_WORDS = frozenset(_LEX.cues["compute_more_words"])
_AND = _cue("compute_and")
_BETWEEN = _cue("compute_between")
_YEAR = re.compile(r"(?<![\d.,])(?:19|20)\d{2}(?![\d/]|[.,]\d)")  # "năm 2024", "30/9/2024"
_BASELINE = re.compile(
    rf"(?<![\w])(?:{alternation(_LEX.cues['compute_baseline'])})(?:\s+(?:{alternation(_LEX.cues['compute_baseline_fillers'])}))*\s+(?:19|20)\d{{2}}"
)
_PART_YEAR = _cue("part_year")
_FIGURE = re.compile(rf"\d+(?:[.,]\d+)*(?:\s*%)?(?:\s+(?:{alternation(tuple(_LEX.number_scales))}))?")


_SCALES = frozenset(fold(w).lower() for w in _LEX.number_scales)
_PERCENT_ASKED = re.compile(rf"(?<![\w])({alternation(_LEX.cues['percent'])})(?![\w])|%")


@dataclass(frozen=True)
class Plan:
    """What the question computes, and the two operands' text as typed.

    ``left``/``right``: for a comparator ("A cao hơn B bao nhiêu"), the text on either side of it;
    for "A và B" forms (chênh lệch, tổng cộng, so sánh) the question without its cue, to be split
    into its two parts. ``baseline``: "so với năm 2022" (a change: B is A's measure at that time).
    """

    op: Op
    left: str
    right: str = ""
    baseline: str = ""
    percent: bool = False  # a change asked in per cent ("tăng bao nhiêu phần trăm so với")


def plan(question: str) -> Plan | None:
    """The computation ``question`` asks for, or None for a question answered by one figure."""
    q = " ".join(question.split())
    folded = fold(q).lower()
    change = next((m for m in _CHANGE.finditer(folded) if _typed_change(q, m)), None)
    if change:  # folding keeps offsets: positions in ``folded`` are positions in ``q``
        m = _BASELINE_CUE.search(folded, change.start(3))
        if m:
            return Plan("change", q[: m.start()].strip(), baseline=q[m.end() :].strip(" ?."), percent=bool(_PERCENT_ASKED.search(folded)))
    if _SHARE.search(folded):
        m = _SHARE.search(folded)
        left, right = q[: m.start()].strip(" ,"), q[m.end() :].strip(" ,?.")
        if left and right:
            return Plan("share", left, right)
    for rx, op in ((_RATIO, "ratio"), (_COMPARATOR, "difference")):
        m = rx.search(folded)
        if m and (op == "ratio" or _HOW_MUCH.search(folded[m.end() :]) or _WHICH.search(folded)):
            left, right = q[: m.start()].strip(" ,"), q[m.end() :].strip(" ,?.")
            if op == "difference" and not _HOW_MUCH.search(folded[m.end() :]):
                op = "compare"  # "A hay B, nơi nào cao hơn": both figures, which is higher
            if left and right:
                return Plan(op, left, right)  # type: ignore[arg-type]
    for rx, op in ((_GAP, "difference"), (_TOTAL, "sum"), (_COMPARE, "compare"), (_WHICH_MORE, "compare")):
        m = rx.search(folded)
        if m and _CLAUSE_START.search(folded[: m.start()]):
            continue  # "…, và tổng cộng từ 2019 là bao nhiêu": a part of its own, not an operation on two
        if m and _AND.search(folded):
            rest = (q[: m.start()] + " " + q[m.end() :]).strip(" ,?.")
            if rx is _WHICH_MORE:  # "A và B, bệnh viện nào nhiều giường hơn" → "A và B có bao nhiêu giường"
                measure = [w for w in q[m.start() : m.end()].split()[1:-1] if fold(w).lower() not in _MORE_WORDS]
                head = re.sub(r"[,;]\s*[^,;]*$", "", q[: m.start()]).strip()
                rest = f"{head} có bao nhiêu {' '.join(measure)}"
            rest = "".join(" " if any(a <= i < b for a, b in _spans(_BETWEEN, fold(rest).lower())) else c for i, c in enumerate(rest))  # "giữa A và B"
            return Plan(op, " ".join(rest.split()))  # type: ignore[arg-type]
    return _bare_change(q, folded)


def _bare_change(q: str, folded: str) -> Plan | None:
    """"… tăng bao nhiêu" without "so với": a change between the two years the question names
    ("Năm 2024 … tăng bao nhiêu … năm 2023": the earlier is the baseline), or, naming one year or
    none, against the period before it that a sentence states with it (baseline left unsaid)."""
    if _BASELINE_CUE.search(folded):
        return None  # "So với cùng kỳ, … tăng bao nhiêu": the stated change answers it
    if not any(m.group(1) in _LEX.cues["change_verbs"] and _typed_change(q, m) for m in _CHANGE_OR_EXCESS.finditer(folded)):
        return None  # no change asked ("vượt kế hoạch bao nhiêu" is a surplus: rag.answer.excess)
    percent = bool(_PERCENT_ASKED.search(folded))
    years = sorted({m.group() for m in _YEAR.finditer(q)})
    if len(years) < 2:
        return Plan("change", q.strip(" ?."), percent=percent)
    earlier = [(m.start(), m.end()) for m in _ASKED_PERIOD.finditer(folded) if m.group().endswith(years[0])]
    left = "".join(" " if any(x <= i < y for x, y in earlier) else c for i, c in enumerate(q))  # folding keeps offsets
    return Plan("change", re.sub(r"\s+([,?.])", r"\1", " ".join(left.split())).strip(" ,?."), baseline=f"năm {years[0]}", percent=percent)


# the change verbs as a report writes them: a typed "tặng" (awards) or "tầng" folds to "tang" too
_CHANGE_WRITTEN = frozenset(w.lower() for w in _LEX.changes)


def _typed_change(q: str, m: re.Match[str]) -> bool:
    """The change verb matched in the folded question is one as typed: "tăng", or "tang" typed
    without accents (ambiguous, taken as the change), not "tặng bằng khen cho bao nhiêu"."""
    typed = q[m.start(1) : m.end(1)].lower()
    return typed == m.group(1) or typed in _CHANGE_WRITTEN


@lru_cache(maxsize=512)  # asked once per candidate span
def asks_change(question: str) -> bool:
    """The question asks for a change ("tăng bao nhiêu", "giảm bao nhiêu phần trăm", "vượt bao
    nhiêu"): its answer is a change, stated or computed, never the level it changes."""
    q = " ".join(question.split())
    return any(_typed_change(q, m) for m in _CHANGE_OR_EXCESS.finditer(fold(q).lower()))


def level_question(text: str) -> str:
    """A change question asked as the level it changes: "Số lượt khám năm 2024 tăng bao nhiêu" →
    "Số lượt khám năm 2024 bao nhiêu" (the figure of each period, the operands of the change)."""
    folded = fold(text).lower()
    m = _CHANGE_ASKED.search(folded)
    if not m:
        return text
    rest = text[m.end() :]
    unit = re.match(rf"\s*(?:{alternation(_LEX.cues['percent'])}|%)(?![\w])", folded[m.end() :])
    if unit:  # "tăng bao nhiêu phần trăm": the levels are counts, the per cent is computed
        rest = rest[unit.end() :]
    return " ".join((text[: m.start()] + text[m.start(2) : m.end()] + rest).split())


def _spans(rx: re.Pattern[str], folded: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in rx.finditer(folded)]


@dataclass(frozen=True)
class Operand:
    """A figure quoted from a report: its text as written, value, unit and the period its sentence states."""

    written: str  # "383.605", "95,25%"
    value: Decimal
    unit: str  # folded first unit word ("luot", "giuong", "%"), "" for a bare number
    years: frozenset[str]
    part_year: bool  # "9 tháng đầu năm", "quý III": not a full-year figure


def operand(span_text: str, unit: str, sentence: str, title: str = "", asked: str = "") -> Operand | None:
    """The operand of a quantity span: its figure, unit and period (the sentence's, else the
    title's, else the year its question asked: the answerer vetoes sentences of another year)."""
    m = _FIGURE.search(span_text)
    if not m:
        return None
    written = m.group().strip()
    value = parse_number(written)
    if value is None:
        return None
    counted = [w for w in fold(unit).lower().split() if w not in _SCALES]  # "nghin mui": the scale is the figure's
    unit_word = "%" if written.endswith("%") else (counted or [""])[0]
    baselines = _spans(_BASELINE, fold(sentence).lower())  # "tăng 3% so với năm 2022": 2022 is no year of the figure
    stated = [m.group() for m in _YEAR.finditer(sentence) if not any(a <= m.start() < b for a, b in baselines)]
    years = frozenset(stated) or frozenset(_YEAR.findall(title)) or frozenset(_YEAR.findall(asked))
    part_year = bool(_PART_YEAR.search(fold(sentence).lower()) or _PART_YEAR.search(fold(title).lower()))
    return Operand(written, value, unit_word, years, part_year)


def unit_after(span_text: str, written: str) -> str:
    """The unit words after the figure in its span ("khoảng 401.220 lượt người bệnh" → "lượt người bệnh")."""
    i = span_text.find(written)
    return span_text[i + len(written) :].strip() if i >= 0 else ""


@dataclass(frozen=True)
class Result:
    """A computation, or the reason it was declined (``ok`` False, ``reason`` in Vietnamese)."""

    ok: bool
    line: str = ""  # shown: "250.000 − 212.480 = **37.520** lượt"
    computed: str = ""  # checkable: "250.000 − 212.480 = 37.520"
    reason: str = ""


_SYMBOL = {"difference": "−", "change": "−", "sum": "+", "ratio": ":"}


def combine(op: Op, a: Operand, b: Operand, unit_text: str = "", percent: bool = False, across_periods: bool = False) -> Result:
    """``a op b`` when the figures agree in unit and period; else a declined Result saying why.
    ``across_periods``: the two figures are of two periods on purpose (a change, "năm 2024 cao
    hơn năm 2023 bao nhiêu"), checked by the caller; only their units must agree."""
    if a.unit != b.unit and a.unit and b.unit:
        return Result(False, reason=f"hai số liệu khác đơn vị ({a.written} {a.unit}, {b.written} {b.unit}), không tính được")
    if op != "change" and not across_periods:
        if a.years and b.years and a.years.isdisjoint(b.years):
            return Result(False, reason=f"hai số liệu thuộc hai kỳ khác nhau (năm {', '.join(sorted(a.years))} và năm {', '.join(sorted(b.years))}), không tính được")
        if a.part_year != b.part_year and a.unit != "%":  # a count over 9 months is not a year's; a rate may be compared
            return Result(False, reason="một số liệu là cả năm, số liệu kia chỉ một phần năm: không tính được")
    decimals = max(decimals_of(a.written), decimals_of(b.written))
    if op == "sum":
        value = a.value + b.value
    elif op == "ratio":
        if b.value == 0:
            return Result(False, reason="số liệu thứ hai bằng 0, không chia được")
        value, decimals = a.value / b.value, 2
    elif op == "share":
        if b.value == 0:
            return Result(False, reason="tổng bằng 0, không tính được tỷ lệ")
        value, decimals = a.value / b.value * 100, 2
    elif op == "compare":
        value = abs(a.value - b.value)
    elif op == "change" and percent and a.unit != "%":
        if b.value == 0:
            return Result(False, reason="số liệu của kỳ gốc bằng 0, không tính được phần trăm")
        value, decimals = (a.value - b.value) / b.value * 100, 2
    else:
        value = a.value - b.value
    result = format_number(value, decimals)
    if op == "share":
        expr, unit_shown = f"{a.written} : {b.written} × 100", "%"
    elif op == "change" and percent and a.unit != "%":  # the change over the earlier figure, in per cent
        expr, unit_shown = f"({a.written} − {b.written}) : {b.written} × 100", "%"
    elif op == "compare":
        hi, lo = (a, b) if a.value >= b.value else (b, a)
        expr = f"{hi.written} − {lo.written}"
        unit_shown = unit_text
    elif op == "difference" and value < 0:  # "A cao hơn B bao nhiêu" when A is the lower: B − A, said so
        expr, result = f"{b.written} − {a.written}", format_number(-value, decimals)
        unit_shown = f"{unit_text} (số liệu thứ nhất thấp hơn)".strip()
    else:
        expr = f"{a.written} {_SYMBOL[op]} {b.written}"
        unit_shown = "lần" if op == "ratio" else unit_text
    unit_part = ("" if unit_shown == "%" else " ") + unit_shown if unit_shown else ""
    return Result(True, f"{expr} = **{result}**{unit_part}", f"{expr} = {result}")


def asked_apart(first: str, second: str) -> bool:
    """Each operand's question names its own year and they differ ("tỷ lệ của A (đến 30/9/2024)",
    "tỷ lệ của B (năm 2023)"): the two periods are asked, not a mismatch to decline."""
    a, b = set(_YEAR.findall(first)), set(_YEAR.findall(second))
    return bool(a and b and a.isdisjoint(b))


_PREVIOUS = _cue("compute_previous")
_POINTS = alternation(_LEX.cues["percent_points"])
# "tăng 8,7% so với năm 2022", "giảm 18% so với năm 2022", "tăng 1,1 điểm phần trăm so với cùng kỳ năm 2023",
# "(tăng 609 lượt so với cùng kỳ)" in a folded sentence; "tăng gấp 2,4 lần" is a ratio, not read here
_STATED_CHANGE = re.compile(
    rf"(?<![\w])(?:({alternation(_LEX.cues['change_up'])})|({alternation(_LEX.cues['change_down'])}))\s+"
    rf"(\d+(?:[.,]\d+)*)\s*(%|{_POINTS}|[^\W\d]+(?:\s+[^\W\d]+){{0,2}}?)?\s+"
    rf"(?:{alternation(_LEX.cues['compute_baseline'])})((?:\s+(?:{alternation(_LEX.cues['compute_baseline_fillers'])}))*(?:\s+(?:19|20)\d{{2}})?)"
)


def asks_previous(question: str) -> bool:
    """The question asks for an earlier period's figure derived from a stated change
    ("… năm trước là bao nhiêu", "suy ra …")."""
    return bool(_PREVIOUS.search(fold(question).lower()))


def previous_level(question: str) -> str:
    """The question about the current figure: without the "suy ra" cue, the asked years and
    "năm trước" (the sentence that states the change is about the later period)."""
    folded = fold(question).lower()
    drop = _spans(_PREVIOUS, folded) + _spans(_ASKED_PERIOD, folded) + _spans(re.compile(r"\([^)]*\)"), folded)
    keep = "".join(" " if any(a <= i < b for a, b in drop) else c for i, c in enumerate(question))
    keep = re.sub(r"\s+([,?.])", r"\1", " ".join(keep.split()))
    return re.sub(r"(?:,\s*)+(?=[?.]|$)", "", keep).strip(" ,")


_ASKED_PERIOD = re.compile(rf"(?<![\w])(?:(?:{alternation(_LEX.cues['compute_baseline_fillers'])})\s+)*(?:19|20)\d{{2}}(?![\d/])")


@dataclass(frozen=True)
class StatedChange:
    """A change a sentence states about its figure: "tăng 8,7% so với năm 2022"."""

    start: int  # offsets in the sentence
    end: int
    written: str  # "8,7" as written
    value: Decimal
    kind: Literal["percent", "points", "count"]
    up: bool
    unit: str  # folded first unit word of a count change ("luot"), "" otherwise
    baseline: frozenset[str]  # the baseline years it names ("so với năm 2022"), empty for "cùng kỳ"
    period: str  # the baseline as written: "năm 2022", "cùng kỳ năm 2023", "" when not said


def stated_changes(sentence: str) -> list[StatedChange]:
    """Every stated change of ``sentence`` (folding keeps offsets)."""
    out = []
    for m in _STATED_CHANGE.finditer(fold(sentence).lower()):
        value = parse_number(m.group(3))
        if value is None:
            continue
        unit = (m.group(4) or "").strip()
        kind: Literal["percent", "points", "count"] = "percent" if unit == "%" else "points" if re.fullmatch(_POINTS, unit) else "count"
        years = frozenset(_YEAR.findall(m.group(5) or ""))
        out.append(StatedChange(m.start(), m.end(), sentence[m.start(3) : m.end(3)], value, kind, bool(m.group(1)), unit.split()[0] if kind == "count" and unit else "", years,
                                  sentence[m.start(5) : m.end(5)].strip()))
    return out


def previous(current: Operand, change: StatedChange, unit_text: str = "") -> Result:
    """The earlier figure a stated change implies: X × 100 : (100 ± Y) for a change in per cent,
    X ∓ Y for one in points or in the figure's own unit; declined when units disagree."""
    x, y = current.written, change.written
    if change.kind == "points":
        if current.unit != "%":
            return Result(False, reason=f"mức thay đổi tính bằng điểm phần trăm nhưng số liệu {x} không phải tỷ lệ, không tính được")
        value, expr = (current.value - change.value, f"{x} − {y}") if change.up else (current.value + change.value, f"{x} + {y}")
        result = format_number(value, max(decimals_of(x), decimals_of(y)))
        return Result(True, f"{expr} = **{result}%**", f"{expr} = {result}%")
    if change.kind == "count":
        if change.unit and current.unit and change.unit != current.unit:
            return Result(False, reason=f"mức thay đổi ({y} {change.unit}) khác đơn vị với số liệu {x} {current.unit}, không tính được")
        value, expr = (current.value - change.value, f"{x} − {y}") if change.up else (current.value + change.value, f"{x} + {y}")
        decimals = max(decimals_of(x), decimals_of(y))
    else:
        if not change.up and change.value >= 100:
            return Result(False, reason=f"giảm {y}% không để lại số liệu gốc dương, không tính được")
        base = Decimal(100) + change.value if change.up else Decimal(100) - change.value
        value, expr = current.value * 100 / base, f"{x} × 100 : (100 {'+' if change.up else '−'} {y})"
        decimals = decimals_of(x)
    result = format_number(value, decimals)
    unit_part = ("" if unit_text.startswith("%") else " ") + unit_text if unit_text else ""
    return Result(True, f"{expr} = **{result}**{unit_part}", f"{expr} = {result}")


@dataclass(frozen=True)
class Computation:
    """One "a op b = r" written in a text: its result and whether the arithmetic holds."""

    operands: tuple[str, ...]
    result: str
    holds: bool
    constants: tuple[str, ...] = ()  # the per-cent factor and base ("100"): written, never quoted


_NUM = rf"\d+(?:[.,]\d+)*(?:\s*%|\s+(?:{alternation(tuple(_LEX.number_scales))})(?![\w]))?"  # "95,25%", "14 nghìn"
_OPERAND = rf"\(?\s*{_NUM}\s*\)?"  # a number, maybe opening or closing a parenthesis: "(100 + 8,7)"
_EXPR = re.compile(rf"(?<![\w.,])({_OPERAND}(?:\s*[-+−–×x*:/÷]\s*{_OPERAND})+)\s*=\s*\**\s*({_NUM})")
_TERM = re.compile(rf"({_NUM})|([-+−–×x*:/÷])")
_UNOPENED = re.compile(rf"\s*{_NUM}\s*\)\s*[-+−–×x*:/÷]\s*")  # a number closing a parenthesis the expression never opened


# "× 100", a final "− 100", "(100 + 8,7)": the per-cent factor and base, no operand
_PER_CENT = re.compile(r"[×x*]\s*100(?![\d.,%])|[−-]\s*100\s*$|(?<=\()\s*100(?=\s*[-+−–])")


def computations(text: str) -> list[Computation]:
    """Every "a op b = r" in ``text`` ("**" around r allowed), evaluated left to right with × and
    : before + and −; ``holds`` when r equals the value rounded to r's written decimals. The
    per-cent factor and base ("× 100", a final "− 100", "(100 + 8,7)") are no operands: they
    need not be quoted. Parentheses group ("9.864.215 × 100 : (100 + 8,7) = 9.074.715")."""
    out = []
    for m in _EXPR.finditer(text):
        expr, written = m.group(1), m.group(2).strip()
        lead = _UNOPENED.match(expr) if expr.count("(") < expr.count(")") else None
        expr = expr[lead.end() :] if lead else expr  # "(năm 2022): 9.864.215 × …": the year is no operand
        value = _evaluate(expr)
        result = parse_number(written)
        operands = tuple(t.group(1).strip() for t in _TERM.finditer(_PER_CENT.sub(" ", expr)) if t.group(1))
        constants = tuple(re.findall(r"(?<![\d.,])100(?![\d.,%])", " ".join(c.group() for c in _PER_CENT.finditer(expr))))
        holds = value is not None and result is not None and abs(value - result) <= Decimal(5) * Decimal(10) ** (-decimals_of(written) - 1)
        out.append(Computation(operands, written, holds, constants))
    return out


def _evaluate(expr: str) -> Decimal | None:
    """The value of ``expr``: numbers, + − × : and parentheses, × and : first; None when it is
    malformed (unbalanced parentheses) or divides by zero."""
    tokens = [t.group() for t in _TOKEN.finditer(expr)]
    pos = 0

    def peek() -> str:
        return tokens[pos] if pos < len(tokens) else ""

    def factor() -> Decimal | None:
        nonlocal pos
        tok = peek()
        pos += 1
        if tok == "(":
            value = total()
            if peek() != ")":
                return None
            pos += 1
            return value
        return parse_number(tok) if tok and tok[0].isdigit() else None

    def product() -> Decimal | None:
        nonlocal pos
        value = factor()
        while value is not None and peek() in ("×", "x", "*", ":", "/", "÷"):
            op = peek()
            pos += 1
            x = factor()
            if x is None or op in (":", "/", "÷") and x == 0:
                return None
            value = value * x if op in ("×", "x", "*") else value / x
        return value

    def total() -> Decimal | None:
        nonlocal pos
        value = product()
        while value is not None and peek() in ("+", "-", "−", "–"):
            op = peek()
            pos += 1
            x = product()
            if x is None:
                return None
            value = value + x if op == "+" else value - x
        return value

    value = total()
    return value if pos == len(tokens) else None


_TOKEN = re.compile(rf"{_NUM}|[-+−–×x*:/÷()]")


__all__ = [
    "Computation", "Operand", "Plan", "Result", "StatedChange", "asked_apart", "asks_change", "asks_previous", "combine", "computations", "level_question",
    "operand", "plan", "previous", "previous_level", "stated_changes", "unit_after",
]
