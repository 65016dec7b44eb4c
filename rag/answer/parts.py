"""The pieces a composed answer is made of: its parts, their citations, why a part was not answered.

Shared by :mod:`rag.answer.compose` (compound questions, computed comparisons, lists) and
:mod:`rag.answer.derive` (figures derived from a stated change).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.answer.features import Scored
from rag.answer.rendering import ExtractiveAnswer, Fact, QuoteRef
from rag.lang import alternation, load_lexicon
from rag.text import fold

# a figure of the question with its period word ("năm 2023", "quý II/2024", "1.200 ca" keeps "ca")
_ASKED_FIGURE = re.compile(
    rf"(?<![\w])(?:(?:{alternation(load_lexicon().cues['figure_periods'])})\s+)*(?:[ivx]+/)?\d+(?:[.,/]\d+)*%?(?![\w])"
)


@dataclass
class PartAnswer:
    """One part of a compound question: what was searched, its answer line and its citations."""

    question: str
    text: str
    abstained: bool
    citations: list[int] = field(default_factory=list)  # the ``[n]`` of the answer's citations it uses
    computed: str | None = None  # "250.000 − 212.480 = 37.520": a figure computed from cited operands
    not_found: bool = False  # the reports do not answer this part (its line is the not-found line, no reason)

    @classmethod
    def missing(cls, question: str, not_found_line: str) -> PartAnswer:
        """A part the reports do not answer: "<its question>: <not-found line>", marked as such; the
        question is echoed without its figures ("tập trung ở đâu, 2023" → "tập trung ở đâu"), so
        the line states no number that could read as an answer."""
        return cls(question, f"{without_figures(question)}: {not_found_line}", True, not_found=True)


def without_figures(question: str) -> str:
    """``question`` without its numbers and their period words, its punctuation tidied."""
    spans = [(m.start(), m.end()) for m in _ASKED_FIGURE.finditer(fold(question).lower())]  # folding keeps offsets
    text = "".join(" " if any(a <= i < b for a, b in spans) else c for i, c in enumerate(question))
    text = re.sub(r"\s+([,;:?.])", r"\1", " ".join(text.split()))
    text = re.sub(r"([,;])(?:\s*[,;])+", r"\1", text)
    return text.strip(" ,;?.")


@dataclass
class ComposedAnswer(ExtractiveAnswer):
    """An extractive answer with its parts (empty for a one-part question)."""

    parts: list[PartAnswer] = field(default_factory=list)


class Citations:
    """Numbers quotes into citations, each (document, quote) once, in order of first use."""

    def __init__(self) -> None:
        self.refs: list[QuoteRef] = []
        self._keys: dict[tuple[str, int, int], int] = {}

    def cite(self, fact: Fact) -> list[int]:
        p = fact.unit.passage
        numbers = []
        for qs, qe in fact.quotes:
            key = (p.doc_id, p.start + qs, p.start + qe)
            if key not in self._keys:
                self.refs.append(QuoteRef(p.doc, qs, qe))
                self._keys[key] = len(self.refs)
            numbers.append(self._keys[key])
        return numbers


def why_not(scored: list[Scored]) -> tuple[str, float | None]:
    """Why no unit answered, and the best confidence seen (None when nothing was scored)."""
    top = next((x for x in scored if x.rejected is None), scored[0] if scored else None)
    if top is None:
        return "no passages", None
    if top.rejected:
        return top.rejected, None
    return f"confidence {top.confidence or 0.0:.2f} below the threshold ({top.doubt or 'weak match'})", top.confidence or 0.0


__all__ = ["Citations", "ComposedAnswer", "PartAnswer", "why_not", "without_figures"]
