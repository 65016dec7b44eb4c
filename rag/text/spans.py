"""Generic span detectors: dates, persons, organisations and places, numbers in words, ordinals and
ranges, found in report text without relying on the reports' own wording (used by the answerer and
by retrieval's period filter).

They complement the detectors of :mod:`rag.answer.extractive` (numbers with units, titled
Vietnamese names, facilities after an administrative head): dates with or without a year
("ngày 16/9", "quý IV/2024", "6 tháng đầu năm 2024", "thế kỷ 11", "giai đoạn 2021–2025"), foreign
names and names after any title ("John Smith", "Louis XIV", "chuyên gia WHO Maria Lopez"),
organisations and places without a head noun ("WHO", "Viện Pasteur", "tại Đà Lạt"), numbers
written in words ("một trăm hai mươi"), ordinals ("lần thứ hai", "hạng nhì") and ranges
("từ 15 đến 20", "15–20%"). Word lists come from ``rag/lang/vi/spans.toml`` and the lexicon.

Each detector returns :class:`Found` items (character offsets into the text); the answerer wraps
them into its own span type. Precision and recall per detector are measured on our own annotated
sentences by ``python -m eval.span_quality`` (``tests/answer/data/spans.jsonl``).
"""

from __future__ import annotations

import re
from typing import NamedTuple, Protocol, TypeVar

from rag.lang import alternation, both_cases, load_lexicon
from rag.text import fold, has_diacritics

_LEX = load_lexicon()
_W = _LEX.spans


class Found(NamedTuple):
    """A detected span and its type: "date", "period", "person", "place", "org", "number",
    "ordinal" or "range"."""

    kind: str
    start: int
    end: int
    value: int | None = None  # the value of a number written in words


def _alt(items: tuple[str, ...] | list[str]) -> str:
    return alternation(items, longest_first=True)


# Latin letters (Vietnamese included) by case: "À-Ỹ" alone would mix both cases
_UP = "[" + "".join(c for c in map(chr, range(0x41, 0x1EFA)) if c.isalpha() and c.isupper()) + "]"
_LO = "[" + "".join(c for c in map(chr, range(0x61, 0x1EFA)) if c.isalpha() and c.islower()) + "]"
_Y = r"(?:1[5-9]|20)\d{2}"  # a year
_ROMAN = r"(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})"
_B = r"(?<![\wÀ-ỹ])"  # word start
_E = r"(?![\wÀ-ỹ])"  # word end

# ---------------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------------

_DAY_PART = _alt(_W["day_parts"])
_DATE_RX = [
    # "ngày 16 tháng 9 năm 2024", "ngày 16 tháng 9"
    re.compile(rf"{_B}(?:(?:{_DAY_PART})\s+)?(?:ngày\s+)?\d{{1,2}}\s+tháng\s+\d{{1,2}}(?:\s+năm\s+{_Y})?{_E}", re.I),
    # "16/9/2024", "16-9-2024", "ngày 16/9", "sáng 16/9"
    re.compile(rf"{_B}(?:(?:{_DAY_PART})\s+)?(?<![\d/.,])\d{{1,2}}([/-])\d{{1,2}}\1{_Y}(?![\d/])", re.I),
    re.compile(rf"{_B}(?:{_DAY_PART})\s+(?:ngày\s+)?\d{{1,2}}/\d{{1,2}}(?![\d/])", re.I),
    # "6 tháng đầu năm 2024", "9 tháng năm 2023", "nửa đầu năm 2024", "cuối năm 2023"
    re.compile(rf"{_B}(?:\d{{1,2}}|ba|sáu|chín)\s+tháng\s+(?:(?:{_alt(_W['year_parts'])})\s+)?năm(?:\s+{_Y})?{_E}", re.I),
    re.compile(rf"{_B}(?:{_alt(_W['year_parts'])})\s+năm\s+{_Y}{_E}", re.I),
    # "tháng 6/2025", "tháng 6 năm 2025", "tháng 6"
    re.compile(rf"{_B}tháng\s+(?:1[0-2]|0?[1-9])(?:\s*/\s*{_Y}|\s+năm\s+{_Y})?(?![\d/])", re.I),
    # "quý IV/2024", "quý 4 năm 2024"
    re.compile(rf"{_B}quý\s+(?:IV|I{{1,3}}|[1-4])(?:\s*/\s*{_Y}|\s+năm\s+{_Y})?{_E}", re.I),
    # "giai đoạn 2021–2025", "2021-2025", "từ năm 2021 đến năm 2025"
    re.compile(rf"{_B}(?:(?:{_alt(_W['period_nouns'])})\s+)?(?<![\d/.,]){_Y}\s*[–—-]\s*{_Y}(?![\d/])", re.I),
    re.compile(rf"{_B}từ\s+năm\s+{_Y}\s+(?:đến|tới)\s+(?:năm\s+)?{_Y}{_E}", re.I),
    # "thế kỷ 11", "thế kỷ XI"
    re.compile(rf"{_B}(?:{_alt(_W['century'])})\s+(?:\d{{1,2}}|{_ROMAN}){_E}", re.I),
    # "năm 1990"
    re.compile(rf"{_B}năm\s+{_Y}(?![\d/.,]\d)", re.I),
]


