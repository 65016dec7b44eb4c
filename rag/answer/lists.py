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

from rag.answer.extractive import Scored, Span, find_spans, question_role
from rag.lang import alternation, load_lexicon
from rag.query.analysis import ABBREVIATIONS, canon_tokens

Target = Literal["person", "place"]

_LEX = load_lexicon()
_PLURAL = re.compile(rf"(?<![\w])({alternation(_LEX.cues['list_plural'])})(?![\w])")
_UNIT_NOUN = re.compile(rf"(?<![\w])({alternation(_LEX.cues['list_units'])})(?![\w])")
_PERSON_ASKED = re.compile(rf"(?<![\w])({alternation(_LEX.cues['list_persons'])})(?![\w])")
_WHICH = re.compile(rf"(?<![\w])({alternation(_LEX.cues['list_which'])})(?![\w])")

MAX_ITEMS = 8
RELATIVE_SCORE = 0.5  # a sentence joins the list when its P is at least this share of the best one's


def list_target(question: str) -> Target | None:
    """"person" for "các Phó Giám đốc … là ai", "place" for "ở những huyện nào"; None otherwise
    (one item asked, or a list of things - techniques, tasks - that one sentence lists)."""
    folded = " ".join(canon_tokens(question))
    m = _PLURAL.search(folded)
    if not m:
        return None
    after = folded[m.end() :]
    if _PERSON_ASKED.search(after):
        return "person"
    w = _WHICH.search(after)
    if w and _UNIT_NOUN.search(after[: w.start()]):
        return "place"
    return None


@dataclass(frozen=True)
class Item:
    """One named item and the scored sentence that names it."""

    name: str
    span: Span
    scored: Scored


def collect(question: str, target: Target, scored: list[Scored]) -> list[Item]:
    """The distinct items of ``target`` kind named by the relevant sentences, best sentence first."""
    open_units = [s for s in scored if s.rejected is None]
    if not open_units:
        return []
    floor = open_units[0].score * RELATIVE_SCORE
    role = question_role(question) if target == "person" else None
    asked = set(canon_tokens(question))
    items: list[Item] = []
    seen: set[str] = set()
    for s in open_units:
        if s.score < floor:
            break
        u = s.unit
        for span in find_spans(target, u.passage.text, u.sent_start, u.sent_end):
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
    return " ".join(w for t in canon_tokens(name) for w in ABBREVIATIONS.get(t, (t,)))


__all__ = ["Item", "MAX_ITEMS", "Target", "collect", "list_target"]
