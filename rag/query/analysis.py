"""What a question asks for: its type, whether it asks two facts, its content keywords and entities.

Works on Vietnamese typed with or without diacritics and on English. Everything is matched on the
diacritic-folded, lower-cased form (``rag.text.fold``), except where a folded word is ambiguous
("dau" is both "đâu" *where* and "đầu" *first*), in which case the accented form decides when the
user typed accents.

The entities found here (years, numbers, facility/place/person names) are what the extractive
answerer *requires* to appear next to an answer: a question about "Nghệ An" must never be
answered from a sentence about Quảng Ninh.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

from rag.lang import alternation, load_lexicon
from rag.lang.english import looks_english
from rag.query.english_names import english_facilities
from rag.text import fold, has_diacritics

_LEX = load_lexicon()
# cue-word lists as whole-word regexes over folded text (rag/lang/vi/question_words.toml [cues])
_CUE = {
    name: re.compile(rf"\b({alternation(words)})\b")
    for name, words in _LEX.cues.items()
    if name in ("person_roles", "unit_nouns", "percent", "change_verbs", "change_amounts", "per_capita", "comparisons", "deputy")
}

Kind = Literal["quantity", "person", "date", "place", "list", "yesno", "other"]
QuantityKind = Literal["count", "percent", "change", "rate"]

_WORD = re.compile(r"\d+(?:[.,/]\d+)*%?|[^\W\d_]+")


@functools.lru_cache(maxsize=8192)  # pure; the scorer re-reads the same passages and sentences for every span
def words(text: str) -> tuple[tuple[str, int, int], ...]:
    """(token as typed, start, end) for every word/number token of ``text``."""
    return tuple((m.group(), m.start(), m.end()) for m in _WORD.finditer(text))


_ROMAN_VALUES = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8, "IX": 9, "X": 10, "XI": 11, "XII": 12}


@functools.lru_cache(maxsize=65_536)  # pure, and called for every token of every candidate passage: ~30% of ask
def canon(token: str) -> str:
    """Folded lower-case form used for matching; numbers lose '%' and use '.' as separator.

    Upper-case Roman numerals become digits ("quý IV" matches "quý 4").
    """
    if token in _ROMAN_VALUES and token != "V":
        return str(_ROMAN_VALUES[token])
    token = fold(token).lower()
    if token[:1].isdigit():
        token = token.rstrip("%").replace(",", ".")
        if re.fullmatch(r"\d{1,3}(?:\.\d{3})+", token):
            token = token.replace(".", "")
        if "/" not in token and "." not in token:
            token = token.lstrip("0") or "0"  # "04 phòng" is "4 phòng"
    return token


def canon_tokens(text: str) -> list[str]:
    """:func:`canon` of every token of ``text``."""
    return [canon(t) for t, _, _ in words(text)]


# Abbreviations common in the reports and in questions, expanded on both sides before matching.
ABBREVIATIONS: dict[str, tuple[str, ...]] = _LEX.abbreviations


def match_tokens(text: str) -> list[str]:
    """Canonical tokens with abbreviations expanded: what keyword matching compares."""
    out: list[str] = []
    for t, _, _ in words(text):
        c = canon(t)
        out.extend(ABBREVIATIONS.get(c, (c,)))
    return out


# ---------------------------------------------------------------------------------------------
# Question words (rag/lang/vi/question_words.toml), matched on folded token sequences; when
# several kinds match, the most specific wins ("ngày bao nhiêu" is a date, "bệnh viện nào có
# bao nhiêu…" asks for the hospital).
# ---------------------------------------------------------------------------------------------

_QWORDS: dict[str, tuple[str, ...]] = _LEX.qwords
_KIND_PRIORITY: tuple[Kind, ...] = _LEX.kind_priority  # type: ignore[assignment]
# Question words removed before keywords are taken (folded phrases, longest first); quantity
# words that are also content ("tỷ lệ", "số lượt") stay.
_QWORD_PHRASES = _LEX.filler_qwords

# Function words dropped from keywords. Accented forms are exact; the folded list only holds
# words whose folded form is not also a common content word.
_STOP_ACCENTED = _LEX.stop_accented
_STOP_FOLDED = _LEX.stop_folded
# Folded words that are function words in a question but also content words ("có" / "cơ sở",
# "đã" / "đa khoa"); kept with a low weight when the question has no accents.
_AMBIGUOUS_FOLDED = _LEX.ambiguous_folded
AMBIGUOUS_WEIGHT = 0.3

# Measure nouns that may follow "bao nhiêu"/"mấy" and must then be the unit of the answer.
# Each maps to the folded unit heads that satisfy it.
MEASURE_UNITS: dict[str, tuple[str, ...]] = _LEX.measure_units

# English words → folded Vietnamese keywords, so English questions can match Vietnamese reports.
GLOSSARY: dict[str, str] = _LEX.glossary
_ENGLISH_WORDS = frozenset(GLOSSARY) | _LEX.english_markers | _LEX.english_function_words

# Heads after which a proper name follows ("Bệnh viện Bãi Cháy", "huyện Tiên Du").
_FACILITY_HEADS = _LEX.facility_heads
_HEAD_WORDS = frozenset(t for h in _FACILITY_HEADS for t in h.split())


def _head_ends_at(folded: list[str], k: int) -> bool:
    """Whether a facility/place head phrase ends right before token k ("Bệnh viện | Bãi Cháy")."""
    return any(k >= len(h.split()) and folded[k - len(h.split()) : k] == h.split() for h in _FACILITY_HEADS)


# Specialty phrases and administrative words a facility name runs over, between its head and its
# proper name ("Bệnh viện Đa khoa huyện Sông Mã"); a specialty with no name after it is the name
# ("Bệnh viện Chấn thương Chỉnh hình"). Accented questions must match the accents ("Mắt", not "mất").
_NAME_INFIXES: tuple[tuple[tuple[str, ...], tuple[str, ...], bool], ...] = tuple(
    (tuple(canon_tokens(w)), tuple(t.lower() for t, _, _ in words(w)), specialty)
    for key, specialty in (("facility_specialties", True), ("facility_admin_words", False))
    for w in _LEX.spans[key]
)


# The accented forms of the heads (folded → written, lower-case): in an accented question a head
# must be written with its accents ("Quan Sơn" is a name, not "quận").
_HEAD_WRITTEN: dict[str, frozenset[str]] = {}
for _w in (*_LEX.facility_heads_written, *_LEX.spans["facility_admin_words"]):
    _HEAD_WRITTEN[" ".join(canon_tokens(_w))] = _HEAD_WRITTEN.get(" ".join(canon_tokens(_w)), frozenset()) | {_w.lower().rstrip(".")}


def _written_as_head(raw: list[str], k: int, n: int, accented: bool) -> bool:
    """Whether tokens k..k+n of an accented question are written as the head they fold to."""
    forms = _HEAD_WRITTEN.get(" ".join(canon(t) for t in raw[k : k + n]))
    return not accented or not forms or " ".join(raw[k : k + n]).lower() in forms


def _infix_at(raw: list[str], folded: list[str], k: int, accented: bool) -> tuple[int, bool]:
    """(length, is a specialty) of the longest specialty phrase or administrative word at token k."""
    best = (0, False)
    lower = [t.lower() for t in raw[k : k + 4]]
    for f, written, specialty in _NAME_INFIXES:
        n = len(f)
        if n > best[0] and tuple(folded[k : k + n]) == f and (not accented or tuple(lower[:n]) == written):
            best = (n, specialty)
    return best


def _head_at(folded: list[str], k: int) -> int:
    """Length of the facility/place head phrase starting at token k (0 when none)."""
    best = 0
    for head in _FACILITY_HEADS:
        h = head.split()
        if folded[k : k + len(h)] == h:
            best = max(best, len(h))
    return best
# Lower-case words that end a name typed without capitals ("benh vien bai chay KHAM bao nhieu").
_NAME_STOP = _LEX.name_stop

# Vietnamese provinces and major cities (folded); a question naming one that no passage names
# is about something the reports do not cover.
PROVINCES: tuple[tuple[str, ...], ...] = _LEX.provinces
SURNAMES = _LEX.surnames

_YEAR = re.compile(r"(?<![\d/.,])(?:19|20)\d{2}(?![\d/.,])")


@dataclass(frozen=True)
class Entity:
    """Something the answer's sentence (or its document title) must mention."""

    kind: str  # "year" | "number" | "facility" | "place" | "person" | "name"
    text: str  # as typed
    tokens: tuple[str, ...]  # canonical (folded, lower) tokens, matched as a contiguous run
    start: int = -1  # character offsets in the question
    end: int = -1
    head_start: int = -1  # where its head noun begins ("Bệnh viện" of "Bệnh viện Bãi Cháy", "năm" of "năm 2023")
    head: str = ""  # an English name's head, written after it, as the reports write it ("trung tam y te huyen")