# patterns coarser than a month: periods of a year, spans of years, centuries, years
_PERIOD_RX = frozenset({3, 4, 7, 8, 9, 10})


def _valid_day_month(text: str) -> bool:
    nums = [int(n) for n in re.findall(r"\d+", text)]
    return len(nums) >= 2 and 1 <= nums[0] <= 31 and 1 <= nums[1] <= 12


class _Extent(Protocol):
    start: int
    end: int


S = TypeVar("S", bound=_Extent)


def keep_longest(found: list[S]) -> list[S]:
    """Overlapping spans (anything with ``start`` and ``end``): the longest wins (then the earliest)."""
    out: list[S] = []
    for f in sorted(found, key=lambda f: (-(f.end - f.start), f.start)):
        if all(f.end <= o.start or f.start >= o.end for o in out):
            out.append(f)
    return sorted(out, key=lambda f: f.start)


def dates(text: str, start: int = 0, end: int | None = None) -> list[Found]:
    """Dates with or without a year ("date"); periods of a year, spans of years, centuries and
    years ("period": "6 tháng đầu năm 2024", "giai đoạn 2021–2025", "năm 1990")."""
    end = len(text) if end is None else end
    found: list[Found] = []
    for i, rx in enumerate(_DATE_RX):
        for m in rx.finditer(text, start, end):
            if i in (1, 2) and not _valid_day_month(m.group()[-10:] if i == 1 else m.group()):
                continue  # "14/14 xã", "1/3 cán bộ"
            found.append(Found("period" if i in _PERIOD_RX else "date", m.start(), m.end()))
    return keep_longest(found)


# ---------------------------------------------------------------------------------------------
# Numbers in words, ordinals, ranges
# ---------------------------------------------------------------------------------------------

_NUMBER_WORDS = {**_LEX.number_words, **_LEX.number_scales}
_NUMBER_WORD_RX = re.compile(rf"{_B}(?:{_alt(tuple(_NUMBER_WORDS))})(?:\s+(?:{_alt(tuple(_NUMBER_WORDS))}))*{_E}", re.I)
# single words too ambiguous to be numbers on their own ("một số", "năm nay", "tư nhân", "ba mẹ")
_AMBIGUOUS_ALONE = frozenset({"một", "mốt", "lăm", "tư", "không", "linh", "lẻ", "mươi", "chục"})
_COUNTED = tuple(sorted(set(_LEX.unit_heads) | set(_W["counted_nouns"]), key=lambda u: -len(u.split())))


def word_value(tokens: list[str]) -> int | None:
    """The value of a number written in words ("một trăm hai mươi" → 120); None if it is not one."""
    total = group = last = 0
    for tok in (t.lower() for t in tokens):
        if tok in ("mươi", "chục"):
            if not last:
                return None
            group += last * 9  # "hai mươi": the 2 already counted becomes 20
            last = 0
        elif tok == "trăm":
            group += last * 99 if last else 100
            last = 0
        elif tok in _LEX.number_scales:
            total += (group or 1) * _LEX.number_scales[tok]
            group = last = 0
        elif tok in ("linh", "lẻ"):
            continue
        else:
            last = _LEX.number_words[tok]
            group += last
    return total + group


