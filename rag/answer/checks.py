"""Whether a unit is about what the question names, and whether a span can answer it.

:func:`check_entities` says which entity of the question (place, facility, person, year, number) a
unit's context does not name, or names a conflict for (another year, another named unit);
:func:`check_period` flags a part-year figure for a full-year question; :func:`span_ok` says
whether a typed span has the asked unit, measure and role, with a preference among the acceptable.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.answer.candidates import Passage, Unit, contains_run, lookup_text
from rag.answer.cells import cell_fit
from rag.answer.compute import asks_change
from rag.answer.qualifiers import preference_doubt
from rag.answer.typed_spans import NUMBER, Span, folded_lower, person_spans, place_spans, role_matches
from rag.lang import alternation, load_lexicon
from rag.query.analysis import QuestionType, canon, canon_tokens, match_tokens, words
from rag.text import fold

_LEX = load_lexicon()
# administrative ranks ("huyen", "thanh pho" …); every other facility head names a facility
_ADMIN_HEADS = tuple(dict.fromkeys(" ".join(canon_tokens(w)) for w in _LEX.spans["facility_admin_words"]))
_FACILITY_CLASS = tuple(h for h in _LEX.facility_heads if h not in _ADMIN_HEADS)
_AGGREGATE_SCOPE = re.compile(rf"\b({alternation(_LEX.aggregate_scopes)})\b")


def check_entities(qt: QuestionType, question: str, unit: Unit) -> str | None:
    """None when every entity of the question is mentioned in context; else what is missing.

    Context is the sentence, the previous sentence of its paragraph ("Đối với Trung tâm Y tế khu
    vực Lạc Thủy. TS. Lê Hồng Trung … yêu cầu …"), the document title and its lead. A name found
    only in the title/lead does not count when the sentence is about a wider scope ("toàn tỉnh",
    "các đơn vị") or names another unit; a year must be in the sentence or title, and a sentence
    that states other years (not as a comparison baseline) never answers for this one.
    """
    p = unit.passage
    sentence = unit.sentence
    sent_folded = folded_lower(sentence)
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
            if year in stated or contains_run(p.title_tokens, toks):
                continue
            if unit.prev_start is not None and year in _years_stated(p.text[unit.prev_start : unit.prev_end]):
                continue
            return f"year {ent.text} not mentioned"
        if ent.kind in ("facility", "place", "name", "person"):
            toks = _name_tokens(ent.text, toks)  # "BV Hữu nghị" is "Bệnh viện Hữu nghị"
        if contains_run(unit.sent_tokens, toks) or contains_run(unit.prev_tokens, toks):
            continue
        if ent.kind == "number" and any(_number_mentioned(toks, t) for t in (unit.sent_tokens, unit.prev_tokens)):
            continue
        if ent.kind == "number":
            if contains_run(p.title_tokens, toks):
                continue
            same = _PERIOD_EQUIVALENT.get((_entity_head(question, ent), toks[0]))
            if same and any(contains_run(t, same) for t in (unit.sent_tokens, unit.prev_tokens, p.title_tokens)):
                continue  # "quý IV" is "3 tháng cuối năm"
            return f"number {ent.text} not mentioned"
        if contains_run(p.title_tokens, toks) or contains_run(p.lead_tokens, toks):
            # the title/lead names it; the sentence must not be about something wider or other
            if ent.kind in ("facility", "name") and _AGGREGATE_SCOPE.search(" ".join(unit.sent_tokens)):
                return f"{ent.text}: the sentence is about a wider scope"
            if ent.kind in ("facility", "name") and qt.kind != "place":
                context = sentence if unit.prev_start is None else p.text[unit.prev_start : unit.sent_end]
                others = [sp for sp in place_spans(context) if _is_named_facility(sp.text)]
                if (
                    others
                    and not any(contains_run(match_tokens(sp.text), toks) for sp in others)
                    and not _refers_generically(sentence, others, _entity_head(question, ent))
                ):
                    return f"{ent.text}: the sentence is about another unit"
            continue
        if ent.kind in ("facility", "place") and qt.kind != "place":
            other = other_subject(sentence, p.title + " " + p.lead, _entity_head(question, ent), toks)
            if other:  # named nowhere, and the sentence is about another named unit of that kind
                return f"{ent.text}: the sentence is about another unit ({other})"
        if ent.kind == "person" and not person_spans(sentence):
            # "Đồng chí cũng yêu cầu …": a sentence naming nobody continues its document's speaker
            full = lookup_text(p)
            if contains_run(match_tokens(full), toks):
                continue
        return f"{ent.kind} {ent.text} not mentioned"
    return None


def places_unnamed(qt: QuestionType, passage: Passage) -> str | None:
    """The places the question names (provinces, districts …) when the passage's whole document
    names none of them: a report on another place never answers for this one ("Tiền Giang" asked,
    a report on Nghệ An). One named place is enough, so a comparison of two provinces still reads
    each one's report. None when some is named, the question names no place, or the document's
    full text is unknown (a passage alone may leave its province to the rest of the report)."""
    places = [e for e in qt.entities if e.kind == "place"]
    if not places or not passage.full_text:
        return None
    tokens = match_tokens(passage.title + " " + passage.full_text)
    if any(contains_run(tokens, _name_tokens(e.text, list(e.tokens))) for e in places):
        return None
    return f"the document names none of {', '.join(e.text for e in places)}"


SUBJECT_REACH = 0.4  # a named unit starting in the first 40 % of its sentence (at least 40 characters) is its subject
_LEADING_ADVERBIAL = r"(?:[^,]{0,40},\s*)?"  # "Năm 2023, bệnh viện …", "Theo báo cáo, …"


def _head_class(head: str) -> str:
    """What a head noun names: a facility ("benh vien", "trung tam y te" …) or the administrative
    rank itself ("huyen", "tinh" …); "" when there is no head."""
    if not head:
        return ""
    admin = next((a for a in _ADMIN_HEADS if head == a or head.endswith(" " + a)), None)
    facility = any(head.startswith(f) for f in _FACILITY_CLASS)
    return "facility" if facility else admin or ""


def _named_of_class(text: str, cls: str) -> list[Span]:
    """Named units of ``cls`` in ``text``: facilities with a proper name, or "huyện X" for a rank."""
    out = []
    for sp in place_spans(text):
        folded = folded_lower(sp.text)
        if cls == "facility" and _is_named_facility(sp.text):
            out.append(sp)
        elif cls and cls != "facility" and re.match(rf"{re.escape(cls)} [^\W\d]", folded) and _has_proper_name(sp.text):
            out.append(sp)
    return out


def other_subject(sentence: str, context: str, head: str, asked: Sequence[str]) -> str | None:
    """The other named unit a sentence is about, for a question naming one (by ``asked`` tokens,
    with its ``head`` noun) that neither the sentence nor its title/lead (``context``) names: a
    unit of the same kind named at the sentence's start ("Bệnh viện Đa khoa huyện X đã khám …" for
    a question on huyện Y's hospital), or a sentence whose subject is the bare head ("Bệnh viện đã
    khám …") in a document whose title/lead names another unit of that kind. None otherwise."""
    cls = _head_class(head)
    if not cls:
        return None
    reach = max(40, SUBJECT_REACH * len(sentence))
    for sp in _named_of_class(sentence, cls):
        if sp.start <= reach and not contains_run(match_tokens(sp.text), asked):
            return sp.text
    key = " ".join(head.split()[:2])
    bare = re.match(rf"{_LEADING_ADVERBIAL}(?i:{re.escape(key)})\b(?! [A-Z])", fold(sentence))
    if cls == "facility" and bare:
        named = _named_of_class(context, cls)
        if named and not any(contains_run(match_tokens(sp.text), asked) for sp in named):
            return named[0].text
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


_PERIOD_EQUIVALENT = {
    ("quy", "4"): ("3", "thang", "cuoi", "nam"),
    ("quy", "1"): ("3", "thang", "dau", "nam"),
}


def _entity_head(question: str, ent) -> str:
    """The folded head noun typed before an entity ("benh vien" for "Bệnh viện Bãi Cháy"); an
    English name's, typed after it, as the reports write it (``Entity.head``)."""
    if ent.head:
        return ent.head
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
    return re.search(rf"\b{re.escape(key)}\b", folded_lower(masked)) is not None


def _years_stated(sentence: str, as_baseline: bool = False) -> set[str]:
    """Years a sentence is about: every 19xx/20xx except comparison baselines ("so với năm 2022")."""
    years: set[str] = set()
    for m in re.finditer(r"(?<![\d.,])((?:19|20)\d{2})(?![\d.,]\d)", sentence):
        before = folded_lower(sentence[max(0, m.start() - 25) : m.start()])
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


def check_period(question: str, unit: Unit) -> str | None:
    """"Cả năm"/"full year" questions are not answered from partial-year figures."""
    qf = folded_lower(question)
    if not re.search(r"\b(ca nam|full year|whole year|trong ca nam)\b", qf):
        return None
    context = folded_lower(unit.sentence + " " + unit.passage.title)
    if _PERIOD_PART.search(context):
        return "the figure covers part of the year"
    return None


def _asked_head(question: str) -> str | None:
    """The unit kind a place question asks for: "trung tâm y tế huyện nào" → "trung tam y te huyen"."""
    qf = " ".join(canon(t) for t, _, _ in words(question))
    m = re.search(r"((?:benh vien|trung tam y te|trung tam|tram y te|so y te)(?: (?:khu vuc|huyen|tinh))?|khu vuc|tinh|huyen|xa) nao\b", qf)
    return m.group(1) if m else None


def unit_satisfies(unit_words: str, before: str, wanted: Sequence[str]) -> bool:
    """Whether a number's unit (or, when it has none, the words just before it) is one asked for."""
    toks = unit_words.replace("/", " / ").split()
    head = toks[: toks.index("/")] if "/" in toks else toks
    for u in wanted:
        ut = u.split()
        if contains_run(head, ut):
            return True
    if not head:
        # the words just before a bare number name what it counts ("số trẻ được tiêm là 7.412"),
        # but not past another number: "7.412 trẻ em dưới 1 tuổi" does not make "1" a count of children
        btoks = before.split()
        since_number = btoks[max((i for i, t in enumerate(btoks) if t[:1].isdigit()), default=-1) + 1 :]
        return any(contains_run(since_number[-6:], u.split()) for u in wanted)
    return False


def span_ok(qt: QuestionType, question: str, span: Span, unit: Unit, q_role=None) -> tuple[bool, float]:
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
            if not span.change and asks_change(question):
                pref -= 0.5  # "tăng bao nhiêu phần trăm": the stated change, not the rate it changes
        elif qk == "change" or asks_change(question):  # "vượt kế hoạch bao nhiêu": an excess is a change too
            if not span.change:
                pref -= 0.5
        else:
            if is_pct and qt.measure is not None:
                return False, 0.0
            if is_pct:
                pref -= 0.6
            if span.change:
                pref -= 0.4
        if span.header:
            fit = cell_fit(question, span.header, unit.passage.text)
            if fit is None:
                return False, 0.0  # a table cell of another column than the one asked
            pref += 0.3 * fit
        number = NUMBER.search(span.text)
        if number and re.fullmatch(r"\d+/\d{1,2}", number.group()) and qk != "percent":
            a, b = (int(x) for x in number.group().split("/"))
            if a < b <= 10:
                return False, 0.0  # "1/3 cán bộ" is a fraction, not a count
        if qt.measure == "ordinal":
            # "hạng mấy" → "hạng II"; "thứ mấy" → "thứ 3"
            head = qt.units[0]
            if not (folded_lower(span.text).startswith(head) or unit_words == head):
                return False, 0.0
        elif qt.units:
            if "/" in unit_words and qk != "rate":
                return False, 0.0  # a per-capita rate does not answer a count
            if not unit_satisfies(unit_words, span.before, qt.units):
                return False, 0.0
        elif qk == "rate" and "/" not in unit_words and "van" not in unit_words:
            pref -= 0.3
        pref += preference_doubt(question, qt, span, unit)
        if span.in_parens:
            pref -= 0.35
        if span.comparison and qk != "change" and not asks_change(question):  # "tăng 1,2% so với …" answers a change
            pref -= 0.1
    elif span.kind == "person":
        if q_role is not None and span.roles:
            if not any(role_matches(q_role, r) for r in span.roles):
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
        folded_span = folded_lower(span.text)
        if head and head not in folded_span and not folded_span.startswith(head.split()[0]):
            return False, 0.0
        if head and head in folded_span:
            pref += 0.2
    elif span.kind == "date":
        if re.match(r"^(?:19|20)\d{2}$", span.text.split()[-1]) and span.text.lower().startswith(("năm", "đến", "tới", "vào", "trong")):
            pref -= 0.2  # a year alone: only when asked for a year
    return True, pref


def is_conflict(issue: str) -> bool:
    """A named conflict, always a reason not to answer: the sentence states another year, is
    about another named unit than the one asked, or its document names none of the asked places."""
    return issue.startswith(("the sentence is about ", "the document names none of ")) or "the sentence is about another unit" in issue

