"""Turn a follow-up question into a standalone one, using the last turns of the conversation.

"Ông ấy tặng Bằng khen cho những ai?" after a turn about Phạm Duy Hưng becomes "Phạm Duy Hưng
tặng Bằng khen cho những ai? (Bắc Kạn)"; "Còn số lượt điều trị nội trú thì sao?" after a question
about Tiên Du's examinations becomes "số lượt điều trị nội trú của Trung tâm Y tế huyện Tiên Du
… là bao nhiêu?". Works on text typed with or without diacritics and on English ("he", "that
hospital", "what about …").

Only entities that were actually said in the conversation are used: the rewrite never invents a
name, it copies one from the previous question or answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.lang import alternation, load_lexicon
from rag.query.analysis import Entity, analyze, canon, extract_entities, words
from rag.text import fold, normalize

MAX_TURNS = 3  # how far back entities are looked for

# Pronouns that stand for a person (folded, lower case).
_PERSON_PRONOUN = re.compile(
    r"(?<![\w])(ong ay|ba ay|anh ay|chi ay|ong ta|ba ta|nguoi nay|nguoi do|vi nay|vi do|dong chi ay|dong chi do|"
    r"he|she|him|his|her)(?![\w])"
)
# "<noun> đó/này/ấy": a unit, an event or a place named earlier.
_NOUN_ANAPHOR = re.compile(
    r"(?<![\w])(benh vien|trung tam y te|trung tam|tram y te|tram|don vi|so y te|co so|tinh|huyen|xa|hoi nghi|"
    r"buoi lam viec|hoi thi|de an|nghi quyet|dia phuong|nganh) (do|nay|ay|kia|tren)(?![\w])"
)
_PLACE_ANAPHOR = re.compile(r"(?<![\w])(o do|tai do|noi do|o day|tai day|there)(?![\w])")
_ENGLISH_UNIT = re.compile(r"(?<![\w])(that|this|the same) (hospital|center|centre|unit|facility|province|district|station|conference|meeting)(?![\w])")
_CONTINUATION = re.compile(
    r"^(?:con|the con|vay con|con ve|con voi|va|what about|how about|and)(?:\s+(?:voi|ve|doi voi))?\s+(.+?)"
    r"(?:\s+(?:thi sao|the nao|ra sao|thi the nao|nhu the nao))?\s*[?.!]*$"
)
_SHORT_QUESTION_WORDS = 6

_LEX = load_lexicon()
_ITEMS = alternation(_LEX.cues["followup_items"])
# "mỗi xã đó", "các đơn vị này", "từng nơi": every item the previous answer listed
_PLURAL_ANAPHOR = re.compile(
    rf"(?<![\w])({alternation(_LEX.cues['followup_plural'])})\s+({_ITEMS})(?:\s+({alternation(_LEX.cues['followup_demonstratives'])}))?(?![\w])"
)
# "người thứ hai", "đơn vị cuối cùng": one item of that list
_ORDINAL_ANAPHOR = re.compile(rf"(?<![\w])({_ITEMS})\s+({alternation(_LEX.cues['followup_ordinals'])})(?![\w])")
_ORDINALS = tuple(_LEX.cues["followup_ordinals"])
_LIST_HEADS = re.compile(r"(?i)^(?:các|những|cac|nhung)\s+")
_LEAD_IN = re.compile(r"(?i)^.*(?<![\wÀ-ỹ])(?:ở|tại|là|gồm|bao gồm|o|tai|la|gom|bao gom)\s+(?=\S)")
_FACILITY_HEADS = ("benh vien", "trung tam y te", "trung tam", "tram y te", "tram", "so y te")


@dataclass
class _Context:
    person: str | None = None
    facility: str | None = None  # with its head noun ("Trung tâm Y tế huyện Tiên Du")
    place: str | None = None  # province / district named alone
    year: str | None = None
    period: str | None = None  # "9 tháng đầu năm"
    question: str | None = None  # the last user question
    qwords: str | None = None  # how that question asked ("bao nhiêu", "là ai")


def needs_rewrite(question: str) -> bool:
    """Whether the question leans on the conversation."""
    f = _fold(question)
    if _plural_reference(f) or _ORDINAL_ANAPHOR.search(f):
        return True
    if _PERSON_PRONOUN.search(f) or _NOUN_ANAPHOR.search(f) or _PLACE_ANAPHOR.search(f) or _ENGLISH_UNIT.search(f):
        return True
    if _CONTINUATION.match(f):
        return True
    ents = [e for e in extract_entities(question) if e.kind in ("facility", "place", "person", "name")]
    return not ents and len(words(question)) <= _SHORT_QUESTION_WORDS


def rewrite(question: str, history: Sequence[Sequence[str]]) -> str | None:
    """A standalone version of ``question``, or None when it needs none (or history has nothing)."""
    question = normalize(question)
    if not history or not question or not needs_rewrite(question):
        return None
    ctx = _context(history)
    if not any((ctx.person, ctx.facility, ctx.place, ctx.year, ctx.question)):
        return None
    text = question
    f = _fold(text)

    # "mỗi bệnh viện đó …" → "A và B và C …" (a compound question, one part per item);
    # "người thứ hai …" → that item
    items = _listed_items(history[-1][1] if history[-1] else "")
    listed = _resolve_list(text, items)
    if listed is not None:
        return listed

    # "Còn X thì sao?" → X asked the way the previous question asked
    substituted = False
    m = _CONTINUATION.match(f)
    if m and ctx.question:
        x = _slice_folded(text, f, m.start(1), m.end(1))
        # "x " shields the fragment's first word, which is capitalised because it is a name
        shielded = "x " + x
        x_entities = [e for e in extract_entities(shielded) if e.kind in ("facility", "place", "person", "name", "year")]
        inside = lambda s, e: any(min(ent.head_start, ent.start) <= s and e <= ent.end for ent in x_entities)  # noqa: E731
        rest = [t for t, s_, e_ in words(shielded)[1:] if not inside(s_, e_)]
        if x_entities and len(rest) <= 2:
            text = _substitute_entities(ctx.question, x_entities, shielded)
            substituted = True
        else:
            text = x.rstrip(" ?") + _how_to_ask(x, ctx) + "?"
        f = _fold(text)

    # person pronouns → the last person named
    if ctx.person:
        text = _replace_folded(text, _PERSON_PRONOUN, lambda _m: ctx.person or "")
    # "bệnh viện đó" → the unit; "hội nghị đó" → the event as the last question described it
    text = _replace_folded(text, _NOUN_ANAPHOR, lambda m: _resolve_noun(m.group(1), ctx, text, m))
    text = _replace_folded(text, _ENGLISH_UNIT, lambda m: ctx.facility or m.group(0))
    if ctx.facility:
        text = _replace_folded(text, _PLACE_ANAPHOR, lambda _m: f"tại {ctx.facility}")

    # a bare "bệnh viện" / "trạm" with no name gets the name from the conversation
    text = _name_bare_head(text, ctx)

    # context the rewritten question still lacks
    extra: list[str] = []
    have = extract_entities(text)
    kinds = {e.kind for e in have}
    folded_text = _fold(text)
    if substituted:
        kinds |= {"facility", "name", "place", "year"}  # "Còn Tiên Du thì sao?" replaced the unit
    if ctx.facility and not kinds & {"facility", "name"} and _fold(ctx.facility) not in folded_text:
        if not (ctx.place and "place" in kinds):
            extra.append(ctx.facility)
    if ctx.place and not kinds & {"place", "facility", "name"} and _fold(ctx.place) not in folded_text:
        extra.append(ctx.place)
    if ctx.period and "thang" not in folded_text and "quy" not in folded_text:
        extra.append(ctx.period)
    if ctx.year and "year" not in kinds:
        extra.append(f"năm {ctx.year}")
    if extra:
        text = f"{text.rstrip(' ?.')} ({', '.join(extra)})?"
    text = " ".join(text.split())
    return text if _fold(text) != _fold(question) else None


# ---------------------------------------------------------------------------------------------


def _plural_reference(folded: str) -> re.Match[str] | None:
    """A plural reference to listed items: with a demonstrative ("mỗi xã đó"), or "mỗi/từng nơi"."""
    for m in _PLURAL_ANAPHOR.finditer(folded):
        if m.group(3) or m.group(1) in ("moi", "tung", "each"):
            return m
    return None


def _listed_items(answer: str) -> list[str]:
    """The items an answer listed, in order: its bullet lines' bold names (or their text before
    " — "), else the names of its first sentence's enumeration ("A, B và C", "Có 2 người: A và B")."""
    text = re.sub(r"\[\d+\]", " ", answer or "")
    bullets = [line.strip()[2:] for line in text.splitlines() if line.strip().startswith(("- ", "* "))]
    if len(bullets) >= 2:
        out = []
        for b in bullets:
            bold = re.match(r"\*\*(.+?)\*\*", b)
            out.append(bold.group(1) if bold else re.split(r" — |: ", b)[0])
        return [" ".join(x.split()) for x in out if x.strip() and "“" not in x]
    first = re.split(r"(?<=[.!?])\s", text.replace("**", "").strip())[0]
    first = first.split(":", 1)[1] if ":" in first else first
    parts = [p.strip(" .;") for p in re.split(r",\s+|\s+(?:và|va|and)\s+", first)]
    parts = [re.split(r"\s+[–-]\s+|\s*\(", p)[0].strip() for p in parts]  # "A – Trưởng khoa …", "A (76 ca)"
    if parts:  # "Dịch tập trung ở các xã A": the enumeration starts after its lead-in
        parts[0] = _LEAD_IN.sub("", parts[0])
    parts = [_LIST_HEADS.sub("", p) for p in parts if p]
    named = [p for p in parts if p[:1].isupper() or extract_entities(p)]
    return named if len(named) >= 2 and len(named) == len(parts) else []