@dataclass(frozen=True)
class QuestionType:
    """The analysis of one question (or one half of a two-fact question)."""

    kind: Kind
    two_facts: bool
    keywords: tuple[str, ...]  # content words as typed, lower-cased
    keywords_folded: tuple[str, ...]  # the same, canonical folded form (same order and length)
    weights: tuple[float, ...]  # weight of each keyword (ambiguous folded words count less)
    entities: tuple[Entity, ...] = ()
    quantity_kind: QuantityKind | None = None
    measure: str | None = None  # folded measure noun after "bao nhiêu"/"mấy" ("luot", "giuong")
    units: tuple[str, ...] = ()  # folded unit heads that satisfy ``measure``
    english: bool = False
    accented: bool = False
    deputy: bool = False  # asks about a "phó" (deputy) rather than the head
    qwords: tuple[str, ...] = field(default_factory=tuple)  # question-word phrases found (folded)

    @property
    def bigrams(self) -> list[tuple[str, str]]:
        """Adjacent keyword pairs, folded."""
        return list(zip(self.keywords_folded, self.keywords_folded[1:]))


def _contains(seq: list[str], phrase: list[str]) -> int:
    """Start index of ``phrase`` in ``seq`` or -1."""
    n = len(phrase)
    for i in range(len(seq) - n + 1):
        if seq[i : i + n] == phrase:
            return i
    return -1


