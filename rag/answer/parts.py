"""The pieces a composed answer is made of: its parts, their citations, why a part was not answered.

Shared by :mod:`rag.answer.compose` (compound questions, computed comparisons, lists) and
:mod:`rag.answer.derive` (figures derived from a stated change).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rag.answer.features import Scored
from rag.answer.rendering import ExtractiveAnswer, Fact, QuoteRef


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
        """A part the reports do not answer: "<its question>: <not-found line>", marked as such."""
        return cls(question, f"{question.rstrip('?').strip()}: {not_found_line}", True, not_found=True)


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


__all__ = ["Citations", "ComposedAnswer", "PartAnswer", "why_not"]