def _resolve_list(text: str, items: list[str]) -> str | None:
    """``text`` with its reference to the listed ``items`` replaced (None: no such reference)."""
    if len(items) < 2:
        return None
    f = _fold(text)
    m = _ORDINAL_ANAPHOR.search(f)
    if m:
        k = _ORDINALS.index(m.group(2))
        if k == len(_ORDINALS) - 1:
            k = len(items) - 1
        if k >= len(items):
            return None
        return " ".join((text[: m.start()] + items[k] + text[m.end() :]).split())
    m = _plural_reference(f)
    if not m:
        return None
    head = text[m.start(2) : m.end(2)]
    named = [it if _fold(it).startswith(m.group(2)) or m.group(2) in ("noi", "nguoi", "vi", "don vi", "dia phuong") or extract_entities(it) and it[:1].isupper() and _fold(it).split()[0] in _HEAD_WORDS else f"{head} {it}" for it in items]
    return " ".join((text[: m.start()] + " và ".join(named[:4]) + text[m.end() :]).split())


_HEAD_WORDS = frozenset("benh trung tram so xa huyen tinh thanh phuong thi".split())


def _how_to_ask(x: str, ctx: _Context) -> str:
    """The question words to add to a "còn X" fragment: its own kind when X implies one ("số ca
    phẫu thuật" asks "là bao nhiêu"), else the previous question's ("là ai", "vào ngày nào")."""
    qt = analyze(x)
    if qt.kind == "quantity":
        return "" if any(q in ("bao nhieu", "may") for q in qt.qwords) else " là bao nhiêu"
    if qt.kind != "other":
        return ""
    if ctx.qwords and _fold(ctx.qwords) not in _fold(x):
        return f" {ctx.qwords}"
    return ""