def _find_kinds(folded_tokens: list[str], raw_tokens: list[str], accented: bool, english: bool, question: str) -> tuple[list[str], list[str]]:
    """Kinds present (in priority order) and the question-word phrases found."""
    found: dict[str, list[str]] = {}
    for kind, phrases in _QWORDS.items():
        for phrase in phrases:
            p = phrase.split()
            i = _contains(folded_tokens, p)
            if i < 0:
                continue
            if phrase == "may" and accented and raw_tokens[i] != "mấy":
                continue  # "máy" (machine) is not "mấy" (how many)
            if phrase == "ai" and accented and raw_tokens[i] != "ai":
                continue
            if phrase == "rate" and not english:
                continue
            if phrase == "vi nao" and i > 0 and folded_tokens[i - 1] == "don":
                continue  # "đơn vị nào" asks for a unit, not a person
            if phrase in ("may", "bao nhieu") and i + 1 < len(folded_tokens) and folded_tokens[i + 1] in ("gio",):
                continue
            found.setdefault(kind, []).append(phrase)
    # "… ở đâu?" typed without accents is "o dau"; a bare "đâu" at the end also asks where.
    if "place" not in found and folded_tokens and folded_tokens[-1] == "dau":
        if not accented or raw_tokens[-1] == "đâu":
            found.setdefault("place", []).append("dau")
    # "Giám đốc Sở Y tế nào", "lãnh đạo nào", "những Phó Giám đốc nào": a person.
    # "những X nào", "các X nào" (a list), "X nào" after a facility word (a place).
    for i, tok in enumerate(folded_tokens):
        if tok == "nao" and i > 0:
            window = folded_tokens[max(0, i - 5) : i]
            joined = " ".join(window)
            if _CUE["person_roles"].search(joined) and not _CUE["unit_nouns"].search(" ".join(window[-2:])):
                found.setdefault("person", []).append("chuc danh nao")
            elif "nhung" in window or "cac" in window:
                found.setdefault("list", []).append("nhung nao")
    # Yes/no: "có … không?" / "đã … chưa?" / English auxiliaries first.
    stripped = question.strip().rstrip("?!. ").lower()
    folded_q = fold(stripped)
    if re.search(r"\b(khong|chua)$", folded_q) and re.search(r"\b(co|da|duoc)\b", folded_q):
        found.setdefault("yesno", []).append("co khong")
    if english and "place" not in found and re.search(
        r"\b(which|what)\b(?:\s+[a-z-]+){0,3}\s+(hospitals?|centers?|centres?|units?|facilit(?:y|ies)|provinces?|districts?|stations?|communes?|regions?)\b",
        folded_q,
    ):
        found.setdefault("place", []).append("which unit")
    if english and re.match(r"(is|are|was|were|does|do|did|has|have|had|can|could|will)\b", folded_q):
        if not any(k in found for k in ("date", "person", "place", "quantity")):
            found.setdefault("yesno", []).append("aux")
    # plural "những … nào" over units asks for a list, not one place
    if "place" in found and "list" in found and "nhung nao" in found["list"]:
        del found["place"]
    kinds = [k for k in _KIND_PRIORITY if k in found]
    qwords = [p for k in kinds for p in found[k]]
    return kinds, qwords


def _quantity_kind(folded: str, english: bool) -> QuantityKind | None:
    if _CUE["percent"].search(folded) or "%" in folded:
        return "percent"
    if english and re.search(r"\brate\b", folded) and not re.search(r"\bper\b", folded):
        return "percent"
    if re.search(rf"{_CUE['change_verbs'].pattern}.*{_CUE['change_amounts'].pattern}", folded) or re.search(
        rf"\b(bao nhieu|how much)\b.*{_CUE['change_verbs'].pattern}", folded
    ):
        return "change"
    if _CUE["per_capita"].search(folded):
        return "rate"
    return "count"