def _counted_after(text: str, pos: int) -> bool:
    """A noun a number counts follows at ``pos`` ("ba người", "sáu tháng")."""
    folded = fold(text[pos : pos + 30]).lower()
    return any(re.match(rf"\s+{re.escape(u)}(?![\w])", folded) for u in _COUNTED)


def word_numbers(text: str, start: int = 0, end: int | None = None) -> list[Found]:
    """Numbers written in words: "hai", "ba mươi", "một trăm hai mươi", "mười lăm nghìn"."""
    end = len(text) if end is None else end
    out: list[Found] = []
    for m in _NUMBER_WORD_RX.finditer(text, start, end):
        toks = m.group().split()
        before = fold(text[max(start, m.start() - 12) : m.start()]).lower()
        if re.search(r"\b(thu|hang)\s*$", before):
            continue  # "thứ hai", "hạng ba": ordinals
        if toks[0][:1].isupper() and m.start() > start and not re.search(r"[.!?:]\s*$", text[max(start, m.start() - 3) : m.start()]):
            continue  # "thứ Hai", "Ba Vì": a name, not a number
        if len(toks) == 1 and (toks[0].lower() in _AMBIGUOUS_ALONE or not _counted_after(text, m.end())):
            continue  # "một bệnh viện" (an article), "năm nay", "ba mẹ": a lone word must count a noun
        if toks[-1].lower() in ("linh", "lẻ", "không"):
            continue
        value = word_value(toks)
        if value is not None:
            out.append(Found("number", m.start(), m.end(), value))
    return out


_ORD_WORD = _alt(tuple(_W["ordinal_words"]) + tuple(k for k in _LEX.number_words if k not in ("không", "linh", "lẻ", "mươi")))
_ORDINAL_RX = re.compile(
    rf"{_B}(?:{_alt(_W['ordinal_heads'])})\s+(?:\d{{1,3}}|{_ROMAN}(?![\wÀ-ỹ])|(?:{_ORD_WORD})(?:\s+(?:mươi|{_ORD_WORD}))*){_E}"
)
_WEEKDAY_BEFORE = re.compile(rf"(?:{_alt(_W['weekday_before'])})\s+$", re.I)


def ordinals(text: str, start: int = 0, end: int | None = None) -> list[Found]:
    """Ordinals: "thứ 3", "thứ ba", "hạng I/II/III", "lần thứ hai", "hạng đặc biệt"."""
    end = len(text) if end is None else end
    out: list[Found] = []
    for m in _ORDINAL_RX.finditer(text, start, end):
        words = m.group().split()
        if words[-1] in ("I", "V", "X") and words[0].lower() == "thứ":
            continue
        if m.group().lower().startswith("thứ") and _WEEKDAY_BEFORE.search(text[max(start, m.start() - 12) : m.start()]):
            continue  # "sáng thứ Ba": a weekday
        if m.group().lower().startswith("thứ") and re.match(r"\s*(?:,\s*)?(?:\(|ngày\s+\d)", text[m.end() : m.end() + 12]):
            continue  # "thứ Hai (16/9)", "thứ 2, ngày 16/9"
        out.append(Found("ordinal", m.start(), m.end()))
    return out


_NUM = r"\d+(?:[.,]\d+)*"
_RANGE_RX = re.compile(
    rf"(?<![\w/.,-])(?:(?:từ|khoảng|trong khoảng)\s+)?{_NUM}\s*%?\s*(?:[–—-]|\s(?:đến|tới)\s)\s*{_NUM}\s*%?(?![\w/]|[.,]\d)", re.I
)


def ranges(text: str, start: int = 0, end: int | None = None) -> list[Found]:
    """Ranges of numbers: "từ 15 đến 20", "15–20%" (not spans of years, which are dates)."""
    end = len(text) if end is None else end
    out: list[Found] = []
    for m in _RANGE_RX.finditer(text, start, end):
        nums = re.findall(_NUM, m.group())
        if all(re.fullmatch(_Y, n) for n in nums):
            continue
        if re.search(rf"(?:ngày|{_DAY_PART})\s*$", text[max(start, m.start() - 8) : m.start()], re.I):
            continue  # "ngày 15 đến 20/9"
        if re.match(r"/\d", text[m.end() : m.end() + 2]):
            continue
        out.append(Found("range", m.start(), m.end()))
    return out


