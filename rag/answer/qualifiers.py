"""Scope and qualifier doubts of a figure answering a how-many / how-much question.

A figure can be the right kind of number and still not the one asked: a part of the unit ("Khoa
Nhi hiện có 45 giường" for the hospital's total), a shortage or a need ("thiếu khoảng 1.150 bác
sĩ" for how many there are), a figure over several districts for one of them ("30 trạm ở ba huyện
…"), or a count where an amount of money is asked ("giá bao nhiêu" answered by "1 máy"). Each is a
scorer feature (:data:`rag.answer.scoring.FEATURES`) and a doubt on the span's preference, so a
doubtful figure is not bolded. The words are language data (rag/lang/vi/spans.toml).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.answer.candidates import Unit, contains_run
from rag.answer.typed_spans import Span
from rag.lang import load_lexicon
from rag.query.analysis import QuestionType, canon, canon_tokens, words
from rag.text import has_diacritics

_LEX = load_lexicon()


def _phrases(key: str) -> tuple[tuple[str, ...], ...]:
    return tuple(dict.fromkeys(tuple(canon_tokens(w)) for w in _LEX.spans[key]))


_PART = _phrases("part_markers")
_TOTAL = _phrases("total_words")
_SHORTAGE = _phrases("shortage_words")
_PLURAL = frozenset(p[0] for p in _phrases("plural_markers"))
_RANKS = _phrases("facility_admin_words")
_MONEY_UNITS = frozenset(p[0] for p in _phrases("money_units"))
# (folded, written lower-case) money nouns: accented questions must match the accents ("giá", not "gia")
_MONEY_NOUNS = tuple(
    (tuple(canon_tokens(w)), tuple(t.lower() for t, _, _ in words(w))) for w in _LEX.spans["money_nouns"]
)
_SPECIALTIES = tuple(sorted((" ".join(p) for p in _phrases("facility_specialties")), key=len, reverse=True))
# matched as written: reports carry accents, and "sẽ" (will) folds to "se" as "chia sẻ" (share) does
_PLAN = tuple(dict.fromkeys(tuple(t.lower() for t, _, _ in words(w)) for w in _LEX.spans["plan_markers"]))
_PLAN_ASKED = _phrases("plan_questions")
_LEVELS = _phrases("care_levels")
_ASK = ("bao", "nhieu")
_CLAUSE_BREAK = re.compile(r"[,;:]")
MONEY_NOUN_REACH = 8  # a money noun up to this many words before "bao nhiêu" (same clause) asks for money


def _any_run(tokens: Sequence[str], phrases: Sequence[tuple[str, ...]]) -> tuple[str, ...] | None:
    return next((p for p in phrases if contains_run(list(tokens), p)), None)


def asks_money(question: str, qt: QuestionType) -> bool:
    """The question asks an amount of money: a money measure ("bao nhiêu tiền", "… đồng") or a
    money noun before "bao nhiêu" in its clause ("được mua với giá bao nhiêu", "tổng vốn … là bao
    nhiêu"); not when it names another measure ("… cho bao nhiêu bệnh nhân")."""
    if qt.kind != "quantity":
        return False
    if qt.units:
        return any(set(u.split()) & _MONEY_UNITS for u in qt.units)
    accented = has_diacritics(question)
    for clause in _CLAUSE_BREAK.split(question):
        toks = [t for t, _, _ in words(clause)]
        folded = [canon(t) for t in toks]
        asks = [i for i in range(len(folded) - 1) if tuple(folded[i : i + 2]) == _ASK]
        for a in asks:
            for f, written in _MONEY_NOUNS:
                n = len(f)
                if not accented and n == 1:
                    continue  # "gia" without accents is also "tham gia", "gia đình"
                for i in range(max(0, a - MONEY_NOUN_REACH), a - n + 1):
                    if tuple(folded[i : i + n]) == f and (not accented or _written_as_noun(toks, i, written)):
                        return True
    return False


def _written_as_noun(tokens: Sequence[str], i: int, written: Sequence[str]) -> bool:
    """Whether ``tokens[i:]`` spell the money noun ``written`` as a common noun: in lower case
    ("với giá bao nhiêu"), or capitalised only as a clause's first word that no capitalised word
    follows ("Giá bao nhiêu …"); "Giá Rai", "Chi Lăng" are place names."""
    run = tokens[i : i + len(written)]
    if tuple(run) == tuple(written):
        return True
    after = tokens[i + len(written)] if i + len(written) < len(tokens) else ""
    return i == 0 and tuple(t.lower() for t in run) == tuple(written) and not after[:1].isupper()


def is_money(span: Span) -> bool:
    """The figure is an amount of money ("2 tỷ đồng", "500 USD")."""
    return bool(set(span.unit.replace("/", " ").split()) & _MONEY_UNITS)


def part_scope(question: str, span: Span, unit: Unit) -> bool:
    """The figure's clause opens with a part of the unit the question does not name ("Khoa Nhi
    hiện có 45 giường", "…, trong đó 20 bác sĩ")."""
    text = unit.passage.text
    seg_start = unit.sent_start
    for m in _CLAUSE_BREAK.finditer(text, unit.sent_start, span.start):
        seg_start = m.end()
    opening = canon_tokens(text[seg_start : span.start])[:4]
    asked = " ".join(canon_tokens(question))
    for specialty in _SPECIALTIES:  # "Bệnh viện Đa khoa …" names no ward ("khoa")
        asked = re.sub(rf"\b{re.escape(specialty)}\b", " ", asked)
    asked_tokens = asked.split()
    for marker in _PART:
        n = len(marker)
        if any(tuple(opening[k : k + n]) == marker for k in range(0, 2)) and not contains_run(asked_tokens, marker):
            return True
    return False


def asks_total(question: str) -> bool:
    return _any_run(canon_tokens(question), _TOTAL) is not None


def shortage(question: str, span: Span) -> bool:
    """A shortage or a need right before the figure ("thiếu khoảng 1.150 bác sĩ") that the
    question does not ask about."""
    before = span.before.split()[-3:]
    found = _any_run(before, _SHORTAGE)
    return found is not None and not contains_run(canon_tokens(question), found)


def _asked_rank(question: str, qt: QuestionType) -> tuple[str, ...] | None:
    """The administrative rank of the one place the question names ("huyện Sa Thầy" → huyen;
    a province → tinh); None when it names none or several ("các huyện")."""
    folded = canon_tokens(question)
    for i, t in enumerate(folded[:-1]):
        if t in _PLURAL and any(tuple(folded[i + 1 : i + 1 + len(r)]) == r for r in _RANKS):
            return None
    for ent in qt.entities:
        if ent.kind not in ("facility", "place"):
            continue
        head = tuple(canon_tokens(question[ent.head_start : ent.start])) if 0 <= ent.head_start < ent.start else ()
        rank = next((r for r in _RANKS if head[-len(r) :] == r), None)
        if rank:
            return rank
        if ent.kind == "place" and not head:
            return ("tinh",)
    return None


def many_places(question: str, qt: QuestionType, unit: Unit) -> bool:
    """The question names one district (province, commune …) and the sentence speaks of several
    of that rank ("tại ba huyện", "các huyện A, B và C")."""
    rank = _asked_rank(question, qt)
    if rank is None:
        return False
    toks = canon_tokens(unit.sentence)
    n = len(rank)
    for i in range(1, len(toks) - n + 1):
        if tuple(toks[i : i + n]) == rank and (toks[i - 1] in _PLURAL or toks[i - 1].isdigit()):
            return True
    return False


def plan_unasked(question: str, unit: Unit) -> bool:
    """The unit's sentence states a plan, a target or a directive ("phấn đấu đến năm 2025 …", "sẽ
    cử …", "đề nghị …") and the question asks for no plan: a target is not what was done."""
    written = [t.lower() for t, _, _ in words(unit.sentence)]
    return _any_run(written, _PLAN) is not None and _any_run(canon_tokens(question), _PLAN_ASKED) is None


def other_level(question: str, unit: Unit) -> bool:
    """The question names a level of the health system ("tuyến xã") that the unit's sentence does
    not, while the sentence names another ("các bệnh viện tuyến tỉnh đạt 96%"): its figures are
    another level's."""
    asked = [lv for lv in _LEVELS if contains_run(canon_tokens(question), lv)]
    if not asked:
        return False
    sentence = list(unit.sent_tokens)
    named = [lv for lv in _LEVELS if contains_run(sentence, lv)]
    return bool(named) and not any(lv in named for lv in asked)


def doubts(question: str, qt: QuestionType, span: Span | None, unit: Unit) -> dict[str, float]:
    """The scope and qualifier features of a unit's chosen span for a quantity question, and
    whether its sentence is a plan the question does not ask for (any question)."""
    quantity = qt.kind == "quantity"
    money = quantity and asks_money(question, qt)
    part = bool(quantity and span is not None and part_scope(question, span, unit))
    out = {
        "part_scope": float(part),
        "part_of_total": float(part and asks_total(question)),
        "shortage": float(bool(quantity and span is not None and shortage(question, span))),
        "many_places": float(quantity and many_places(question, qt, unit)),
        "money_missing": float(money and (span is None or not is_money(span))),
        "plan_unasked": float(plan_unasked(question, unit)),
        "other_level": float(other_level(question, unit)),
    }
    # one reason against the figure, whichever: rare alone, together they weigh in the fit
    out["any_doubt"] = max(out.values())
    return out


def preference_doubt(question: str, qt: QuestionType, span: Span, unit: Unit) -> float:
    """How much a quantity span's preference drops for its qualifier doubts (≤ 0): a count where
    money is asked, a shortage, a part of the unit (each below the lead's doubt level)."""
    doubt = 0.0
    if asks_money(question, qt) and not is_money(span):
        doubt -= 0.5
    if shortage(question, span):
        doubt -= 0.4
    if part_scope(question, span, unit):
        doubt -= 0.3
    return doubt
