"""English facility names: the head follows the name ("Chau Thanh District Health Center"), where a
Vietnamese report writes it before ("Trung tâm Y tế huyện Châu Thành").

A capitalised run that ends with an English facility head (``glossary.toml`` ``[words]
facility_heads``) is one facility: its trailing glossary words are its head, translated and read in
the Vietnamese order ("District Health Center" → "trung tam y te huyen"; "Obstetrics and Pediatrics
Hospital" → "benh vien san nhi": a coordination keeps its order), and the words before them are its
proper name ("Chau Thanh"). Question analysis turns each into a facility entity carrying that head,
so the entity checks compare it with the reports' heads as they do for a Vietnamese question.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.lang import load_lexicon

_LEX = load_lexicon()
_GLOSSARY: dict[str, str] = _LEX.glossary
_HEADS = _LEX.english_facility_heads
_JOINERS = ("and",)  # "Obstetrics and Pediatrics Hospital": one head of two specialties
# English words that are never part of a name ("What", "Who" open a question capitalised)
_NOT_NAME = _LEX.english_markers | _LEX.english_function_words


@dataclass(frozen=True)
class EnglishFacility:
    """One English facility name, by token positions in the question."""

    start: int  # the proper name's tokens are [start, head_start) (a province inside is the place's)
    head_start: int
    end: int  # one past the head's last token
    head: str  # the head in the Vietnamese order, folded ("trung tam y te huyen")


def _capitalised(tok: str) -> bool:
    return tok[:1].isupper()


def vietnamese_head(head_words: Sequence[str]) -> str:
    """English head words (lower-case, in English order) as the reports write the head: translated
    and reversed, a coordination ("obstetrics and pediatrics") kept in its order."""
    groups: list[list[str]] = []
    joined = False
    for w in head_words:
        if w in _JOINERS:
            joined = True
            continue
        if joined and groups:
            groups[-1].append(w)
        else:
            groups.append([w])
        joined = False
    return " ".join(_GLOSSARY[w] for g in reversed(groups) for w in g if _GLOSSARY.get(w))


def english_facilities(raw: Sequence[str], folded: Sequence[str], joined: Sequence[bool]) -> list[EnglishFacility]:
    """Every capitalised run of ``raw`` ending with an English facility head; ``folded``: the tokens
    folded lower-case, ``joined[k]``: token k follows token k-1 with only spaces between."""
    out: list[EnglishFacility] = []
    for k, tok in enumerate(raw):
        if folded[k] not in _HEADS or not _capitalised(tok):
            continue
        if k + 1 < len(raw) and joined[k + 1] and folded[k + 1] in _HEADS and _capitalised(raw[k + 1]):
            continue  # the run's last head ends it
        # the head: trailing capitalised glossary words, joined by "and"
        h = k
        while h > 0 and joined[h] and (
            (_capitalised(raw[h - 1]) and folded[h - 1] in _GLOSSARY)
            or (folded[h - 1] in _JOINERS and h > 1 and joined[h - 1] and _capitalised(raw[h - 2]) and folded[h - 2] in _GLOSSARY)
        ):
            h -= 1
        # the name: the capitalised words before it
        s = h
        while s > 0 and joined[s] and _capitalised(raw[s - 1]) and folded[s - 1] not in _NOT_NAME and not raw[s - 1][:1].isdigit():
            s -= 1
        out.append(EnglishFacility(s, h, k + 1, vietnamese_head(folded[h : k + 1])))
    return out


__all__ = ["EnglishFacility", "english_facilities", "vietnamese_head"]