# Words that follow "bao nhiêu" without being its noun ("bao nhiêu phần trăm", "là bao nhiêu", "bao nhiêu so với").
_NOT_NOUN = _LEX.not_measure_noun
# Accented spelling of the measure nouns whose folded form is ambiguous ("ca"/"cả", "so"/"số").
_MEASURE_ACCENTED = _LEX.measure_accented
# Nouns asked as ordinals: "hạng mấy", "thứ mấy", "quý mấy".
ORDINAL_HEADS = _LEX.ordinal_heads


def _measure(
    folded_tokens: list[str],
    raw_tokens: list[str] | None = None,
    accented: bool = False,
    english: bool = False,
    breaks: list[bool] | None = None,
    named: list[bool] | None = None,
) -> tuple[str | None, tuple[str, ...]]:
    """The measure noun of a quantity question, if it is a known unit ("bao nhiêu giường" → giường).

    ``breaks[k]`` is True when punctuation separates token k from token k-1: a measure noun never
    lies across it ("bao nhiêu (năm 2023)" has none). ``named[k]``: token k is part of a name
    (a place, facility or person), never a measure noun ("How many … in Lam Dong": "đồng" is no unit).
    """
    raw_tokens = raw_tokens or folded_tokens
    breaks = breaks or [False] * len(folded_tokens)
    named = named or [False] * len(folded_tokens)

    def typed_as(i: int, folded: str) -> bool:
        if not accented or folded not in _MEASURE_ACCENTED:
            return True
        return raw_tokens[i] == _MEASURE_ACCENTED[folded]

    # ordinal: "xếp hạng mấy", "đứng thứ mấy"
    for i, tok in enumerate(folded_tokens):
        if tok in ("may", "bao") and i > 0 and folded_tokens[i - 1] in ORDINAL_HEADS and typed_as(i, tok):
            if tok == "bao" and folded_tokens[i + 1 : i + 2] != ["nhieu"]:
                continue
            return "ordinal", (folded_tokens[i - 1],)
    joined = " ".join(folded_tokens)
    if re.search(r"\bgap\b.*\b(bao nhieu|may) lan\b", joined):
        return None, ()  # "gấp bao nhiêu lần": a ratio, any unit
    triggers = (["bao", "nhieu"], ["may"], ["how", "many"], ["how", "much"], ["so", "luong"], ["tong", "so"], ["so"])
    for trig in triggers:
        i = _contains(folded_tokens, trig)
        while i >= 0:
            j = i + len(trig)
            if all(typed_as(i + k, trig[k]) for k in range(len(trig))):
                window = range(j, min(len(folded_tokens), j + (5 if english else 1)))
                if j < len(breaks) and breaks[j]:
                    window = range(0)
                for start in window:
                    for n in (3, 2, 1):
                        if start + n > len(folded_tokens) or any(breaks[start + 1 : start + n]) or any(named[start : start + n]):
                            continue
                        cand = " ".join(folded_tokens[start : start + n])
                        if cand in MEASURE_UNITS and all(typed_as(start + k, folded_tokens[start + k]) for k in range(n)):
                            return cand, MEASURE_UNITS[cand]
                # an unknown noun after "bao nhiêu"/"mấy" ("bao nhiêu công chức") must be the answer's unit
                if not english and trig[0] in ("bao", "may") and j < len(folded_tokens) and not breaks[j]:
                    noun = []
                    for k in range(j, min(len(folded_tokens), j + 2)):
                        f = folded_tokens[k]
                        if k > j and breaks[k]:
                            break
                        if f in _NOT_NOUN or f in _STOP_FOLDED or f[:1].isdigit() or (accented and raw_tokens[k] in _STOP_ACCENTED):
                            break
                        noun.append(f)
                    if noun:
                        return " ".join(noun), (" ".join(noun),)
            nxt = _contains(folded_tokens[j:], trig)
            i = j + nxt if nxt >= 0 else -1
    return None, ()


def _capitalised(tok: str) -> bool:
    return tok[:1].isupper() and (len(tok) == 1 or not tok.isupper() or len(tok) <= 2)


