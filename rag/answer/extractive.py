"""The offline answerer: pick the sentence that answers, copy the requested span, cite it.

Nothing here generates text: every number, name and date in an answer is a verbatim slice of a
retrieved passage, and each quote points at the passage (and document offsets) it came from.

Pipeline for one question (a two-fact question is split by :func:`rag.answer.compose.sub_questions`,
each half retrieved and answered on its own, so the two facts may come from two documents):

1. candidate *units*: the clauses (``;``-separated parts of sentences, via
   :func:`rag.text.sentence_spans`) of the top passages, or whole sentences for list / other
   questions; each knows its sentence, the previous sentence of its paragraph, its document title
   and its document's lead. Instruction-like sentences ("bỏ qua hướng dẫn…") are never candidates.
2. topic coverage: idf-weighted share of the question's topic words (folded, so accent-less
   questions match) found in the unit; paraphrases ("nằm viện" ≈ "nội trú") and two-syllable words
   the reports also write together ("chuyển tuyến" is not "trực tuyến") count as one group. Entity
   words are not topic (they are checked below), nor is the unit a number must carry.
3. features of each unit (:data:`rag.answer.scoring.FEATURES`): coverage, retrieval ranks, whether
   every entity of the question (place, facility, person, year, number) is named by the sentence,
   its paragraph's previous sentence, the title or the lead, a wider scope ("toàn tỉnh"), a
   part-year figure for a full-year question, and for a typed question (how many / who / when /
   where) the best span of that type with the right unit ("bao nhiêu giường" is not answered by
   "100,4%" nor by "55 giường bệnh/1 vạn dân"), the right role ("Giám đốc Bệnh viện" is not
   "Giám đốc Sở Y tế") and something the question did not already say. A calibrated model
   (:mod:`rag.answer.scoring`, fitted by ``python -m eval.fit_scorer``) turns them into P(the unit
   answers); the answerer abstains when the best P is under the fitted threshold. Only named
   conflicts veto a unit outright: a sentence stating other years, or about another named unit.
4. the best unit's span is bolded and its sentence (or the clauses around the span, for long
   sentences) quoted and cited.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from langchain_core.documents import Document

from rag.query.analysis import (
    ABBREVIATIONS,
    MEASURE_UNITS,
    PROVINCES,
    SURNAMES,
    QuestionType,
    analyze,
    canon,
    match_tokens,
    words,
)
from rag.answer import spans as generic
from rag.answer.spans import Found
from rag.lang import alternation, both_cases, load_lexicon
from rag.answer.scoring import SEMANTIC_FEATURES, SEMANTIC_UNITS, EmbedFn, Logistic, Scorer, default_scorer
from rag.index.records import indexed_text
from rag.text import fold, sentence_spans

NOT_FOUND = "Không tìm thấy thông tin này trong các báo cáo hiện có."

# ---------------------------------------------------------------------------------------------
# Candidate and quote parameters (the answer/abstain decision is the scorer's: rag/answer/scoring.py)
# ---------------------------------------------------------------------------------------------
MAX_PASSAGES = 8  # passages considered per (sub-)question
MIN_TOPIC_WEIGHT = 0.5  # below this total topic weight the question is all entities: rely on them
SENTENCE_CONTEXT_WEIGHT = 0.4  # a keyword found only in another clause of the unit's sentence
TITLE_CONTEXT_WEIGHT = 0.5  # a keyword found only in the document title / lead
QUOTE_MAX_CHARS = 420  # longer sentences are quoted by the clauses around the answer
LEAD_MAX_CHARS = 400  # how much of a document's beginning counts as its lead (context for entities)
RELATED_MAX = 3

Lookup = Callable[[str], "str | None"]


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Span:
    """A typed answer span inside a passage (offsets within the passage text)."""

    kind: str
    start: int
    end: int
    text: str
    unit: str = ""  # folded unit words after a number ("luot nguoi", "%")
    before: str = ""  # folded words just before (context: "tang", "ty le", roles…)
    change: bool = False  # "tăng 73 lượt", "bằng 110%"
    in_parens: bool = False
    comparison: bool = False  # followed by "so với …"
    roles: tuple[tuple[bool, str, str | None], ...] = ()  # (deputy, role, organisation) of a person


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


# ---------------------------------------------------------------------------------------------
# Spans
# ---------------------------------------------------------------------------------------------

_LEX = load_lexicon()
_UNIT_HEADS = sorted(
    {u for units in MEASURE_UNITS.values() for u in units} | set(_LEX.unit_heads),
    key=lambda u: -len(u.split()),
)
_MULTIPLIERS = _LEX.multipliers
_QUALIFIERS = _LEX.qualifiers
_CHANGES = _LEX.changes
_NUM = r"\d+(?:[.,]\d+)*"
_NUMBER = re.compile(rf"(?<![\w/.,-]){_NUM}(?:/\d{{1,3}})?%?(?![\w/]|[.,]\d)")
_ROMAN = re.compile(rf"\b({alternation(_LEX.spans['ordinal_heads'], longest_first=True)})\s+(I|II|III|IV|V|VI|VII|VIII|IX|X|XI|XII)\b", re.IGNORECASE)
_SCALES = alternation(tuple(k for k in _LEX.number_scales if k != "vạn"))
_WORD_NUMBER = re.compile(
    rf"\b(?:{alternation(_LEX.vague_amounts)})\s+(?:{_SCALES})(?:\s+(?:{_SCALES}))?(?:\s+(?:đồng|lượt|người|ca))?",
    re.IGNORECASE,
)
_IDENTIFIER_BEFORE = re.compile(  # "Nghị quyết (số) 28", "Đề án 06": identifiers, not quantities
    rf"(?:{alternation(_LEX.document_types)})(?:\s+số)?\s*$"
)
_YEAR_ONLY = re.compile(r"^(?:19|20)\d{2}$")

_DAY_PARTS = alternation(_LEX.spans["day_parts"], longest_first=True)  # "ngày", "sáng", "chiều" …

_TITLES = (
    rf"(?:{alternation(both_cases(_LEX.titles))}|"
    + "|".join(re.escape(t) + r"\.?" for t in sorted(_LEX.title_abbreviations, key=len, reverse=True))
    + ")"
)
_CAP = r"[A-ZÀ-ỸĐ][a-zà-ỹđ]*"

_FACILITY_HEAD = re.compile(rf"(?<![\wÀ-ỹ])({alternation(_LEX.facility_heads_written)})")
_FACILITY_QUAL = re.compile(rf"\s+(?:tuyến\s+)?(?:{alternation(_LEX.facility_qualifiers)})(?=[\s\-–,.;:)]|$)")
_NAME_WORD = re.compile(rf"\s+({_CAP}|[a-zà-ỹđ]+)")
_PLACE_STOP = _LEX.place_stop

_AGGREGATE_SCOPE = re.compile(rf"\b({alternation(_LEX.aggregate_scopes)})\b")


def _folded_lower(text: str) -> str:
    return fold(text).lower()


def _words_before(text: str, pos: int, n: int) -> str:
    """The ``n`` words before ``pos`` (folded, lower)."""
    toks = [t for t, _, _ in words(text[max(0, pos - 60) : pos])]
    return " ".join(canon(t) for t in toks[-n:])


# lower-case words after a number that are not the noun it counts ("20 tham gia", "5 và")
_NOT_COUNTED = _LEX.stop_accented | _LEX.place_stop | frozenset(_QUALIFIERS + _CHANGES + _LEX.spans["not_counted"])


def _counted_noun(word: str) -> bool:
    return word not in _NOT_COUNTED and canon(word) not in _LEX.stop_folded


def _unit_after(text: str, end: int, limit: int) -> tuple[int, str]:
    """Extend a number span over a multiplier and a known unit phrase; returns (new end, folded unit)."""
    pos = end
    unit_words: list[str] = []
    m = re.match(r"\s*%", text[pos:limit])
    if m:
        return pos + m.end(), "%"
    m = re.match(rf"\s+({'|'.join(_MULTIPLIERS)})(?![\wÀ-ỹ])", text[pos:limit], re.IGNORECASE)
    if m:
        pos += m.end()
        unit_words.append(canon(m.group(1)))
    rest = text[pos:limit]
    toks = words(rest)
    if toks and rest[: toks[0][1]].strip() == "":
        folded = [canon(t) for t, _, _ in toks[:4]]
        for head in _UNIT_HEADS:
            h = head.split()
            if folded[: len(h)] == h:
                j = len(h)
                # unit phrases run on while the next word is a unit-ish lower-case word ("lượt bệnh nhân")
                while j < len(toks) and j < 3 and folded[j] in _LEX.unit_continuations:
                    if rest[toks[j - 1][2] : toks[j][1]].strip():
                        break
                    j += 1
                pos += toks[j - 1][2]
                unit_words.extend(folded[:j])
                break
        else:
            if toks[0][0].isupper() and len(toks[0][0]) >= 3 and toks[0][0].isalpha():  # "161 CBCNV"
                pos += toks[0][2]
                unit_words.append(canon(toks[0][0]))
            elif toks[0][0].islower() and toks[0][0].isalpha() and _counted_noun(toks[0][0]):
                pos += toks[0][2]  # any noun counted: "300 suất", "73,7 tuổi"
                unit_words.append(canon(toks[0][0]))
    # a rate: "55 giường bệnh/1 vạn dân"
    m = re.match(r"/\s*\d*\s*(?:vạn|nghìn|ngàn|triệu|100\.000|10\.000)?\s*[a-zà-ỹđ]+", text[pos:limit])
    if m and unit_words:
        pos += m.end()
        unit_words.append("/" + canon(m.group().strip("/ ").split()[-1]))
    return pos, " ".join(unit_words)


def quantity_spans(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Numbers with their qualifier and unit in ``text[start:end]``: "trên 383.605 lượt người", "95,25%"."""
    end = len(text) if end is None else end
    spans: list[Span] = []
    region = text[start:end]
    for m in _NUMBER.finditer(region):
        s, e = start + m.start(), start + m.end()
        raw = m.group()
        before_text = text[max(start, s - 30) : s]
        if _YEAR_ONLY.match(raw) and re.search(r"(năm|Năm|–|-)\s*$", before_text):
            continue  # a year, not a quantity
        if _YEAR_ONLY.match(raw) and re.match(r"\s*[–-]\s*(?:19|20)\d{2}", text[e:end]):
            continue
        if _IDENTIFIER_BEFORE.search(before_text):
            continue  # "Nghị quyết 28", "Đề án 06", "COVID-19"
        if re.match(r"[-–]?[A-ZĐ]{2,}", text[e : e + 4]) or re.match(r"/(?:19|20)\d{2}/", text[e : e + 7]):
            continue  # "128-NQ/CP", "28/2023/NQ-HĐND"
        if re.fullmatch(r"\d{1,2}/\d{1,2}", raw) and re.search(rf"({_DAY_PARTS})\s*$", before_text, re.IGNORECASE):
            continue  # "Chiều 20/6" is a date
        new_end, unit = _unit_after(text, e, end)
        if raw.endswith("%"):
            unit = "%"
            new_end = e
        # qualifier before ("trên", "gần", "thứ", "tăng"…)
        s2 = s
        mq = re.search(rf"(?:^|[\s(])((?:{'|'.join(_QUALIFIERS + _CHANGES)})(?:\s+(?:{'|'.join(_QUALIFIERS)}))?)\s+$", text[max(start, s - 25) : s], re.IGNORECASE)
        change = False
        if mq:
            s2 = s - (len(text[max(start, s - 25) : s]) - mq.start(1))
            change = _folded_lower(mq.group(1)).split()[0] in ("tang", "giam", "bang", "vuot", "them")
        paren_open = text.rfind("(", start, s)
        in_parens = paren_open >= 0 and text.find(")", paren_open, s) < 0
        comparison = bool(re.match(r"\s*(?:\S+\s+){0,3}?so với", text[new_end : new_end + 40]))
        spans.append(
            Span("quantity", s2, new_end, text[s2:new_end], unit, _words_before(text, s2, 8), change, in_parens, comparison)
        )
    for rx in (_ROMAN, _WORD_NUMBER):
        for m in rx.finditer(region):
            s, e = start + m.start(), start + m.end()
            unit = canon(m.group().split()[0]) if rx is _ROMAN else "tien" if "đồng" in m.group() else ""
            spans.append(Span("quantity", s, e, text[s:e], unit, _words_before(text, s, 8)))
    spans.sort(key=lambda sp: sp.start)
    return spans


