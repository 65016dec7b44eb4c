"""Lists across reports: "những … nào", "các … là ai", "ở những đơn vị nào".

One sentence rarely names every item a plural question asks for: the people holding a role are
named in several reports, the units that did something in several passages. :func:`list_target`
reads whether a question asks for a plural list of people or of units; :func:`collect` gathers
the named items of that kind from every candidate sentence the scorer found relevant (several
passages, several documents), deduplicated - a person by name (titles and degrees aside), a unit
by its name with the abbreviations written out - each with the sentence that names it.

Pure functions over the answerer's scored units; :mod:`rag.answer.compose` renders and cites them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from rag.answer.features import Scored
from rag.answer.typed_spans import Span, find_spans, question_role
from rag.lang import alternation, load_lexicon
from rag.query.analysis import ABBREVIATIONS, canon, canon_tokens, words
from rag.query.question import Question, as_question
from rag.text import fold, has_diacritics

Target = Literal["person", "place", "thing"]

_LEX = load_lexicon()
_UNIT_NOUN = re.compile(rf"(?<![\w])({alternation(_LEX.cues['list_units'])})(?![\w])")
_PERSON_ASKED = re.compile(rf"(?<![\w])({alternation(_LEX.cues['list_persons'])})(?![\w])")
_WHICH = re.compile(rf"(?<![\w])({alternation(_LEX.cues['list_which'])})(?![\w])")
_ENUMERATION = re.compile(rf"(?<![\w])(?:{alternation(_LEX.cues['list_enumeration'])})(?![\w])\s*:?|:")
_NOT_THINGS = re.compile(rf"(?:{alternation(_LEX.cues['list_not_things'])})(?![\w])")
_CLAUSE_BREAK = re.compile(r"[,;:.!?()]")
_LIST_LINKS = ("gom", "bao", "la")  # "thiết bị (bao) gồm những gì", "… là những gì": no part of the head
_ITEM_SPLIT = re.compile(r"\s*(?:[,;]|(?<![\w])(?:và|hoặc|va|hoac)(?![\w]))\s*")
MAX_HEAD_WORDS = 4  # "những <head noun> nào": more words between them is a clause, not a head noun
MAX_LINKED_HEAD_WORDS = 6  # "các <head noun …> gồm những gì": the link marks where the head ends
MAX_ITEM_WORDS = 12  # an enumerated item longer than this is a clause, not a name
ENUMERATION_REACH = 40  # characters after the head noun in which "như", "gồm", "về" open its enumeration

MAX_ITEMS = 8
RELATIVE_SCORE = 0.5  # a sentence joins the list when its P is at least this share of the best one's


def list_target(asked: str | Question) -> Target | None:
    """"person" for "các Phó Giám đốc … là ai", "place" for "ở những huyện nào", "thing" for
    "những kỹ thuật mới nào"; None otherwise (no plural marker, or one item asked)."""
    question = as_question(asked).text
    markers = _plural_markers(question)
    if not markers:
        return None
    after = " ".join(canon(t) for t, _, _ in words(question)[markers[0] + 1 :])
    if _PERSON_ASKED.search(after):
        return "person"
    head, closer = _plural_head(question)
    if head and _WHICH.fullmatch(closer) and _UNIT_NOUN.search(" ".join(canon(t) for t in head)):
        return "place"
    if head_noun(asked):
        return "thing"
    return None


def head_noun(asked: str | Question) -> str:
    """The folded head noun of a plural list of things: "những kỹ thuật mới nào" → "ky thuat moi",
    "các thiết bị gồm những gì" → "thiet bi"; "" when none is asked."""
    question = as_question(asked)
    head = [canon(t) for t in _plural_head(question.text)[0]]
    if not head or question.type.kind in ("date", "quantity", "person"):
        return ""  # "những thay đổi … vào thời gian nào": "nào" closes another noun, a date is asked
    text = " ".join(head[:3])
    return "" if _NOT_THINGS.match(text) else text


def _plural_markers(question: str) -> list[int]:
    """Token positions of the plural markers "những", "các" (in an accented question as written:
    "nhưng" *but* folds the same)."""
    accented = has_diacritics(question)
    return [
        i
        for i, (t, _, _) in enumerate(words(question))
        if canon(t) in _LEX.cues["list_plural"] and (not accented or t.lower() in _LEX.cues["list_plural_written"])
    ]


def _plural_head(question: str) -> tuple[list[str], str]:
    """The words (as written) of the noun phrase a plural marker opens and "nào"/"gì" closes in
    the same clause, and the closing word (folded): "những kỹ thuật mới nào"; "các thiết bị gồm
    những gì" → "thiết bị" (a linked form: the head may run longer, up to MAX_LINKED_HEAD_WORDS).
    None for "trong các bệnh viện, bệnh viện nào …" (the comma ends the plural: one of them is
    asked) or "các đơn vị đã nhận được giải thưởng nào" (a clause, not a noun phrase)."""
    toks = words(question)
    accented = has_diacritics(question)
    for i in _plural_markers(question):
        for j in range(i + 1, len(toks)):
            if _CLAUSE_BREAK.search(question[toks[j - 1][2] : toks[j][1]]):
                break
            f, raw = canon(toks[j][0]), toks[j][0].lower()
            if f not in _LEX.cues["list_things_which"] or (accented and raw not in _LEX.qword_accented.get(f, {raw})):
                continue
            head = [t for t, _, _ in toks[i + 1 : j]]
            linked = len(head) >= 2 and canon(head[-1]) in _LEX.cues["list_plural"] and canon(head[-2]) in _LIST_LINKS
            if linked:  # "… gồm những gì", "… là những gì", "… bao gồm những gì"
                while head and canon(head[-1]) in (*_LIST_LINKS, *_LEX.cues["list_plural"]):
                    head.pop()
            if head and len(head) <= (MAX_LINKED_HEAD_WORDS if linked else MAX_HEAD_WORDS):
                return head[:3], f
            break
    return [], ""


@dataclass(frozen=True)
class Item:
    """One named item and the scored sentence that names it."""

    name: str
    span: Span
    scored: Scored


# why the answerer ruled a sentence out for naming units other than the asked one: for a list of
# units asked about one ("A hỗ trợ những trung tâm nào"), those other units are the items
_OTHER_UNIT = "the sentence is about another unit"


def collect(analysed: str | Question, target: Target, scored: list[Scored]) -> list[Item]:
    """The distinct items of ``target`` kind named by the relevant sentences, best sentence first
    (for units, also the sentences ruled out only for naming other units: they are the list)."""
    open_units = sorted(
        (s for s in scored if s.rejected is None or target == "place" and s.rejected.endswith(_OTHER_UNIT)), key=lambda s: -s.score
    )
    if not open_units:
        return []
    question = as_question(analysed).text
    # things count only as an enumeration after the asked head noun: specific enough to need no score floor
    floor = 0.0 if target == "thing" else open_units[0].score * RELATIVE_SCORE
    role = question_role(question) if target == "person" else None
    asked = set(canon_tokens(question))
    items: list[Item] = []
    seen: set[str] = set()
    head = head_noun(analysed).split() if target == "thing" else []
    # an accented question's head noun is matched as written ("chi" of "những chi nào" is not "chỉ")
    written = " ".join(_plural_head(question)[0][: len(head)]).lower() if head and has_diacritics(question) else None
    for s in open_units:
        if s.score < floor:
            break
        u = s.unit
        found = _enumerated(u.passage.text, u.sent_start, u.sent_end, head, written) if target == "thing" else find_spans(target, u.passage.text, u.sent_start, u.sent_end)
        for span in found:
            if role is not None and span.roles and not any(_same_role(role, r) for r in span.roles):
                continue
            key = _key(span.text, target)
            if not key or key in seen or set(key.split()) <= asked:
                continue  # already listed, or the unit the question itself names
            seen.add(key)
            items.append(Item(span.text, span, s))
            if len(items) >= MAX_ITEMS:
                return items
    return items


def _enumerated(text: str, start: int, end: int, head: list[str], written: str | None = None) -> list[Span]:
    """The items a sentence enumerates after the head noun (folded; when ``written`` is given, only
    where the sentence writes it so, lower-cased): from the first ":" after it, else the first
    "như", "gồm", "về" a few words after it, else right after it ("… kỹ thuật mới như: phẫu
    thuật robot …, thay van …, phẫu thuật nội soi …" → three items); none when fewer than two."""
    sentence = text[start:end]
    folded = fold(sentence).lower()  # folding keeps offsets
    found = re.finditer(rf"(?<![\w]){re.escape(' '.join(head))}(?![\w])", folded) if head else iter(())
    m = next((m for m in found if written is None or sentence[m.start() : m.end()].lower() == written), None)
    if m is None:
        return []
    pos = m.end()
    colon = folded.find(":", pos)
    cue = _ENUMERATION.search(folded, pos, pos + ENUMERATION_REACH)
    pos = colon + 1 if colon >= 0 else cue.end() if cue else pos
    spans = []
    cursor = pos
    for piece in _ITEM_SPLIT.split(sentence[pos:].rstrip(" .…")):
        item = piece.strip(" :")
        offset = sentence.find(item, cursor) if item else -1
        if offset < 0 or not 1 <= len(item.split()) <= MAX_ITEM_WORDS:
            continue
        cursor = offset + len(item)
        spans.append(Span("thing", start + offset, start + offset + len(item), item))
    return spans if len(spans) >= 2 else []


def _same_role(q: tuple[bool, str, str | None], r: tuple[bool, str, str | None]) -> bool:
    """The role asked (deputy or not, the role, its organisation when both say it)."""
    return q[0] == r[0] and q[1] == r[1] and (not q[2] or not r[2] or q[2] == r[2])


_TITLE = re.compile(rf"^(?:(?:{alternation(_LEX.title_abbreviations)})\.?\s*)+", re.IGNORECASE)


def _key(name: str, target: Target) -> str:
    """What makes two mentions one item: a person's name without titles ("ThS.BS Trần Văn A" =
    "Trần Văn A"), a unit's name with abbreviations written out ("BVĐK" = "Bệnh viện Đa khoa")."""
    if target == "person":
        name = _TITLE.sub("", name.strip())
        return " ".join(canon_tokens(name))
    if target == "thing":
        return " ".join(canon_tokens(name))
    return " ".join(w for t in canon_tokens(name) for w in ABBREVIATIONS.get(t, (t,)))


__all__ = ["Item", "MAX_ITEMS", "MAX_ITEM_WORDS", "Target", "collect", "head_noun", "list_target"]