def extract_entities(question: str, english: bool | None = None) -> list[Entity]:
    """Years, other numbers, facility/place/person names mentioned in ``question``."""
    if english is None:
        english = looks_english(question)
    toks = words(question)
    raw = [t for t, _, _ in toks]
    folded = [canon(t) for t in raw]
    has_caps = any(_capitalised(t) for t in raw[1:] if not t[:1].isdigit())
    entities: list[Entity] = []
    covered: set[int] = set()

    def joined(k: int) -> bool:
        """Token k follows token k-1 with only spaces between (no comma, period, bracket)."""
        return k > 0 and question[toks[k - 1][2] : toks[k][1]].strip() == ""

    def add(kind: str, i: int, j: int, head: int | None = None, english_head: str = "") -> None:
        if j <= i or any(k in covered for k in range(i, j)):
            return
        span_text = question[toks[i][1] : toks[j - 1][2]]
        if head is None:
            head = i
            if i > 0 and joined(i) and (
                (kind == "year" and folded[i - 1] == "nam") or (kind == "place" and folded[i - 1] in ("tinh", "huyen", "tp", "xa"))
            ):
                head = i - 1
        entities.append(Entity(kind, span_text, tuple(folded[i:j]), toks[i][1], toks[j - 1][2], toks[head][1], english_head))
        covered.update(range(i, j))

    # Numbers and years.
    for i, t in enumerate(raw):
        if t[:1].isdigit():
            glued = toks[i][1] > 0 and question[toks[i][1] - 1] in "-–" and toks[i][1] > 1 and question[toks[i][1] - 2].isalpha()
            if glued or (toks[i][2] < len(question) and question[toks[i][2]].isalpha()):
                continue  # "COVID-19", "Covid-19", "5S"
            if _YEAR.fullmatch(t):
                add("year", i, i + 1)
            elif "/" in t and re.fullmatch(r"\d{1,2}/\d{1,2}(?:/\d{4})?", t):
                add("number", i, i + 1)
            else:
                add("number", i, i + 1, head=i - 1 if i > 0 and folded[i - 1] in ("quy", "thu", "lan") else None)

    # Roman numerals after an ordinal word ("lần thứ IX", "quý IV") are numbers too.
    for i, t in enumerate(raw):
        if t in _ROMAN_VALUES and t != "V" and i > 0 and folded[i - 1] in ("thu", "quy", "hang", "khoa", "lan"):
            add("number", i, i + 1, head=i - 1)

    # Provinces (accented questions must match the accents; "hà năm" is not "Hà Nam").
    accented = has_diacritics(question)
    for prov in PROVINCES:
        i = _contains(folded, list(prov))
        while i >= 0:
            j = i + len(prov)
            ok = True
            if accented:
                # the typed words must themselves be capitalised or accent-compatible with a name
                ok = all(_capitalised(raw[k]) for k in range(i, j)) or not has_caps
            if ok:
                add("place", i, j)
            nxt = _contains(folded[j:], list(prov))
            i = j + nxt if nxt >= 0 else -1

    # English facility names end with their head ("Chau Thanh District Health Center"); a province
    # inside the run ("Ha Nam Provincial General Hospital") already names the unit.
    if english:
        for fac in english_facilities(raw, folded, [joined(k) for k in range(len(raw))]):
            name = [r for r in range(fac.start, fac.head_start) if r not in covered]
            if name and name == list(range(name[0], name[-1] + 1)):
                add("facility", name[0], name[-1] + 1, english_head=fac.head)
            covered.update(range(fac.start, fac.end))

    # Facility / place names after a head noun.
    i = 0
    while i < len(folded):
        head_len = 0
        for head in _FACILITY_HEADS:
            h = head.split()
            if folded[i : i + len(h)] == h and len(h) > head_len and _written_as_head(raw, i, len(h), accented):
                head_len = len(h)
        if not head_len:
            i += 1
            continue
        j = i + head_len
        # skip further heads, specialties and administrative words ("Trung tâm Y tế khu vực Mai
        # Châu", "Bệnh viện Đa khoa huyện Sông Mã")
        specialty: tuple[int, int] | None = None
        while True:
            longer = 0
            for head in _FACILITY_HEADS:
                h = head.split()
                if folded[j : j + len(h)] == h and len(h) > longer and _written_as_head(raw, j, len(h), accented):
                    longer = len(h)
            infix, is_specialty = _infix_at(raw, folded, j, accented)
            if infix > longer:
                longer = infix
                specialty = (j, j + infix) if is_specialty else specialty
            if not longer or not all(joined(x) for x in range(j, j + longer)):
                break
            j += longer
        k = j
        if has_caps:
            # "Chấn thương Chỉnh hình": the first word capitalised, lower-case words continue the
            # name until a function word or verb
            if k < len(raw) and _capitalised(raw[k]) and not raw[k][:1].isdigit() and joined(k):
                k += 1
                while k < len(raw) and k - j < 5 and joined(k) and not raw[k][:1].isdigit() and not _head_at(folded, k) and (
                    _capitalised(raw[k])
                    or (
                        k + 1 < len(raw)
                        and _capitalised(raw[k + 1])
                        and folded[k] not in _NAME_STOP
                        and folded[k] not in _STOP_FOLDED
                    )
                ):
                    k += 1
        elif not english:
            while k < len(raw) and k - j < 2 and joined(k) and folded[k] not in _NAME_STOP and folded[k] not in _STOP_FOLDED and not raw[k][:1].isdigit():
                k += 1
        if k > j:
            # "Giám đốc Sở Y tế Lê Hồng Trung": a surname-led run of 3+ syllables is a person
            person = folded[j] in SURNAMES and k - j >= 3 and has_caps
            add("person" if person else "facility", j, k, None if person else i)
        elif specialty is not None:
            add("facility", specialty[0], specialty[1], i)  # "Bệnh viện Chấn thương Chỉnh hình"
        i = max(k, i + 1)

    # Person names: a capitalised run that starts with a Vietnamese surname.
    i = 0
    while i < len(raw):
        if _capitalised(raw[i]) and folded[i] in SURNAMES and i not in covered:
            k = i + 1
            while k < len(raw) and k - i < 4 and joined(k) and _capitalised(raw[k]) and not raw[k][:1].isdigit() and not _head_at(folded, k):
                k += 1
            if k - i >= 2 and not _head_ends_at(folded, i):
                add("person", i, k)
                i = k
                continue
        i += 1

    # Any other capitalised multi-word run (not at the very start, not an English word).
    if has_caps:
        i = 1
        while i < len(raw):
            if _capitalised(raw[i]) and i not in covered and not raw[i][:1].isdigit():
                k = i
                while k < len(raw) and _capitalised(raw[k]) and k not in covered and not raw[k][:1].isdigit() and (k == i or joined(k)):
                    k += 1
                run = [r for r in range(i, k) if not (english and raw[r].lower() in _ENGLISH_WORDS)]
                run = [r for r in run if folded[r] not in _HEAD_WORDS and raw[r] not in ("Y",)]
                if len(run) >= 2 and run == list(range(run[0], run[-1] + 1)):
                    add("name", run[0], run[-1] + 1)
                i = k
            else:
                i += 1
    return entities