# ---------------------------------------------------------------------------------------------
# Persons
# ---------------------------------------------------------------------------------------------

_VI_SYLLABLE = re.compile(r"^(?:ngh|ng|gh|gi|ch|kh|nh|ph|qu|th|tr|[bcdghklmnprstvx])?[aeiouy]{1,3}(?:ng|nh|ch|[cmnpt])?$")
_CAPWORD = rf"{_UP}(?:{_LO}|['’-])+"
_NAME_RUN = re.compile(rf"(?<![\wÀ-ỹ]){_CAPWORD}(?:[ \u00a0]+(?:{_CAPWORD}|[A-Z]\.?(?=[\s,.;:)]|$)))*")
_TITLE_BEFORE = re.compile(
    rf"(?:{_alt(both_cases(_LEX.titles + _W['person_roles']))}|(?:{_alt(_LEX.title_abbreviations)})\.?)"
    rf"(?:\s+[A-ZĐ]{{2,}}(?:\s+[A-ZĐ]{{2,}})?)?\s*[.,]?\s+$"
)
_REGNAL_BEFORE = re.compile(rf"(?:{_alt(both_cases(_W['regnal_titles']))})\s+$")
_ORG_WORDS = frozenset(_W["english_org_words"])
_HEAD_STARTS = tuple(_LEX.facility_heads_written) + tuple(_W["org_heads"])


def _foreign(word: str) -> bool:
    """A capitalised word that cannot be one Vietnamese syllable ("Smith", "Yamamoto", "Maria")."""
    return not has_diacritics(word) and not _VI_SYLLABLE.match(fold(word).lower())


def _starts_with_head(text: str, pos: int) -> bool:
    """A facility or organisation head begins at ``pos`` ("Sở Y tế …", "Viện …")."""
    return any(text.startswith(h, pos) and not text[pos + len(h) : pos + len(h) + 1].isalpha() for h in _HEAD_STARTS)


_LEADING = frozenset(w.lower() for w in _LEX.titles + _W["person_roles"] + _W["locatives"] if " " not in w)


def _name_runs(text: str, start: int, end: int):
    """Capitalised runs, without a leading capitalised title or preposition ("Ông John Smith",
    "Tại Geneva"): (start, end, words, led) where ``led`` says such a word was dropped."""
    for m in _NAME_RUN.finditer(text, start, end):
        s, words = m.start(), m.group().split()
        led = False
        while len(words) > 1 and words[0].lower() in _LEADING:
            s = text.index(words[1], s + len(words[0]))
            words = words[1:]
            led = True
        yield s, m.end(), words, led


def persons(text: str, start: int = 0, end: int | None = None) -> list[Found]:
    """Names of persons: after any title or role ("TS.BS Nguyễn Văn A", "chuyên gia WHO Maria
    Lopez"), foreign names ("John Smith", "Takeshi Yamamoto") and names with a regnal number
    ("Louis XIV"). Vietnamese names without a title are found by the answerer's surname rule."""
    end = len(text) if end is None else end
    out: list[Found] = []
    for s, e, words, led in _name_runs(text, start, end):
        if s > start and (text[s - 1].isalnum() or text[s - 1] in ".-"):
            continue
        if _starts_with_head(text, s):
            continue
        roman = re.match(rf"\s+({_ROMAN})(?![\wÀ-ỹ])", text[e:end])
        before = text[max(start, s - 40) : s]
        titled = _TITLE_BEFORE.search(before) is not None
        if roman and roman.group(1) and len(words) <= 2 and (_foreign(words[0]) or _REGNAL_BEFORE.search(before)):
            out.append(Found("person", s, e + roman.end()))
            continue
        words = words[:4]
        if any(w in _ORG_WORDS for w in words):
            continue
        if titled and (len(words) >= 2 or _foreign(words[0])):
            e = s + len(" ".join(words))
            out.append(Found("person", s, e))
        elif 2 <= len(words) <= 3 and all(not has_diacritics(w) for w in words) and sum(_foreign(w) for w in words) >= 1:
            if (s == start or re.search(r"[.!?]\s*$", text[max(start, s - 3) : s])) and not titled:
                if all(_foreign(w) for w in words):
                    out.append(Found("person", s, e))
                continue
            out.append(Found("person", s, e))
    return out


