"""One analysed question, shared by retrieval and answering: analysed once, read everywhere.

A turn's question is rewritten (a follow-up borrows from the history), its accents restored (an
accent-less question, as dense search embeds it), then analysed: its type (:func:`analyze`), the
entities the answer must name, its parts (:func:`split_question`), whether it is English and the
years it names. :class:`Question` holds the three texts and computes each of those the first time
it is read, then keeps it, so the answerer's stages stop re-analysing the same string.

A compound question's parts and a computed comparison's operands are questions of their own
(:func:`analyse_question`), each analysed once as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from rag.lang.english import looks_english
from rag.query.analysis import Entity, QuestionType, analyze, split_question
from rag.text import fold


@dataclass(frozen=True)
class Question:
    """A question as typed, its follow-up rewrite and its accent-restored form, with its analysis.

    Frozen and hashable on the three texts; the analysed fields are computed on first use and
    cached on the instance (``functools.cached_property`` writes the instance ``__dict__``, which a
    frozen dataclass allows; the cache takes no part in equality or the hash).
    """

    raw: str  # the question as the user asked it (validated)
    rewritten: str | None = None  # the standalone rewrite of a follow-up, None when asked standalone
    restored: str | None = None  # ``text`` with its accents restored (what dense search embeds); None: not restored

    @property
    def text(self) -> str:
        """What is searched and answered: the rewrite of a follow-up, else the question as asked."""
        return self.rewritten or self.raw

    @cached_property
    def folded(self) -> str:
        """``text`` without diacritics, lower-cased (length-preserving, so offsets carry over)."""
        return fold(self.text).lower()

    @cached_property
    def type(self) -> QuestionType:
        """What it asks (:func:`rag.query.analysis.analyze` of ``text``), its parts counted once."""
        return analyze(self.text, parts=len(self.parts))

    @property
    def entities(self) -> tuple[Entity, ...]:
        """The years, numbers and names the answer must mention (those of ``type``)."""
        return self.type.entities

    @cached_property
    def parts(self) -> tuple[Question, ...]:
        """Its parts in the order asked (:func:`split_question`), each a question of its own;
        ``(self,)`` when it asks one thing."""
        found = split_question(self.text)
        if len(found) < 2:
            return (self,)
        return tuple(Question(part) for part in found)

    @cached_property
    def english(self) -> bool:
        """Whether it is asked in English (the answer then says it quotes Vietnamese reports)."""
        return looks_english(self.text)

    @cached_property
    def period(self) -> frozenset[int]:
        """The years it names ("năm 2024", "quý I/2024", a bare "2023"); relative years ("năm nay")
        need the library's newest document and are left to retrieval."""
        # imported here: rag.retrieval's package imports its retrievers, which accept a Question
        from rag.retrieval.period import asked_years

        return asked_years(self.text)


def analyse_question(text: str, rewritten: str | None = None, restored: str | None = None) -> Question:
    """The :class:`Question` of ``text`` (as asked), its follow-up rewrite and its restored form."""
    return Question(text, rewritten, restored)


def as_question(question: str | Question) -> Question:
    """``question`` itself, or a plain string as a :class:`Question` (analysed when first read)."""
    return question if isinstance(question, Question) else Question(question)


__all__ = ["Question", "analyse_question", "as_question"]