def _fold(text: str) -> str:
    return fold(text).lower()


def _slice_folded(original: str, folded: str, start: int, end: int) -> str:
    """``fold`` keeps lengths, so folded offsets are offsets in the original."""
    return original[start:end]


def _replace_folded(text: str, pattern: re.Pattern[str], repl) -> str:
    """Replace matches found on the folded text in the original text (same offsets)."""
    out, last = [], 0
    for m in pattern.finditer(_fold(text)):
        out.append(text[last : m.start()])
        out.append(repl(m))
        last = m.end()
    out.append(text[last:])
    return "".join(out)


def _resolve_noun(noun: str, ctx: _Context, text: str, m: re.Match[str]) -> str:
    original = text[m.start() : m.end()]
    if noun in _FACILITY_HEADS or noun in ("don vi", "co so"):
        return ctx.facility or original
    if noun in ("tinh", "huyen", "xa", "dia phuong"):
        return ctx.place or ctx.facility or original
    # an event or document: take its description from the last question
    if ctx.question:
        q = ctx.question
        qf = _fold(q)
        i = qf.find(noun)
        if i >= 0:
            phrase = q[i:]
            phrase = re.split(r"[?,;.]| (?:là|la|là ai|vào|diễn ra|được|duoc|do|bao nhiêu|bao nhieu|nào|nao|ai) ", phrase)[0]
            if len(phrase.split()) > len(noun.split()):
                return phrase.strip()
    return original.split()[0] if original else original


def _name_bare_head(text: str, ctx: _Context) -> str:
    """"bệnh viện đã tiên phong…" (no name after the head) → "bệnh viện Chấn thương Chỉnh hình …"."""
    if not ctx.facility:
        return text
    fac_fold = _fold(ctx.facility)
    if fac_fold in _fold(text):
        return text
    for head in ("benh vien", "trung tam", "tram"):
        if not fac_fold.startswith(head) and f" {head} " not in f" {fac_fold} ":
            continue
        f = _fold(text)
        m = re.search(rf"(?<![\w]){head}(?![\w])", f)
        if not m:
            continue
        after = text[m.end() :].lstrip()
        if after[:1].isupper():
            return text  # already named
        # the facility phrase without its head words
        name = ctx.facility
        hm = re.search(rf"(?i){head}(?:\s+y\s+tế|\s+y\s+te)?(?:\s+(?:huyện|huyen|khu vực|khu vuc|tỉnh|tinh))?\s+", fold(name).lower())
        if hm:
            name = name[hm.end() :]
        return f"{text[: m.end()]} {name}{text[m.end():]}"
    return text


