"""The operands of a computed comparison: a typed figure of the asked measure, quoted and cited.

:func:`find` answers one operand's question ("Số lượt điều trị nội trú của Bệnh viện Đa khoa tỉnh
Lâm Đồng năm 2023 bao nhiêu lượt") from the scored sentences: among the best fact's sentence and
the next best open ones (no named conflict), the figure whose unit is the asked one ("lượt", a
per cent for a rate) and whose clause says most of the question's words ("điều trị nội trú 48.215
lượt" rather than "khám cho 245.300 lượt"), preferring the figure right after the unit the question
names ("huyện Đắk Hà 58 ca và huyện Ngọc Hồi 33 ca"). A figure found below the answer threshold
is ``weak``: the comparison may still use it when its unit and period agree with the other
operand's, and says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.documents import Document

from rag.answer import compute
from rag.answer.candidates import Lookup, Unit
from rag.answer.extractive import best_fact
from rag.answer.features import Scored
from rag.answer.rendering import Fact, quote_around
from rag.answer.typed_spans import Span, find_spans
from rag.answer.scoring import Scorer, default_scorer
from rag.lang import alternation, load_lexicon
from rag.query.analysis import ABBREVIATIONS, canon, canon_tokens, match_tokens, words
from rag.query.question import Question, as_question
from rag.text import fold

CANDIDATES = 6  # open sentences searched for an operand after the best fact's one
NEAR_CHARS = 40  # a figure this close after the unit the question names is that unit's …
NEAR_BONUS = 2.0  # … and counts as two more of the question's words in its clause

_LEX = load_lexicon()
_HOW_MUCH = re.compile(rf"(?<![\w])(?:{alternation(_LEX.cues['compute_how_much'])})\s+([^\W\d]\w*)")
_COUNT_OF = re.compile(r"(?<![\w])so\s+([^\W\d]\w*)")  # "số ca phẫu thuật", "số lượt khám"
_RATE = re.compile(rf"(?<![\w])(?:{alternation(_LEX.cues['percent'])})(?![\w])")
_CLAUSE = re.compile(r"[;:,(]")
_YEAR = re.compile(r"(?:19|20)\d{2}")


_UNIT_HEAD = re.compile(
    r"(?<![\w])(cua|tai|o|benh vien|bv|bvdk|trung tam|ttyt|so y te|huyen|tinh|thanh pho|thi xa|xa|phuong|toan tinh|toan nganh|toan quoc|ca nuoc)(?![\w])"
)
_NOT_MEASURE = frozenset(("so", "bao", "nhieu", "la", "co", "cua", "nam", "thang", "may"))
_FACILITY_HEADS = tuple(tuple(h.split()) for h in _LEX.cues["facility_heads"])
_FILLERS = frozenset(w for f in _LEX.cues["facility_fillers"] for w in f.split())
_PUNCT = re.compile(r"[,;:.()–-]")
HEAD_REACH = 6  # tokens before a named place in which a facility head makes it part of a facility's name
# a bound, not a figure: "dưới 70%", "hơn 86 tỷ" cannot be computed with
_BOUND = re.compile(rf"^(?:{alternation(_LEX.cues['figure_bounds'])})\s")  # on the folded span


def measure_of(text: str) -> str:
    """What a question measures, without the unit it is about: "Số ca phẫu thuật năm 2023 của Bệnh
    viện X" → "Số ca phẫu thuật năm 2023" (the text before the first unit head); "" when that
    leaves under two words ("Huyện Đắk Hà có bao nhiêu ca": the unit comes first)."""
    m = _UNIT_HEAD.search(fold(text).lower())
    head = text[: m.start()].strip(" ,") if m else ""
    return head if len(head.split()) >= 2 else ""


@dataclass(frozen=True)
class Found:
    """An operand: the fact quoting it, its figure, how sure, and whether below the threshold."""

    fact: Fact
    operand: compute.Operand
    confidence: float
    weak: bool


def asked_unit(question: str) -> str:
    """The unit the question asks in, folded: "%" for a rate ("tỷ lệ", "công suất"), else the word
    after "bao nhiêu" ("luot", "ca", "giuong"), "" when it names none."""
    folded = fold(question).lower()
    if _RATE.search(folded):
        return "%"
    m = _HOW_MUCH.search(folded)
    if m and m.group(1) not in _NOT_UNITS:
        return m.group(1)
    m = _COUNT_OF.search(folded)
    return m.group(1) if m and m.group(1) not in _NOT_UNITS else ""


_NOT_UNITS = frozenset(("phan", "lan", "la", "voi", "sanh", "lieu", "nam", "thang"))


def find(
    question: str | Question,
    docs: Sequence[Document],
    lookup: Lookup | None,
    scorer: Scorer | None,
    avoid: tuple[str, int, int] | None = None,
    want_unit: str | None = None,
) -> tuple[Found | None, list[Scored]]:
    """The operand of ``question`` (see the module) in ``want_unit`` (default: the one it asks, see
    :func:`asked_unit`), not the figure at ``avoid`` (document id and offsets in the document of
    the other operand's figure); None with the scored units."""
    asked = as_question(question)
    scorer = scorer or default_scorer()
    fact, scored = best_fact(asked, docs, lookup, scorer=scorer)
    units: list[tuple[Unit, float, Span | None]] = [(fact.unit, fact.confidence, fact.span)] if fact is not None else []
    units += [(s.unit, s.score if s.confidence is None else s.confidence, None) for s in scored if s.rejected is None][:CANDIDATES]
    want = asked_unit(asked.text) if want_unit is None else want_unit
    named = [e for e in asked.entities if e.kind in ("facility", "place", "name")]
    anchors = [fold(e.text).lower() for e in named]
    words = {t for t in match_tokens(measure_of(asked.text) or asked.text) if not _YEAR.fullmatch(t)} - set(asked.type.qwords) - _NOT_MEASURE
    best: tuple[tuple[float, ...], Unit, Span, float] | None = None
    seen: set[tuple[str, int, int]] = set()
    for rank, (unit, confidence, preferred) in enumerate(units):
        key_u = (unit.passage.doc_id, unit.passage.start, unit.sent_start)
        if key_u in seen:
            continue
        seen.add(key_u)
        if confidence < scorer.threshold and not names_subject(unit, named):
            continue  # a weak sentence must name the asked unit itself (a stronger one the scorer vouched for)
        if other_facility(unit.sentence, asked.text, named):
            continue  # "Bệnh viện II Lâm Đồng" when "Bệnh viện Đa khoa tỉnh Lâm Đồng" was asked
        for span in _figures(unit, avoid):
            op = compute.operand(span.text, span.unit, unit.sentence)
            if op is None or want and op.unit != want and not (want == "%" and op.unit == "%"):
                continue
            score = (_overlap(unit, span, words) + _near(unit, span, anchors), preferred == span, -rank)
            if best is None or score > best[0]:
                best = (score, unit, span, confidence)
    if best is None:
        return None, scored
    _, unit, span, confidence = best
    op = compute.operand(span.text, span.unit, unit.sentence, unit.passage.title, asked.text)
    if op is None:
        return None, scored
    found = Fact(unit, span, [quote_around(unit.passage.text, unit.sent_start, unit.sent_end, span)], confidence, 1.0, confidence, True)
    return Found(found, op, confidence, confidence < scorer.threshold), scored


def names_subject(unit: Unit, named: list) -> bool:
    """Every unit the question names is in the sentence, the one before it, or the title."""
    p = unit.passage
    context = " ".join(match_tokens(" ".join((unit.sentence, p.text[unit.prev_start or 0 : unit.prev_end or 0], p.title))))
    return all(" " + " ".join(e.tokens) + " " in f" {context} " for e in named)


def other_facility(sentence: str, question: str, named: list) -> bool:
    """The sentence names a place the question names only inside another facility's name: a
    facility head a few words before it whose name words the question does not say ("Bệnh viện
    II Lâm Đồng" for "Bệnh viện Đa khoa tỉnh Lâm Đồng"), and never as the asked one."""
    asked = set(canon_tokens(question))
    asked |= {w for t in list(asked) for w in ABBREVIATIONS.get(t, ())}
    if asked & set(_LEX.cues["general_short"]):
        asked |= {"da", "khoa"}  # "BVĐK", "BV … ĐK": a general hospital
    found = words(sentence)
    toks = [canon(t) for t, _, _ in found]
    other = False
    for e in named:
        run = list(e.tokens)
        for i in (i for i in range(len(toks) - len(run) + 1) if toks[i : i + len(run)] == run):
            k = i  # the words before the place, back to a punctuation mark (a name has none)
            while k > max(0, i - HEAD_REACH) and not _PUNCT.search(sentence[found[k - 1][2] : found[k][1]]):
                k -= 1
            name = _facility_words(toks[k:i])
            if name is None:
                continue  # the place alone ("tỉnh Lâm Đồng"): no facility's name
            if not name - _FILLERS <= asked:
                other = True
            else:
                return False  # the asked facility itself
    return other


def _facility_words(before: list[str]) -> set[str] | None:
    """The name words after the last facility head of ``before`` (tokens), None without a head."""
    for j in range(len(before) - 1, -1, -1):
        for head in _FACILITY_HEADS:
            if tuple(before[j : j + len(head)]) == head:
                return set(before[j + len(head) :])
    return None


def _figures(unit: Unit, avoid: tuple[str, int, int] | None) -> list[Span]:
    """The sentence's figures (years, stated changes and bounds such as "dưới 70%" aside), without
    the other operand's."""
    p = unit.passage
    return [
        sp
        for sp in find_spans("quantity", p.text, unit.sent_start, unit.sent_end)
        if not _YEAR.fullmatch(sp.text) and not sp.change and not _BOUND.match(fold(sp.text).lower())
        and (p.doc_id, p.start + sp.start, p.start + sp.end) != avoid
    ]


def _overlap(unit: Unit, span: Span, words: set[str]) -> float:
    """How many of the question's words the figure's clause says (the clause: from the last ";",
    ":", "," or "(" before the figure, or the sentence start, to the end of its unit words)."""
    text = unit.passage.text
    head = text[unit.sent_start : span.start]
    cut = max((m.end() for m in _CLAUSE.finditer(head)), default=0)
    clause = head[cut:] + " " + span.text + " " + span.unit
    return float(len(words & set(match_tokens(clause))))


def _near(unit: Unit, span: Span, anchors: list[str]) -> float:
    """NEAR_BONUS when a unit the question names is written just before the figure (no other
    figure between them), else 0."""
    text = fold(unit.passage.text).lower()
    for a in anchors:
        i = text.rfind(a, unit.sent_start, span.start)
        if i >= 0 and span.start - (i + len(a)) <= NEAR_CHARS and not re.search(r"\d", text[i + len(a) : span.start]):
            return NEAR_BONUS
    return 0.0


__all__ = ["CANDIDATES", "Found", "asked_unit", "find", "measure_of", "names_subject", "other_facility"]