# Folded question words whose folded form is also a content word: the accented forms that count.
_QWORD_ACCENTED: dict[str, frozenset[str]] = _LEX.qword_accented


def _keywords(question: str, english: bool, accented: bool, entities: list[Entity] | None = None) -> tuple[list[str], list[str], list[float]]:
    toks = words(question)
    raw = [t.lower() for t, _, _ in toks]
    folded = [canon(t) for t, _, _ in toks]
    drop = [False] * len(raw)
    # "Ngoài việc ghi nhận …, ông ấy còn làm gì?": what is excluded is not what is asked
    m = re.search(rf"(?i)\b({alternation(_LEX.cues['exclusions'])})\b[^,;]*[,;]", question)
    if m:
        for k, (_, ts, te) in enumerate(toks):
            if m.start() <= ts and te <= m.end():
                drop[k] = True
    # head nouns of named entities ("Bệnh viện" Bãi Cháy, "năm" 2023) are part of the name, not topic
    for ent in entities or ():
        for k, (_, ts, te) in enumerate(toks):
            if ent.head_start <= ts and te <= ent.start:
                drop[k] = True
    # remove question-word phrases (longest first)
    for phrase in _QWORD_PHRASES:
        p = phrase.split()
        n = len(p)
        for i in range(len(folded) - n + 1):
            if folded[i : i + n] == p and not all(drop[i : i + n]):
                if accented and any(p[k] in _QWORD_ACCENTED and raw[i + k] not in _QWORD_ACCENTED[p[k]] for k in range(n)):
                    continue  # "lá", "mới", "máy" are not "là", "mỗi", "mấy"
                if not english and phrase in _LEX.english_only_qwords:
                    continue
                if phrase in _LEX.keep_first_qwords:
                    drop[i + 1] = drop[i + 2] = True  # keep "tăng"/"đạt" as content
                    continue
                for k in range(i, i + n):
                    drop[k] = True
    kw, kwf, wts = [], [], []
    for i, (r, f) in enumerate(zip(raw, folded)):
        if drop[i]:
            continue
        if english:
            if f in GLOSSARY:
                g = GLOSSARY[f]  # "" (a word with no report equivalent) adds nothing
                if g:
                    # a multi-word translation stays one keyword ("chuyen tuyen"), matched as a run
                    kw.append(g)
                    kwf.append(g)
                    wts.append(1.0)
                continue
            if not f[:1].isdigit() and not _capitalised(toks[i][0]):
                continue  # an English word we cannot translate can never match a Vietnamese report
        if accented:
            if r in _STOP_ACCENTED:
                continue
            weight = 1.0
        else:
            if f in _STOP_FOLDED:
                continue
            weight = AMBIGUOUS_WEIGHT if f in _AMBIGUOUS_FOLDED else 1.0
        expansion = ABBREVIATIONS.get(f)
        if expansion:
            for g in expansion:
                kw.append(g)
                kwf.append(g)
                wts.append(1.0)
            continue
        kw.append(r)
        kwf.append(f)
        wts.append(weight)
    # one entry per folded keyword, keeping the highest weight
    seen: dict[str, int] = {}
    out_kw, out_kwf, out_w = [], [], []
    for r, f, w in zip(kw, kwf, wts):
        if f in seen:
            out_w[seen[f]] = max(out_w[seen[f]], w)
            continue
        seen[f] = len(out_kwf)
        out_kw.append(r)
        out_kwf.append(f)
        out_w.append(w)
    return out_kw, out_kwf, out_w


