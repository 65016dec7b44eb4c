"""Typed answer spans in passage text: quantities with their unit, dates, persons with their
roles, facility and place names (offsets within the passage).

The detectors here know the reports' writing ("trên 383.605 lượt người", "Giám đốc Sở Y tế Lê Hồng
Trung", "Trung tâm Y tế huyện Bình Liêu"); :func:`find_spans` merges them with the generic ones of
:mod:`rag.text.spans` (longest first). Scoring reads each span's context: its unit words, the
words before it, whether it is a change, in brackets or a comparison, and a person's roles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.text import spans as generic
from rag.answer.cells import cell_header
from rag.text.spans import Found
from rag.lang import alternation, both_cases, load_lexicon
from rag.query.analysis import MEASURE_UNITS, PROVINCES, SURNAMES, canon, words
from rag.text import fold


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
    header: str = ""  # the column header of a table cell's figure ("Giường bệnh thực kê")


_LEX = load_lexicon()
_UNIT_HEADS = sorted(
    {u for units in MEASURE_UNITS.values() for u in units} | set(_LEX.unit_heads),
    key=lambda u: -len(u.split()),
)
_MULTIPLIERS = _LEX.multipliers
_QUALIFIERS = _LEX.qualifiers
_CHANGES = _LEX.changes
_NUM = r"\d+(?:[.,]\d+)*"
NUMBER = re.compile(rf"(?<![\w/.,-]){_NUM}(?:/\d{{1,3}})?%?(?![\w/]|[.,]\d)")
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
# words between a head and its name: qualifiers, specialties, administrative words ("Bệnh viện Đa
# khoa huyện Sông Mã", "Bệnh viện Phục hồi chức năng Nghệ An"), in any case
_FACILITY_QUAL = re.compile(
    rf"\s+(?:tuyến\s+)?(?:{alternation(_LEX.facility_qualifiers + _LEX.spans['facility_specialties'] + _LEX.spans['facility_admin_words'], longest_first=True)})"
    r"(?=[\s\-–,.;:)]|$)",
    re.IGNORECASE,
)
_NAME_WORD = re.compile(rf"\s+({_CAP}|[a-zà-ỹđ]+)")
_PLACE_STOP = _LEX.place_stop


def folded_lower(text: str) -> str:
    return fold(text).lower()


def words_before(text: str, pos: int, n: int) -> str:
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
    for m in NUMBER.finditer(region):
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
            change = folded_lower(mq.group(1)).split()[0] in ("tang", "giam", "bang", "vuot", "them")
        paren_open = text.rfind("(", start, s)
        in_parens = paren_open >= 0 and text.find(")", paren_open, s) < 0
        comparison = bool(re.match(r"\s*(?:\S+\s+){0,3}?so với", text[new_end : new_end + 40]))
        header = cell_header(text, s)
        if header and not unit:
            unit = " ".join(canon(t) for t, _, _ in words(header))  # a bare cell counts what its column names
        spans.append(
            Span("quantity", s2, new_end, text[s2:new_end], unit, words_before(text, s2, 8), change, in_parens, comparison,
                 header=header)
        )
    for rx in (_ROMAN, _WORD_NUMBER):
        for m in rx.finditer(region):
            s, e = start + m.start(), start + m.end()
            unit = canon(m.group().split()[0]) if rx is _ROMAN else "tien" if "đồng" in m.group() else ""
            spans.append(Span("quantity", s, e, text[s:e], unit, words_before(text, s, 8)))
    spans.sort(key=lambda sp: sp.start)
    return spans


def date_spans(text: str, start: int = 0, end: int | None = None, years: bool = False) -> list[Span]:
    """Dates ("Ngày 5/1/2024", "Chiều 20/6", "tháng 12/2023", "ngày 16 tháng 9"): the one set of
    date patterns, :func:`rag.text.spans.dates`; with ``years``, periods and years too ("năm 2025")."""
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
        prev_word = words_before(text, s, 3)
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
        spans.append(Span("person", s, e, text[s:e], before=folded_lower(role_before + " | " + after), roles=roles))
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
    folded = folded_lower(after)
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
    folded = folded_lower(seg)
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


def role_matches(q: tuple[bool, str, str | None], r: tuple[bool, str, str | None]) -> bool:
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
        spans.append(Span("place", s, pos, text[s:pos], before=words_before(text, s, 8)))
    return spans


def _from_found(f: Found, text: str, end: int) -> Span:
    """A generic detection (rag.text.spans) as a :class:`Span` with the context scoring reads."""
    before = words_before(text, f.start, 8)
    if f.kind in ("number", "range"):
        new_end, unit = (f.end, "%") if text[f.start : f.end].endswith("%") else _unit_after(text, f.end, end)
        start = f.start
        mq = re.search(rf"(?:^|\s)({'|'.join(_QUALIFIERS)})\s+$", text[max(0, f.start - 15) : f.start], re.IGNORECASE)
        if mq and f.kind == "number":  # "khoảng một trăm hai mươi lượt"
            start = f.start - (len(text[max(0, f.start - 15) : f.start]) - mq.start(1))
        return Span("quantity", start, new_end, text[start:new_end], unit, words_before(text, start, 8))
    if f.kind == "ordinal":
        return Span("quantity", f.start, f.end, text[f.start : f.end], canon(text[f.start : f.end].split()[0]), before)
    if f.kind == "person":
        roles = _roles_after(text[f.end : min(end, f.end + 140)]) or _roles_before(text[max(0, f.start - 70) : f.start])
        return Span("person", f.start, f.end, text[f.start : f.end], before=before, roles=roles)
    return Span("date" if f.kind in ("date", "period") else "place", f.start, f.end, text[f.start : f.end], before=before)


def find_spans(kind: str, text: str, start: int = 0, end: int | None = None, years: bool = False) -> list[Span]:
    """Spans of ``kind`` ("quantity", "date", "person", "place") in ``text[start:end]``: the
    detectors above and the generic ones of :mod:`rag.text.spans`, overlaps resolved longest first.
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