# ---------------------------------------------------------------------------------------------
# Organisations and places without an administrative head
# ---------------------------------------------------------------------------------------------

_NOT_ORG = frozenset(_W["not_org_acronyms"])
_ACRONYM = re.compile(rf"(?<![\w-]){_UP}(?:{_UP}|&){{1,9}}(?![\w-])")
_ORG_HEAD_RX = re.compile(rf"(?<![\wÀ-ỹ])(?:{_alt(_W['org_heads'])})(?=\s+{_UP})")
_NEXT_WORD = re.compile(rf"\s+({_UP}[\wÀ-ỹ'’-]*|{_LO}+)(?![\wÀ-ỹ])")
_LOCATIVE = re.compile(rf"(?<![\wÀ-ỹ])(?:{_alt(both_cases(_W['locatives']))})\s+$")
_PROVINCES = frozenset(_LEX.provinces)
# "Hội Chữ thập đỏ tỉnh": a rank word right after the name, before punctuation or a verb
_QUAL_AFTER = re.compile(rf"\s+(?:{_alt(_LEX.facility_qualifiers)})(?=\s*[,.;:)]|\s+{_LO})")
_PERSON_CUE = re.compile(rf"{_TITLE_BEFORE.pattern}")


_HEAD_WORDS = frozenset(w for h in _LEX.facility_heads for w in h.split()) - {"y", "te"}


def _name_after(text: str, pos: int, end: int, max_words: int = 6) -> int:
    """End of a proper name starting after ``pos`` (``pos`` when there is none): capitalised
    words, lower-case words between them ("Quỹ Nhi đồng Liên hợp quốc"), and a lower-case tail
    of up to two words when punctuation follows it ("Hội Chữ thập đỏ,")."""
    ends: list[tuple[int, bool]] = []  # (end of word, capitalised)
    cur = pos
    while len(ends) < max_words:
        w = _NEXT_WORD.match(text, cur, end)
        if not w:
            break
        word = w.group(1)
        if not word[0].isupper() and (not ends or word in _LEX.place_stop or fold(word).lower() in _HEAD_WORDS):
            break
        if ends and _starts_with_head(text, w.start(1)):
            break  # "Đại học Oxford thăm Bệnh viện …": the next name begins
        ends.append((w.end(), word[0].isupper()))
        cur = w.end()
    caps = [i for i, (_, cap) in enumerate(ends) if cap]
    if not caps:
        return pos
    last = caps[-1]
    if 0 < len(ends) - 1 - last <= 2:
        after = text[ends[-1][0] : end]
        if re.match(r"\s*(?:[,.;:)]|$)", after):
            return ends[-1][0]
    return ends[last][0]


def organisations(text: str, start: int = 0, end: int | None = None) -> list[Found]:
    """Organisations and places named without an administrative head: acronyms ("WHO",
    "UNICEF"), non-administrative heads ("Viện Pasteur", "Tổ chức Y tế Thế giới"), provinces
    and names after a preposition of place ("tại Đà Lạt", "ở Geneva")."""
    end = len(text) if end is None else end
    out: list[Found] = []
    for m in _ORG_HEAD_RX.finditer(text, start, end):
        e = _name_after(text, m.end(), end)
        if e > m.end():
            q = _QUAL_AFTER.match(text, e, end)
            out.append(Found("org", m.start(), q.end() if q else e))
    for m in _ACRONYM.finditer(text, start, end):
        word = m.group()
        if word in _NOT_ORG or word in _LEX.facility_heads_written or re.fullmatch(_ROMAN, word) or word.lower() in _LEX.roles:
            continue
        out.append(Found("org", m.start(), m.end()))
    for s, e, words, _ in _name_runs(text, start, end):
        if _starts_with_head(text, s) or (s > start and text[s - 1].isalnum()):
            continue
        folded = tuple(fold(" ".join(words)).lower().split())
        if folded in _PROVINCES:
            out.append(Found("place", s, e))
        elif _LOCATIVE.search(text[max(start, s - 8) : s]) and not _PERSON_CUE.search(text[max(start, s - 40) : s]):
            if len(folded) >= 2 and folded[0] in _LEX.surnames and len(folded) >= 3:
                continue  # "đến Nguyễn Văn An": a person
            out.append(Found("place", s, e))
    return keep_longest(out)