_TWO_FACT_PATTERNS = _CUE["comparisons"]


def analyze(question: str, parts: int | None = None) -> QuestionType:
    """Analyse one question; ``parts``: how many :func:`split_question` gives it, when already known."""
    question = unicodedata.normalize("NFC", question)
    english = looks_english(question)
    accented = has_diacritics(question)
    raw_tokens = [t.lower() for t, _, _ in words(question)]
    folded_tokens = [canon(t) for t, _, _ in words(question)]
    kinds, qwords = _find_kinds(folded_tokens, raw_tokens, accented, english, question)
    folded_q = " ".join(folded_tokens)
    kind: Kind = kinds[0] if kinds else "other"  # type: ignore[assignment]
    if kind == "person" and any(e.kind == "person" for e in extract_entities(question, english)):
        # "Phạm Duy Hưng tặng Bằng khen cho những ai?", "Lê Ngọc Dũng là ai?": the person is
        # given; the answer is whom/what the sentence says about them
        kind = "list" if re.search(r"\bnhung ai\b", " ".join(folded_tokens)) else "other"
    entities = extract_entities(question, english)
    kw, kwf, wts = _keywords(question, english, accented, entities)
    qk = _quantity_kind(folded_q, english) if kind == "quantity" else None
    two = bool(_TWO_FACT_PATTERNS.search(folded_q)) or (len(split_question(question)) if parts is None else parts) >= 2
    toks = words(question)
    breaks = [k > 0 and question[toks[k - 1][2] : toks[k][1]].strip() != "" for k in range(len(toks))]
    # English looks for its measure over five words after "how many", which may reach a name
    named = [english and any(e.start <= s < e.end for e in entities if e.kind in _NAMED_KINDS) for _, s, _ in toks]
    measure, units = _measure(folded_tokens, raw_tokens, accented, english, breaks, named) if kind == "quantity" else (None, ())
    if qk == "percent":
        measure, units = None, ()
    deputy = bool(_CUE["deputy"].search(folded_q)) and (not accented or "phó" in question.lower())
    return QuestionType(
        kind=kind,
        two_facts=two,
        keywords=tuple(kw),
        keywords_folded=tuple(kwf),
        weights=tuple(wts),
        entities=tuple(entities),
        quantity_kind=qk,
        measure=measure,
        units=units,
        english=english,
        accented=accented,
        deputy=deputy,
        qwords=tuple(qwords),
    )


# Conjunctions that may join two asked facts, strongest first.
_SPLITS = (
    re.compile(rf"\s*;\s*|\s*,?\s+(?:{alternation(_LEX.cues['split_strong'])})\s+", re.IGNORECASE),
    re.compile(rf"\s*,?\s+(?:{alternation(_LEX.cues['split_and'])})\s+", re.IGNORECASE),
    re.compile(rf"\s*,\s+còn\s+|\s+(?:{alternation(_LEX.cues['split_or'])})\s+", re.IGNORECASE),
    re.compile(r"\s*,\s+"),  # only between two question words (see _split_once)
)
_NAMED_KINDS = ("facility", "place", "name", "person")


