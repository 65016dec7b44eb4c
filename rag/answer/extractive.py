"""The offline answerer: pick the sentence that answers, copy the requested span, cite it.

Nothing here generates text: every number, name and date in an answer is a verbatim slice of a
retrieved passage, and each quote points at the passage (and document offsets) it came from.

Pipeline for one question (a two-fact question is split by :func:`rag.answer.compose.sub_questions`,
each half retrieved and answered on its own, so the two facts may come from two documents):

1. candidate *units*: the clauses (``;``-separated parts of sentences, via
   :func:`rag.text.sentence_spans`) of the top passages, or whole sentences for list / other
   questions; each knows its sentence, the previous sentence of its paragraph, its document title
   and its document's lead. Instruction-like sentences ("bỏ qua hướng dẫn…") are never candidates.
2. topic coverage: idf-weighted share of the question's topic words (folded, so accent-less
   questions match) found in the unit; paraphrases ("nằm viện" ≈ "nội trú") and two-syllable words
   the reports also write together ("chuyển tuyến" is not "trực tuyến") count as one group. Entity
   words are not topic (they are checked below), nor is the unit a number must carry.
3. features of each unit (:data:`rag.answer.scoring.FEATURES`): coverage, retrieval ranks, whether
   every entity of the question (place, facility, person, year, number) is named by the sentence,
   its paragraph's previous sentence, the title or the lead, a wider scope ("toàn tỉnh"), a
   part-year figure for a full-year question, and for a typed question (how many / who / when /
   where) the best span of that type with the right unit ("bao nhiêu giường" is not answered by
   "100,4%" nor by "55 giường bệnh/1 vạn dân"), the right role ("Giám đốc Bệnh viện" is not
   "Giám đốc Sở Y tế") and something the question did not already say. A calibrated model
   (:mod:`rag.answer.scoring`, fitted by ``python -m eval.fit_scorer``) turns them into P(the unit
   answers); the answerer abstains when the best P is under the fitted threshold. Only named
   conflicts veto a unit outright: a sentence stating other years, or about another named unit.
4. the best unit's span is bolded and its sentence (or the clauses around the span, for long
   sentences) quoted and cited.

This module is the orchestrator; the stages live in :mod:`rag.answer.candidates` (1),
:mod:`rag.answer.keywords` (2), :mod:`rag.answer.typed_spans`, :mod:`rag.answer.checks` and
:mod:`rag.answer.features` (3), and :mod:`rag.answer.rendering` (4).
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.documents import Document

from rag.answer.candidates import MAX_PASSAGES, Lookup, make_passages, make_units
from rag.answer.features import Scored, add_similarity, score_units, unit_context
from rag.answer.rendering import (
    LEAD_DOUBT,
    QUOTE_MAX_CHARS,
    RELATED_MAX,
    ExtractiveAnswer,
    Fact,
    QuoteRef,
    fact_from,
    render_fact,
    sure_lead,
)
from rag.answer.scoring import Scorer, default_scorer
from rag.answer.typed_spans import Span, date_spans, find_spans, person_spans, place_spans, quantity_spans, question_role
from rag.query.analysis import QuestionType
from rag.query.question import Question, as_question

NOT_FOUND = "Không tìm thấy thông tin này trong các báo cáo hiện có."


def best_fact(
    question: str | Question,
    docs: Sequence[Document],
    lookup: Lookup | None = None,
    qt: QuestionType | None = None,
    scorer: Scorer | None = None,
) -> tuple[Fact | None, list[Scored]]:
    """The best answering fact for one (sub-)question, or None with the ranked candidates.

    ``question``: its analysed :class:`Question` (a string is analysed here); ``qt`` overrides its type.
    None when no unit reaches the scorer's threshold (or every unit names a conflict)."""
    asked = as_question(question)
    qt = qt or asked.type
    passages = make_passages(docs, lookup)
    units = make_units(passages, by_sentence=qt.kind in ("list", "other", "yesno"))
    if not units:
        return None, []
    scorer = scorer or default_scorer()
    scored = score_units(qt, asked.text, units, scorer)
    open_units = [s for s in scored if s.rejected is None]
    if not open_units:
        return None, scored
    best = open_units[0]
    confidence = scorer.confidence(best.features, best.score, open_units[1].score if len(open_units) > 1 else 0.0)
    best.confidence = confidence
    if confidence < scorer.threshold:
        return None, scored
    fact = fact_from(best, qt)
    fact.confidence = confidence
    fact.lead = sure_lead(best, qt, asked.text)
    return fact, scored


# the answerer's public names, imported from here by its callers (compose, lists, chain, tests)
__all__ = [
    "ExtractiveAnswer",
    "Fact",
    "LEAD_DOUBT",
    "Lookup",
    "MAX_PASSAGES",
    "NOT_FOUND",
    "QUOTE_MAX_CHARS",
    "QuoteRef",
    "RELATED_MAX",
    "Scored",
    "Span",
    "add_similarity",
    "best_fact",
    "date_spans",
    "find_spans",
    "person_spans",
    "place_spans",
    "quantity_spans",
    "question_role",
    "render_fact",
    "unit_context",
]