def date_spans(text: str, start: int = 0, end: int | None = None, years: bool = False) -> list[Span]:
    """Dates ("Ngày 5/1/2024", "Chiều 20/6", "tháng 12/2023", "ngày 16 tháng 9"): the one set of
    date patterns, :func:`rag.answer.spans.dates`; with ``years``, periods and years too ("năm 2025")."""
    end = len(text) if end is None else end
    return [_from_found(f, text, end) for f in generic.dates(text, start, end) if years or f.kind == "date"]


_SYLLABLE = re.compile(r"[^\W\d_]+")
_PLACE_MARKER_END = re.compile(rf"({alternation(_LEX.place_markers)})$")


def person_spans(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Vietnamese personal names: 2-4 capitalised syllables starting with a surname.

    Two-syllable runs count only after a title or before a role ("Mạc Thảo" as a byline does not,
    nor does "Đầm Hà" in a list of districts); runs after a place word ("huyện", "khu vực") and
    province names are places, not people.
    """
    end = len(text) if end is None else end
    toks = [(m.group(), m.start(), m.end()) for m in _SYLLABLE.finditer(text, start, end)]
    spans: list[Span] = []
    i = 0
    while i < len(toks):
        word = toks[i][0]
        if not (word[0].isupper() and canon(word) in SURNAMES and (len(word) == 1 or not word.isupper())):
            i += 1
            continue
        k = i + 1
        while k < len(toks) and k - i < 4 and toks[k][0][0].isupper() and not (len(toks[k][0]) > 1 and toks[k][0].isupper()):
            if text[toks[k - 1][2] : toks[k][1]] not in (" ", "\u00a0"):
                break
            k += 1
        n = k - i
        s, e = toks[i][1], toks[k - 1][2]
        if n < 2:
            i += 1
            continue
        folded_run = tuple(canon(t[0]) for t in toks[i:k])
        before = text[max(start, s - 40) : s]
        titled = re.search(rf"{_TITLES}\s*[.]?\s*$", before) is not None
        prev_word = _words_before(text, s, 3)
        roles = _roles_after(text[e : min(end, e + 140)]) or _roles_before(text[max(start, s - 70) : s])
        if (
            folded_run in PROVINCES
            or n == 2
            and _PLACE_MARKER_END.search(prev_word)
            and not titled
            or (n == 2 and not titled and not roles)
            or any(w in _LEX.not_given_names for w in folded_run[1:2])
            and not titled
        ):
            i = k
            continue
        after = text[e : min(end, e + 50)]
        after = re.split(r"[;.]\s|\s–\s(?=[A-ZĐ][a-zà-ỹđ]+\s+[A-ZĐ])", after)[0]
        role_before = re.split(r"[;,.]\s", before)[-1]
        spans.append(Span("person", s, e, text[s:e], before=_folded_lower(role_before + " | " + after), roles=roles))
        i = k
    return spans


_ROLE_RX = re.compile(
    rf"(pho )?({alternation(_LEX.roles)})"
    rf"(?:\s*,?\s*({alternation(_LEX.role_orgs, longest_first=True)}))?"
)
_ORG_CANON = _LEX.role_org_canonical
_ORG_START = re.compile(rf"^({alternation(_LEX.org_starts)})\b")


def _role_tuple(m: re.Match[str]) -> tuple[bool, str, str | None]:
    role = "giam doc" if m.group(2) == "dung dau" else m.group(2)
    org = m.group(3)
    return (bool(m.group(1)), role, _ORG_CANON.get(org, org) if org else None)


def _roles_after(after: str) -> tuple[tuple[bool, str, str | None], ...]:
    """Titles right after a name: "– Phó Giám đốc Bệnh viện, …", ", Bí thư Đảng ủy, Giám đốc Sở Y tế"."""
    folded = _folded_lower(after)
    folded = re.split(r";|\.\s|\s[-–]\s(?=\S+ \S+ [a-z])", folded)[0] if not re.match(r"\s*[-–]", folded) else folded
    folded = re.sub(r"^[\s\-–,:]+", "", folded)
    segments = [seg.strip() for seg in folded.split(",")]
    roles: list[tuple[bool, str, str | None]] = []
    for i, seg in enumerate(segments):
        seg = re.sub(r"^(tuv\.?\s*)", "", seg)
        m = _ROLE_RX.match(seg)
        if not m:
            if roles and roles[-1][2] is None and _ORG_START.match(seg):
                d, r, _ = roles[-1]
                o = _ORG_START.match(seg).group(1)  # type: ignore[union-attr]
                roles[-1] = (d, r, _ORG_CANON.get(o, o))
            break
        roles.append(_role_tuple(m))
        if i >= 4:
            break
    return tuple(roles)


def _roles_before(before: str) -> tuple[tuple[bool, str, str | None], ...]:
    """A title right before a name: "Giám đốc Sở Y tế Lê Hồng Trung", "Phó Chủ tịch UBND tỉnh Phạm Duy Hưng"."""
    seg = re.split(r"[,;:.(]\s", before)[-1]
    folded = _folded_lower(seg)
    found = list(_ROLE_RX.finditer(folded))
    if not found:
        return ()
    m = found[-1]
    if len(folded) - m.end() > 30:
        return ()
    return (_role_tuple(m),)


def question_role(question: str) -> tuple[bool, str, str | None] | None:
    """The role a person question asks about: "Giám đốc Bệnh viện Bãi Cháy" → (False, "giam doc", "benh vien")."""
    folded = " ".join(canon(t) for t, _, _ in words(question))
    m = _ROLE_RX.search(folded)
    return _role_tuple(m) if m else None


def _role_matches(q: tuple[bool, str, str | None], r: tuple[bool, str, str | None]) -> bool:
    qd, qr, qo = q
    rd, rr, ro = r
    if qr not in ("lanh dao",) and rr not in ("lanh dao", "uy vien", "tuv") and qr != rr:
        return False
    if qr != "lanh dao" and qd != rd:
        return False
    if qo and ro and qo != ro:
        return False
    return True


def place_spans(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Facility and place names: "Bệnh viện Bãi Cháy", "Trung tâm Y tế huyện Bình Liêu", "khu vực Bắc Trung bộ"."""
    end = len(text) if end is None else end
    spans: list[Span] = []
    for m in _FACILITY_HEAD.finditer(text, start, end):
        s, e = m.span()
        if spans and s < spans[-1].end:
            continue
        head = m.group()
        pos = e
        q = _FACILITY_QUAL.match(text, pos, end)
        while q:  # "Bệnh viện Đa khoa tỉnh Lào Cai"
            pos = q.end()
            q = _FACILITY_QUAL.match(text, pos, end) or q
            if q.end() == pos:
                break
        name_start = pos
        n_words = 0
        while n_words < 5:
            w = _NAME_WORD.match(text, pos, end)
            if not w:
                break
            word = w.group(1)
            if n_words == 0 and not word[0].isupper():
                break
            if n_words > 0 and not word[0].isupper():
                if word.lower() in _PLACE_STOP or canon(word) in _LEX.place_stop_folded:
                    break
                nxt = _NAME_WORD.match(text, w.end(), end)
                # a lower-case word continues the name only between capitalised words or as its tail
                if nxt and nxt.group(1)[0].islower() and nxt.group(1).lower() not in _PLACE_STOP:
                    break
            if word in ("Y",) and text[w.end() : w.end() + 3] == " tế":
                break
            pos = w.end()
            n_words += 1
        name_words = text[name_start:pos].split()
        if len(name_words) >= 3 and canon(name_words[0]) in SURNAMES:
            pos = name_start  # "Sở Y tế Lê Hồng Trung": a person follows, not a place name
        has_name = pos > name_start
        specific_head = head in _LEX.specific_heads
        if not has_name and not (specific_head or q):
            continue
        if not has_name and head[:1].islower():
            continue  # "trạm y tế xã", "bệnh viện tuyến huyện": a kind of unit, not a name
        if not has_name and q and head.lower() in ("tỉnh", "huyện", "xã"):
            continue
        spans.append(Span("place", s, pos, text[s:pos], before=_words_before(text, s, 8)))
    return spans


def _from_found(f: Found, text: str, end: int) -> Span:
    """A generic detection (rag.answer.spans) as a :class:`Span` with the context scoring reads."""
    before = _words_before(text, f.start, 8)
    if f.kind in ("number", "range"):
        new_end, unit = (f.end, "%") if text[f.start : f.end].endswith("%") else _unit_after(text, f.end, end)
        start = f.start
        mq = re.search(rf"(?:^|\s)({'|'.join(_QUALIFIERS)})\s+$", text[max(0, f.start - 15) : f.start], re.IGNORECASE)
        if mq and f.kind == "number":  # "khoảng một trăm hai mươi lượt"
            start = f.start - (len(text[max(0, f.start - 15) : f.start]) - mq.start(1))
        return Span("quantity", start, new_end, text[start:new_end], unit, _words_before(text, start, 8))
    if f.kind == "ordinal":
        return Span("quantity", f.start, f.end, text[f.start : f.end], canon(text[f.start : f.end].split()[0]), before)
    if f.kind == "person":
        roles = _roles_after(text[f.end : min(end, f.end + 140)]) or _roles_before(text[max(0, f.start - 70) : f.start])
        return Span("person", f.start, f.end, text[f.start : f.end], before=before, roles=roles)
    return Span("date" if f.kind in ("date", "period") else "place", f.start, f.end, text[f.start : f.end], before=before)


def find_spans(kind: str, text: str, start: int = 0, end: int | None = None, years: bool = False) -> list[Span]:
    """Spans of ``kind`` ("quantity", "date", "person", "place") in ``text[start:end]``: the
    detectors above and the generic ones of :mod:`rag.answer.spans`, overlaps resolved longest first.
    Without ``years`` (a question asking a year or a period), periods coarser than a month ("năm
    2024", "6 tháng đầu năm 2024") are not dates."""
    end = len(text) if end is None else end
    if kind == "quantity":
        found = [*generic.word_numbers(text, start, end), *generic.ordinals(text, start, end), *generic.ranges(text, start, end)]
        periods = [(f.start, f.end) for f in generic.dates(text, start, end)]
        # a number inside a date ("6 tháng đầu năm 2024", "thế kỷ 11") is not a quantity, an ordinal
        # ("quý IV", "hạng II") stays one
        old = [
            sp
            for sp in quantity_spans(text, start, end)
            if not any(a <= sp.start and sp.end <= b for a, b in periods) or canon(sp.text.split()[0]) in _LEX.ordinal_heads
        ]
    elif kind == "date":
        return date_spans(text, start, end, years=years)
    elif kind == "person":
        found, old = generic.persons(text, start, end), person_spans(text, start, end)
    elif kind == "place":
        found, old = generic.organisations(text, start, end), place_spans(text, start, end)
    else:
        return []
    return generic.keep_longest(old + [_from_found(f, text, end) for f in found])


# ---------------------------------------------------------------------------------------------
# Candidate units
# ---------------------------------------------------------------------------------------------


def _passages(docs: Sequence[Document], lookup: Lookup | None) -> list[Passage]:
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


def _units(passages: list[Passage], by_sentence: bool = False) -> list[Unit]:
    """Candidate units: clauses, or whole sentences (``by_sentence``, for list/other questions
    whose answer is usually a whole enumeration). Instruction-like sentences are skipped."""
    units: list[Unit] = []
    seen: set[tuple[str, int, int]] = set()
    for p in passages:
        prev: tuple[int, int] | None = None
        prev_tokens: list[str] = []
        for s, e in sentence_spans(p.text):
            if _INSTRUCTION.search(_folded_lower(p.text[s:e])):
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


def _contains_run(tokens: list[str], run: Sequence[str]) -> bool:
    n = len(run)
    if n == 0:
        return True
    first = run[0]
    for i, t in enumerate(tokens):
        if t == first and list(tokens[i : i + n]) == list(run):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# Keywords and scoring
# ---------------------------------------------------------------------------------------------

# Paraphrases common in questions: a keyword run → alternatives that count as the same words.
SYNONYMS: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = load_lexicon().synonyms  # rag/lang/vi/synonyms.toml


@dataclass
class KeywordGroup:
    alts: tuple[tuple[str, ...], ...]
    weight: float
    entity: bool = False
    compound: bool = False  # a two-syllable word: weighs as both syllables


def _question_tokens(question: str, qt: QuestionType, exclude: set[str] = frozenset()) -> list[str]:
    """The question's canonical tokens in order; "" for the head nouns of its entities ("Bệnh
    viện" of "Bệnh viện Bãi Cháy") and for ``exclude``d words, so they never form a compound."""
    spans = [(e.head_start, e.start) for e in qt.entities if 0 <= e.head_start < e.start]
    out: list[str] = []
    for t, s, e in words(question):
        masked = any(a <= s and e <= b for a, b in spans)
        for c in ABBREVIATIONS.get(canon(t), (canon(t),)):
            out.append("" if masked or c in exclude else c)
    return out


def _keyword_groups(qt: QuestionType, question: str, units: Sequence[Unit] = (), exclude: set[str] = frozenset()) -> list[KeywordGroup]:
    """Keyword groups of a question: paraphrases ("nằm viện" ≈ "nội trú"), then two-syllable words
    the reports also write as one word ("chuyển tuyến" must not be matched by "trực tuyến"), then
    the remaining single syllables."""
    entity_tokens = {t for e in qt.entities for t in e.tokens}
    q_tokens = _question_tokens(question, qt, exclude)
    weight = dict(zip(qt.keywords_folded, qt.weights))
    phrases = [(run, alts) for run, alts in SYNONYMS.items() if _contains_run(match_tokens(question), run)]
    used = {t for run, _ in phrases for t in run}  # tokens that are part of a phrase or compound
    groups = [KeywordGroup((run,) + alts, 1.0) for run, alts in phrases]
    # how often each syllable pair is written together in the candidate sentences and titles
    pair_count: dict[tuple[str, str], int] = {}
    seen_sentences: set[tuple[str, int]] = set()
    for u in units:
        if (u.passage.doc_id, u.passage.start + u.sent_start) in seen_sentences:
            continue
        seen_sentences.add((u.passage.doc_id, u.passage.start + u.sent_start))
        for pair in zip(u.sent_tokens, u.sent_tokens[1:]):
            pair_count[pair] = pair_count.get(pair, 0) + 1

    def pair_value(i: int) -> int:
        a, b = q_tokens[i], q_tokens[i + 1]
        if not a or not b or a not in weight or b not in weight or a == b or a in entity_tokens or b in entity_tokens:
            return 0
        if a[:1].isdigit() or b[:1].isdigit() or any(_contains_run(list(run), (a, b)) for run, _ in phrases):
            return 0
        return pair_count.get((a, b), 0)

    # non-overlapping pairs with the largest total count ("sở | y tế | yêu cầu", not "sở y | tế yêu")
    n = len(q_tokens)
    best = [0] * (n + 2)
    take = [False] * (n + 1)
    for i in range(n - 2, -1, -1):
        with_pair = pair_value(i) + best[i + 2] if pair_value(i) else -1
        if with_pair > best[i + 1]:
            best[i], take[i] = with_pair, True
        else:
            best[i] = best[i + 1]
    seen_pairs: set[tuple[str, str]] = set()
    i = 0
    while i < n - 1:
        if take[i]:
            a, b = q_tokens[i], q_tokens[i + 1]
            if (a, b) not in seen_pairs:
                groups.append(KeywordGroup(((a, b),), max(weight[a], weight[b]), compound=True))
                seen_pairs.add((a, b))
                used.update((a, b))
            i += 2
            continue
        i += 1
    groups.extend(
        KeywordGroup((tuple(k.split()),), w, k in entity_tokens)
        for k, w in zip(qt.keywords_folded, qt.weights)
        if k not in used
    )
    return groups


def _idf(units: list[Unit]) -> Callable[[tuple[str, ...]], float]:
    sentences: dict[tuple[str, int, int], set[str]] = {}
    for u in units:
        sentences[(u.passage.doc_id, u.passage.start + u.sent_start, u.passage.start + u.sent_end)] = set(u.sent_tokens)
    n = max(1, len(sentences))
    df: dict[str, int] = {}
    for toks in sentences.values():
        for t in toks:
            df[t] = df.get(t, 0) + 1

    def idf(run: tuple[str, ...]) -> float:
        value = max(math.log(1 + (n - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5)) for t in run)
        return max(0.15, value)

    return idf


@dataclass
class Scored:
    unit: Unit
    score: float  # P(this unit answers the question), from the calibrated scorer
    coverage: float
    span: Span | None
    rejected: str | None  # a named conflict that rules the unit out (another year, another unit)
    span_in_prev: bool = False  # the span is in the previous sentence (context)
    features: dict[str, float] = field(default_factory=dict)
    doubt: str | None = None  # the strongest reason against the unit (shown when it is below the threshold)
    confidence: float | None = None  # the answer model's P, for the best unit only


def _entity_ok(qt: QuestionType, question: str, unit: Unit) -> str | None:
    """None when every entity of the question is mentioned in context; else what is missing.

    Context is the sentence, the previous sentence of its paragraph ("Đối với Trung tâm Y tế khu
    vực Lạc Thủy. TS. Lê Hồng Trung … yêu cầu …"), the document title and its lead. A name found
    only in the title/lead does not count when the sentence is about a wider scope ("toàn tỉnh",
    "các đơn vị") or names another unit; a year must be in the sentence or title, and a sentence
    that states other years (not as a comparison baseline) never answers for this one.
    """
    p = unit.passage
    sentence = unit.sentence
    sent_folded = _folded_lower(sentence)
    q_folded = " ".join(canon(t) for t, _, _ in words(question))
    for ent in qt.entities:
        toks = list(ent.tokens)
        if ent.kind == "year":
            year = toks[0]
            same_period = re.search(rf"cung ky (?:nam )?{year}", q_folded)
            if same_period and "cung ky" in sent_folded:
                continue
            baseline = bool(re.search(rf"(so voi|cung ky) (?:cung ky )?(?:nam )?{year}", q_folded))
            stated = _years_stated(sentence, as_baseline=baseline)
            if stated and year not in stated:
                return f"the sentence is about {', '.join(sorted(stated))}, not {year}"
            if year in stated or _contains_run(p.title_tokens, toks):
                continue
            if unit.prev_start is not None and year in _years_stated(p.text[unit.prev_start : unit.prev_end]):
                continue
            return f"year {ent.text} not mentioned"
        if ent.kind in ("facility", "place", "name", "person"):
            toks = _name_tokens(ent.text, toks)  # "BV Hữu nghị" is "Bệnh viện Hữu nghị"
        if _contains_run(unit.sent_tokens, toks) or _contains_run(unit.prev_tokens, toks):
            continue
        if ent.kind == "number" and any(_number_mentioned(toks, t) for t in (unit.sent_tokens, unit.prev_tokens)):
            continue
        if ent.kind == "number":
            if _contains_run(p.title_tokens, toks):
                continue
            same = _PERIOD_EQUIVALENT.get((_entity_head(question, ent), toks[0]))
            if same and any(_contains_run(t, same) for t in (unit.sent_tokens, unit.prev_tokens, p.title_tokens)):
                continue  # "quý IV" is "3 tháng cuối năm"
            return f"number {ent.text} not mentioned"
        if _contains_run(p.title_tokens, toks) or _contains_run(p.lead_tokens, toks):
            # the title/lead names it; the sentence must not be about something wider or other
            if ent.kind in ("facility", "name") and _AGGREGATE_SCOPE.search(" ".join(unit.sent_tokens)):
                return f"{ent.text}: the sentence is about a wider scope"
            if ent.kind in ("facility", "name") and qt.kind != "place":
                context = sentence if unit.prev_start is None else p.text[unit.prev_start : unit.sent_end]
                others = [sp for sp in place_spans(context) if _is_named_facility(sp.text)]
                if (
                    others
                    and not any(_contains_run(match_tokens(sp.text), toks) for sp in others)
                    and not _refers_generically(sentence, others, _entity_head(question, ent))
                ):
                    return f"{ent.text}: the sentence is about another unit"
            continue
        if ent.kind == "person" and not person_spans(sentence):
            # "Đồng chí cũng yêu cầu …": a sentence naming nobody continues its document's speaker
            full = lookup_text(p)
            if _contains_run(match_tokens(full), toks):
                continue
        return f"{ent.kind} {ent.text} not mentioned"
    return None


def _name_tokens(text: str, tokens: Sequence[str]) -> list[str]:
    """A name's tokens with abbreviations expanded and a lone leading head abbreviation kept
    expanded ("BV Hữu" → benh vien huu), as the reports write them."""
    expanded = match_tokens(text)
    return expanded if expanded else list(tokens)


def _number_mentioned(number: Sequence[str], sentence_tokens: Sequence[str]) -> bool:
    """A question's number written otherwise in the sentence: "15" or "15/9" in "15/9/2024",
    "100" (of "100 nghìn") in "100.000"."""
    if len(number) != 1 or not number[0][:1].isdigit():
        return False
    n = number[0]  # "¹" is a digit to str.isdigit but not a number: only ASCII digits are compared
    for t in sentence_tokens:
        if t.startswith(n + "/") or t.startswith(n + "."):
            return True
        if t.isascii() and t.isdigit() and n.isascii() and n.isdigit() and int(t) in (int(n) * 1000, int(n) * 1_000_000):
            return True
    return False


def lookup_text(p: Passage) -> str:
    """The passage's whole document when known, else the passage itself."""
    return p.full_text or p.text


_PERIOD_EQUIVALENT = {
    ("quy", "4"): ("3", "thang", "cuoi", "nam"),
    ("quy", "1"): ("3", "thang", "dau", "nam"),
}


def _entity_head(question: str, ent) -> str:
    """The folded head noun typed before an entity ("benh vien" for "Bệnh viện Bãi Cháy")."""
    if ent.head_start < 0 or ent.head_start >= ent.start:
        return ""
    return " ".join(canon(t) for t, _, _ in words(question[ent.head_start : ent.start]))


def _refers_generically(sentence: str, others: list[Span], head: str) -> bool:
    """The sentence also speaks of "bệnh viện"/"trung tâm" in general (its subject is the titled
    unit, the named ones are objects: "bệnh viện tiếp tục hỗ trợ … Trung tâm Y tế huyện Bình Liêu")."""
    if not head:
        return False
    key = " ".join(head.split()[:2])
    masked = sentence
    for sp in others:
        masked = masked.replace(sp.text, " ")
    return re.search(rf"\b{re.escape(key)}\b", _folded_lower(masked)) is not None


def _years_stated(sentence: str, as_baseline: bool = False) -> set[str]:
    """Years a sentence is about: every 19xx/20xx except comparison baselines ("so với năm 2022")."""
    years: set[str] = set()
    for m in re.finditer(r"(?<![\d.,])((?:19|20)\d{2})(?![\d.,]\d)", sentence):
        before = _folded_lower(sentence[max(0, m.start() - 25) : m.start()])
        if not as_baseline and re.search(r"(so voi|cung ky)\s+(?:cung ky\s+)?(?:nam\s+)?$", before):
            continue
        if re.search(r"\d/$", sentence[max(0, m.start() - 3) : m.start()]) and re.search(r"/(?:NQ|QĐ|CP|TT)", sentence[m.end() : m.end() + 4]):
            continue  # "Nghị quyết số 28/2023/NQ-HĐND": a document number
        years.add(m.group(1))
    return years


_FACILITY_NAMED = re.compile(r"^(Bệnh viện|bệnh viện|Trung tâm|trung tâm|Trạm|trạm|Sở Y tế|TTYT|TYT|Phòng khám)")


def _is_named_facility(text: str) -> bool:
    """A facility span carrying a proper name ("Trung tâm Y tế khu vực Mai Châu", not "Sở Y tế")."""
    return bool(_FACILITY_NAMED.match(text)) and _has_proper_name(text)


def _has_proper_name(text: str) -> bool:
    toks = [t for t, _, _ in words(text)]
    return any(t[:1].isupper() and canon(t) not in ("benh", "vien", "trung", "tam", "y", "te", "tram", "so", "khu", "vuc", "ubnd", "tp") for t in toks[1:])


_PERIOD_PART = re.compile(r"\b(\d{1,2}|sau|chin|ba) thang\b|\bquy\b|\bnua dau nam\b")


def _period_ok(question: str, unit: Unit) -> str | None:
    """"Cả năm"/"full year" questions are not answered from partial-year figures."""
    qf = _folded_lower(question)
    if not re.search(r"\b(ca nam|full year|whole year|trong ca nam)\b", qf):
        return None
    context = _folded_lower(unit.sentence + " " + unit.passage.title)
    if _PERIOD_PART.search(context):
        return "the figure covers part of the year"
    return None


def _asked_head(question: str) -> str | None:
    """The unit kind a place question asks for: "trung tâm y tế huyện nào" → "trung tam y te huyen"."""
    qf = " ".join(canon(t) for t, _, _ in words(question))
    m = re.search(r"((?:benh vien|trung tam y te|trung tam|tram y te|so y te)(?: (?:khu vuc|huyen|tinh))?|khu vuc|tinh|huyen|xa) nao\b", qf)
    return m.group(1) if m else None


def _unit_satisfies(unit_words: str, before: str, wanted: Sequence[str]) -> bool:
    """Whether a number's unit (or, when it has none, the words just before it) is one asked for."""
    toks = unit_words.replace("/", " / ").split()
    head = toks[: toks.index("/")] if "/" in toks else toks
    for u in wanted:
        ut = u.split()
        if _contains_run(head, ut):
            return True
    if not head:
        # the words just before a bare number name what it counts ("số trẻ được tiêm là 7.412"),
        # but not past another number: "7.412 trẻ em dưới 1 tuổi" does not make "1" a count of children
        btoks = before.split()
        since_number = btoks[max((i for i, t in enumerate(btoks) if t[:1].isdigit()), default=-1) + 1 :]
        return any(_contains_run(since_number[-6:], u.split()) for u in wanted)
    return False


def _span_ok(qt: QuestionType, question: str, span: Span, unit: Unit, q_role=None) -> tuple[bool, float]:
    """Whether a span can answer the question, and a preference score among acceptable spans."""
    pref = 0.0
    q_tokens = set(match_tokens(question))
    novel = [t for t in match_tokens(span.text) if t not in q_tokens]
    if not novel:
        return False, 0.0  # repeats the question ("9 tháng", "UBND tỉnh")
    if span.kind == "quantity":
        unit_words = span.unit
        is_pct = unit_words == "%"
        qk = qt.quantity_kind
        if qk == "percent":
            if not is_pct:
                return False, 0.0
        elif qk == "change":
            if not span.change:
                pref -= 0.5
        else:
            if is_pct and qt.measure is not None:
                return False, 0.0
            if is_pct:
                pref -= 0.6
            if span.change:
                pref -= 0.4
        number = _NUMBER.search(span.text)
        if number and re.fullmatch(r"\d+/\d{1,2}", number.group()) and qk != "percent":
            a, b = (int(x) for x in number.group().split("/"))
            if a < b <= 10:
                return False, 0.0  # "1/3 cán bộ" is a fraction, not a count
        if qt.measure == "ordinal":
            # "hạng mấy" → "hạng II"; "thứ mấy" → "thứ 3"
            head = qt.units[0]
            if not (_folded_lower(span.text).startswith(head) or unit_words == head):
                return False, 0.0
        elif qt.units:
            if "/" in unit_words and qk != "rate":
                return False, 0.0  # a per-capita rate does not answer a count
            if not _unit_satisfies(unit_words, span.before, qt.units):
                return False, 0.0
        elif qk == "rate" and "/" not in unit_words and "van" not in unit_words:
            pref -= 0.3
        if span.in_parens:
            pref -= 0.35
        if span.comparison and qk not in ("change",):
            pref -= 0.1
    elif span.kind == "person":
        if q_role is not None and span.roles:
            if not any(_role_matches(q_role, r) for r in span.roles):
                return False, 0.0  # "Giám đốc Bệnh viện …" is not answered by a "Giám đốc Sở Y tế"
            pref += 0.2
        else:
            role = span.before
            if qt.deputy and not re.search(r"ph[oó] (giam doc|chu tich|truong)", role):
                return False, 0.0
            if not qt.deputy and any(r[0] for r in span.roles):
                pref -= 0.6
    elif span.kind == "place":
        head = _asked_head(question)
        folded_span = _folded_lower(span.text)
        if head and head not in folded_span and not folded_span.startswith(head.split()[0]):
            return False, 0.0
        if head and head in folded_span:
            pref += 0.2
    elif span.kind == "date":
        if re.match(r"^(?:19|20)\d{2}$", span.text.split()[-1]) and span.text.lower().startswith(("năm", "đến", "tới", "vào", "trong")):
            pref -= 0.2  # a year alone: only when asked for a year
    return True, pref


def _score_units(qt: QuestionType, question: str, units: list[Unit], scorer: Scorer | None = None) -> list[Scored]:
    """Every unit with its features and calibrated probability, best first (vetoed units last)."""
    scorer = scorer or default_scorer()
    measure_tokens = (
        {t for t in (qt.measure or "").split() if any(t in u.split() for u in qt.units)}
        if qt.units and qt.measure != "ordinal"
        else set()
    )
    if qt.quantity_kind == "percent":
        measure_tokens |= {"ty", "ti", "le", "phan", "tram"}  # "tỷ lệ" is what the "%" answers
    groups = _keyword_groups(qt, question, units, measure_tokens)
    idf = _idf(units)
    # entity words are checked separately; the measure noun is enforced on the answer's unit
    topic = [g for g in groups if not g.entity and not (len(g.alts) == 1 and set(g.alts[0]) <= measure_tokens)]
    bigrams = list(zip(qt.keywords_folded, qt.keywords_folded[1:]))
    want_years = any(p in ("nam nao", "what year", "which year") for p in qt.qwords)
    q_role = question_role(question) or (question_role(" ".join(qt.keywords_folded)) if qt.english else None)
    q_tokens = set(match_tokens(question))
    typed = qt.kind in ("quantity", "person", "date", "place")
    # A retriever that reports no per-list ranks (Milvus's server-side fusion, a plain callable) or
    # no dense similarity leaves those features unknown (None: the scorer reads its fitted mean), not 0.
    metadata = [u.passage.doc.metadata or {} for u in units]
    known_ranks = any(any(v for v in (md.get("ranks") or {}).values()) for md in metadata)
    known_similarity = any(md.get("similarity") is not None for md in metadata)
    out: list[Scored] = []
    for u in units:
        p = u.passage
        coverage, coverage_unit = _coverage(topic, idf, u)
        bigram_cov = sum(1 for a, b in bigrams if _contains_run(u.tokens, (a, b))) / len(bigrams) if bigrams else 0.0
        in_sentence = sum(1 for e in qt.entities if e.kind != "year" and _contains_run(u.sent_tokens, list(e.tokens)))
        entity_issue = _entity_ok(qt, question, u)
        period_issue = _period_ok(question, u)
        rejected = entity_issue if entity_issue and _is_conflict(entity_issue) else None
        span: Span | None = None
        in_prev = False
        pref = 0.0
        if typed:
            best = _best_span(qt, question, u, find_spans(qt.kind, p.text, u.start, u.end, years=want_years), q_role)
            if best is None and qt.kind in ("place", "person") and u.prev_start is not None:
                # "Đối với Trung tâm Y tế khu vực Lạc Thủy. TS. Lê Hồng Trung … yêu cầu …"
                best = _best_span(qt, question, u, find_spans(qt.kind, p.text, u.prev_start, u.prev_end or u.prev_start), q_role)
                in_prev = best is not None
            if best is not None:
                pref, span = best
        ranks = (p.doc.metadata or {}).get("ranks") or {}
        lexical = [r for name, r in ranks.items() if name != "dense" and r]
        similarity = (p.doc.metadata or {}).get("similarity")
        unit_tokens = [t for t in u.tokens if t]
        features = {
            "coverage": coverage,
            "coverage_unit": coverage_unit,
            "bigram": bigram_cov,
            "passage_rr": 1.0 / (p.index + 1),
            "dense_rr": (1.0 / ranks["dense"] if ranks.get("dense") else 0.0) if known_ranks else None,
            "similarity": (float(similarity) if similarity is not None else 0.0) if known_similarity else None,
            "lexical_rr": (1.0 / min(lexical) if lexical else 0.0) if known_ranks else None,
            "first_passage": float(p.index == 0),
            "typed": float(typed),
            "span": float(span is not None and not in_prev),
            "span_prev": float(in_prev),
            "span_pref": max(-1.0, min(0.5, pref)),
            "no_span": float(typed and span is None),
            "entities": float(len(qt.entities)),
            "entities_in_sentence": float(in_sentence),
            "entity_missing": float(bool(entity_issue) and "not mentioned" in entity_issue and not entity_issue.startswith("year")),
            "year_missing": float(bool(entity_issue) and entity_issue.startswith("year")),
            "wider_scope": float(bool(entity_issue) and "wider scope" in entity_issue),
            "partial_period": float(period_issue is not None),
            "novelty": sum(1 for t in unit_tokens if t not in q_tokens) / max(1, len(unit_tokens)),
            "length": math.log1p(u.end - u.start) / 6.0,
            **{f"kind_{k}": float(qt.kind == k) for k in ("quantity", "person", "date", "place", "list", "other")},
        }
        features["coverage_x_span"] = coverage * features["span"]
        features["coverage_x_first"] = coverage * features["first_passage"]
        features["coverage_x_no_span"] = coverage * features["no_span"]
        features["coverage_x_entity_missing"] = coverage * features["entity_missing"]
        features["dense_x_lexical"] = features["dense_rr"] * features["lexical_rr"] if known_ranks else None
        features["span_x_first"] = features["span"] * features["first_passage"]
        features.update(dict.fromkeys(SEMANTIC_FEATURES))  # unknown unless embedded below
        doubt = entity_issue or period_issue or (f"no {qt.kind} span" if typed and span is None else None)
        out.append(Scored(u, 0.0, coverage, span, rejected, in_prev, features, doubt))
    if scorer.embed is not None:
        add_similarity(question, out, scorer.embed, scorer.prescore or scorer.unit)
    for s in out:
        s.score = scorer.probability(s.features)
    out.sort(key=lambda s: (s.rejected is not None, -s.score))
    return out


def unit_context(u: Unit) -> str:
    """What a unit is embedded as: its sentence under its document title (as passages are indexed)."""
    return indexed_text(u.passage.title.rstrip("…"), u.sentence)


def add_similarity(question: str, scored: Sequence[Scored], embed: EmbedFn, prescore: Logistic, k: int = SEMANTIC_UNITS) -> None:
    """Fill the semantic features of the open units ``prescore`` ranks best, up to ``k`` distinct
    contexts (one batch of the embedding model; clauses of one sentence share its vector); the
    other units' stay unknown."""
    chosen: list[tuple[Scored, str]] = []
    texts: dict[str, None] = {}
    for s in sorted((s for s in scored if s.rejected is None), key=lambda s: -prescore.probability(s.features)):
        text = unit_context(s.unit)
        if text not in texts and len(texts) == k:
            continue
        texts[text] = None
        chosen.append((s, text))
    if not chosen:
        return
    cosine = dict(zip(texts, embed(question, list(texts))))
    for s, text in chosen:
        s.features["unit_similarity"] = cosine[text]


def _coverage(topic: list[KeywordGroup], idf: Callable[[tuple[str, ...]], float], u: Unit) -> tuple[float, float]:
    """(topic coverage with context, coverage by the unit's own words): idf-weighted shares of the
    question's topic words; a word found only in another clause or in the title/lead counts less."""
    p = u.passage
    unit_set, sent_set = set(u.tokens), set(u.sent_tokens)
    ctx_set = set(p.title_tokens) | set(p.lead_tokens)
    total = got = own = 0.0
    for g in topic:
        best_w = best_level = best_own = 0.0
        for alt in g.alts:
            w = g.weight * (sum(idf((t,)) for t in alt) if g.compound else idf(alt))
            best_w = max(best_w, w)
            if (len(alt) == 1 and alt[0] in unit_set) or (len(alt) > 1 and _contains_run(u.tokens, alt)):
                level = 1.0
                best_own = max(best_own, w)
            elif (len(alt) == 1 and alt[0] in sent_set) or (len(alt) > 1 and _contains_run(u.sent_tokens, alt)):
                level = SENTENCE_CONTEXT_WEIGHT
            elif (len(alt) == 1 and alt[0] in ctx_set) or (
                len(alt) > 1 and (_contains_run(p.title_tokens, alt) or _contains_run(p.lead_tokens, alt))
            ):
                level = TITLE_CONTEXT_WEIGHT
            else:
                level = 0.0
            best_level = max(best_level, level * w)
        total += best_w
        got += best_level
        own += best_own
    if total < MIN_TOPIC_WEIGHT:  # the question is all entities: rely on them
        return 1.0, 1.0
    return got / total, own / total


def _is_conflict(issue: str) -> bool:
    """A named conflict, always a reason not to answer: the sentence states another year, or is
    about another named unit than the one asked."""
    return issue.startswith("the sentence is about ") or issue.endswith("the sentence is about another unit")


def _best_span(qt: QuestionType, question: str, u: Unit, candidates: list[Span], q_role) -> tuple[float, Span] | None:
    best: tuple[float, Span] | None = None
    for sp in candidates:
        ok, pref = _span_ok(qt, question, sp, u, q_role)
        if not ok:
            continue
        pref -= 0.002 * _distance_to_keywords(sp, u, qt)
        if best is None or pref > best[0]:
            best = (pref, sp)
    return best


def _distance_to_keywords(span: Span, unit: Unit, qt: QuestionType) -> float:
    """Characters between the span and the nearest question keyword in its clause."""
    text = unit.passage.text
    best = 200.0
    for t, s, e in words(text[unit.start : unit.end]):
        if canon(t) in qt.keywords_folded and len(canon(t)) > 1:
            s += unit.start
            e += unit.start
            d = span.start - e if e <= span.start else s - span.end if s >= span.end else 0
            best = min(best, float(d))
    return best


# ---------------------------------------------------------------------------------------------
# Quotes and answer text
# ---------------------------------------------------------------------------------------------


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


def _fact_from(scored: Scored, qt: QuestionType) -> Fact:
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


LEAD_DOUBT = -0.15  # _span_ok preferences below this are doubts (a % for a count −0.6, a change −0.4, brackets −0.35,
# a rate −0.3, a bare year −0.2); a figure followed by "so với" (−0.1) is only a ranking hint


def _sure_lead(scored: Scored, qt: QuestionType, question: str) -> bool:
    """Bold the span only when it is the asked-for thing: found in the unit itself, with no doubt
    about its measure, unit or role (a preference from :func:`_span_ok` under ``LEAD_DOUBT``: a percentage
    for a count, a change, a rate, a figure in brackets; its distance to the keywords is no doubt), and
    for a quantity question that names a measure, a span whose unit is that measure ("bao nhiêu trẻ"
    is not answered in bold by "dưới 1 tuổi")."""
    span = scored.span
    if span is None or scored.span_in_prev:
        return False
    q_role = question_role(question) or (question_role(" ".join(qt.keywords_folded)) if qt.english else None)
    acceptable, preference = _span_ok(qt, question, span, scored.unit, q_role)
    if not acceptable or preference < LEAD_DOUBT:
        return False
    if span.kind == "quantity" and qt.units and qt.measure != "ordinal":
        return _unit_satisfies(span.unit, span.before, qt.units) and bool(span.unit)
    return True


# ---------------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------------


def best_fact(
    question: str,
    docs: Sequence[Document],
    lookup: Lookup | None = None,
    qt: QuestionType | None = None,
    scorer: Scorer | None = None,
) -> tuple[Fact | None, list[Scored]]:
    """The best answering fact for one (sub-)question, or None with the ranked candidates.

    None when no unit reaches the scorer's threshold (or every unit names a conflict)."""
    qt = qt or analyze(question)
    passages = _passages(docs, lookup)
    units = _units(passages, by_sentence=qt.kind in ("list", "other", "yesno"))
    if not units:
        return None, []
    scorer = scorer or default_scorer()
    scored = _score_units(qt, question, units, scorer)
    open_units = [s for s in scored if s.rejected is None]
    if not open_units:
        return None, scored
    best = open_units[0]
    confidence = scorer.confidence(best.features, best.score, open_units[1].score if len(open_units) > 1 else 0.0)
    best.confidence = confidence
    if confidence < scorer.threshold:
        return None, scored
    fact = _fact_from(best, qt)
    fact.confidence = confidence
    fact.lead = _sure_lead(best, qt, question)
    return fact, scored


__all__ = [
    "ExtractiveAnswer",
    "NOT_FOUND",
    "QuoteRef",
    "best_fact",
    "date_spans",
    "find_spans",
    "person_spans",
    "place_spans",
    "quantity_spans",
    "render_fact",
]