def split_question(question: str, max_parts: int = 4) -> list[str]:
    """Split a compound question into its parts, in the order asked; ``[question]`` when it asks one thing.

    A split is kept only when each side has its own content - a measure or a question word, or
    only an entity ("Tiên Du", "năm 2022") - or when the sides name different units/places:
    "chăm sóc và bảo vệ sức khỏe" stays whole; "số lượt khám bệnh và số lượt điều trị nội trú",
    "Bãi Cháy và Tiên Du" split. Each side is split again ("bao nhiêu bác sĩ, bao nhiêu điều dưỡng
    và bao nhiêu giường" → three parts). Two names doing one thing together ("Sở Y tế và Bệnh viện
    … phối hợp tổ chức") are one subject; a comma splits only between two question words.
    """
    question = unicodedata.normalize("NFC", question).strip()
    folded_q = " ".join(canon_tokens(question))
    if _CHANGE_ASKED.search(folded_q):
        return [question]  # "tăng bao nhiêu so với năm 2022": one figure, the change
    parts = _split_once(question, joint=bool(_CUE_JOINT.search(folded_q)))
    if len(parts) < 2:
        return [question]
    out: list[str] = []
    for part in parts:
        room = max_parts - len(out) - (len(parts) - parts.index(part) - 1)
        out.extend(split_question(part, room) if room >= 2 else [part])
    return out[:max_parts] if len(out) <= max_parts else [question]


def _split_once(question: str, joint: bool) -> list[str]:
    """The first conjunction (strongest first) whose two sides are each a fact; else ``[question]``."""
    for m in (m for rx in _SPLITS for m in rx.finditer(question)):
        left, right = question[: m.start()].strip(" ,"), question[m.end() :].strip(" ,")
        if not left or not right:
            continue
        if m.group().strip() == ",":
            if _has_qword(left) and _has_qword(right):
                return [left, right]
            continue
        if joint and not (_has_qword(left) and _has_qword(right)):
            continue  # "Sở Y tế và Bệnh viện … phối hợp": one subject of one question word
        if _is_fact_half(left) and _is_fact_half(right):
            return [left, right]
        named_l = {e.tokens for e in extract_entities(left) if e.kind in _NAMED_KINDS}
        named_r = {e.tokens for e in extract_entities(right) if e.kind in _NAMED_KINDS}
        if named_l and named_r and named_l.isdisjoint(named_r) and len(words(right)) >= 2:
            return [left, right]
    return [question]


_QWORD_RX = re.compile(r"\b(bao nhieu|may|ai|nao|gi|khi nao|ngay nao|o dau|bao gio|bao lau|how many|how much|who|when|where|which|what)\b")
# "tăng bao nhiêu", "giảm mấy": the change is the one figure asked ("giám đốc" is no change)
_CHANGE_ASKED = re.compile(rf"\b({alternation(_LEX.cues['change_verbs'])})\b(?: \w+){{0,2}} ({alternation(_LEX.cues['compute_how_much'])})\b")
_CUE_JOINT = re.compile(rf"\b({alternation(_LEX.cues['joint_subject'])})\b")


def _has_qword(part: str) -> bool:
    return bool(_QWORD_RX.search(" ".join(canon(t) for t, _, _ in words(part))))


_MEASURE_WORD = re.compile(r"(?<![\wÀ-ỹ])(lượt|số|tỷ lệ|tỉ lệ|công suất|luot|ty le|ti le|cong suat|so luot|so ca)(?![\wÀ-ỹ])", re.IGNORECASE)


_FACT_HEAD = re.compile(
    r"^(?:(?:cho biết|cho biet|so sánh|so sanh|compare|tổng|tong|the)\s+)*(?:số|tổng số|tong so|tỷ lệ|ty le|tỉ lệ|ti le|bao nhiêu|bao nhieu|mấy|công suất|cong suat|"
    r"ai|who|when|where|how many|how much|what|which|ngày|khi nào|khi nao|ở đâu|o dau|number|rate|giám đốc|giam doc|phó giám đốc|pho giam doc|lượt|luot)(?![\wÀ-ỹ])",
    re.IGNORECASE,
)


def _is_fact_half(part: str) -> bool:
    """A half names something on its own: starts like a measure/question, has a question word, or an entity."""
    if _FACT_HEAD.search(part):
        return True
    f = " ".join(canon(t) for t, _, _ in words(part))
    if _QWORD_RX.search(f):
        return True
    if _MEASURE_WORD.search(part) and len(words(part)) >= 2:
        return True
    ents = extract_entities(part)
    toks = words(part)
    # a half made only of an entity ("Tiên Du", "năm 2022", "Bệnh viện Bãi Cháy")
    ents = [e for e in ents if e.kind not in ("year", "number")]  # "năm 2022" alone is a baseline
    if ents:
        ent_tokens = sum(len(e.tokens) for e in ents)
        rest = [t for t, _, _ in toks if canon(t) not in _HEAD_WORDS and canon(t) not in _STOP_FOLDED]
        return len(rest) - ent_tokens <= 2
    return False