def _substitute_entities(question: str, new: list[Entity], source: str) -> str:
    """The previous question with its entities of the same kinds replaced by ``new`` ones
    (a unit with its head noun: "Bệnh viện Bãi Cháy" → "Trung tâm Y tế huyện Tiên Du")."""
    old = extract_entities(question)
    text = question
    for ent in new:
        replacement = source[max(0, min(ent.head_start, ent.start)) : ent.end] if ent.head_start >= 0 else ent.text
        same = [o for o in old if _same_kind(o.kind, ent.kind)]
        if same:
            o = same[0]
            start = o.head_start if 0 <= o.head_start < o.start else o.start
            text = text[:start] + replacement + text[o.end :]
            old = extract_entities(text)
        else:
            text = f"{text.rstrip(' ?')} {replacement}?"
    return text


def _same_kind(a: str, b: str) -> bool:
    group = {"facility": "unit", "name": "unit", "place": "unit", "person": "person", "year": "year"}
    return group.get(a, a) == group.get(b, b)


def _context(history: Sequence[Sequence[str]]) -> _Context:
    ctx = _Context()
    for user, assistant in reversed([tuple(t) for t in history][-MAX_TURNS:]):
        if ctx.question is None:
            ctx.question = normalize(user)
            qt = analyze(ctx.question)
            ctx.qwords = _qword_phrase(ctx.question, qt.qwords)
            asked_person = qt.kind == "person"
            asked_place = qt.kind == "place"
        else:
            asked_person = asked_place = False
        answer = re.sub(r"\[\d+\]", " ", assistant or "")
        bold = re.findall(r"\*\*(.+?)\*\*", answer)
        q_ents = extract_entities(user)
        a_ents = extract_entities(answer.replace("**", ""))
        if ctx.person is None:
            candidates = []
            if asked_person:
                candidates += [b for b in bold if extract_entities(b)] + [e.text for e in a_ents if e.kind == "person"]
            candidates += [e.text for e in q_ents if e.kind == "person"] + [e.text for e in a_ents if e.kind == "person"]
            ctx.person = candidates[0] if candidates else None
        if ctx.facility is None:
            candidates = []
            if asked_place:
                candidates += [_facility_phrase(answer, e) for e in a_ents if e.kind in ("facility", "name")]
            candidates += [_facility_phrase(user, e) for e in q_ents if e.kind in ("facility", "name")]
            candidates += [_facility_phrase(answer, e) for e in a_ents if e.kind in ("facility", "name")]
            ctx.facility = next((c for c in candidates if c), None)
        if ctx.place is None:
            places = [e.text for e in q_ents + a_ents if e.kind == "place"]
            ctx.place = places[0] if places else None
        if ctx.year is None:
            years = [e.text for e in q_ents if e.kind == "year"]
            ctx.year = years[0] if years else None
        if ctx.period is None:
            m = re.search(r"(?i)\b(\d{1,2}\s+(?:tháng|thang)(?:\s+(?:đầu|dau|cuối|cuoi)\s+(?:năm|nam))?)", user)
            ctx.period = m.group(1) if m else None
    return ctx


def _facility_phrase(text: str, ent: Entity) -> str:
    """The entity with the head noun typed before it ("Trung tâm Y tế huyện Tiên Du")."""
    clean = text.replace("**", "")
    if 0 <= ent.head_start < ent.start and clean[ent.head_start : ent.end] .strip():
        return clean[ent.head_start : ent.end]
    idx = clean.find(ent.text)
    if idx < 0:
        return ent.text
    m = re.search(
        r"(?i)(bệnh viện|trung tâm y tế|trung tâm|trạm y tế|sở y tế|ttyt|benh vien|trung tam y te|tram y te|so y te)"
        r"(?:\s+(?:huyện|huyen|khu vực|khu vuc|tỉnh|tinh))?\s*$",
        clean[:idx].rstrip() + " ",
    )
    return (clean[m.start() : idx] + ent.text).strip() if m else ent.text


def _qword_phrase(question: str, qwords: Sequence[str]) -> str | None:
    """How the question asked, as typed ("bao nhiêu", "là ai", "vào ngày nào")."""
    toks = words(question)
    folded = [canon(t) for t, _, _ in toks]
    for phrase in qwords:
        p = phrase.split()
        for i in range(len(folded) - len(p) + 1):
            if folded[i : i + len(p)] == p:
                start = i - 1 if i > 0 and folded[i - 1] in ("la", "vao") else i
                return question[toks[start][1] : toks[i + len(p) - 1][2]]
    return None
