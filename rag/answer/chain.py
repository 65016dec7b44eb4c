"""The answer: a validated question in, a cited (or honestly abstaining) answer out.

:class:`AnswerChain` ties the pieces together and is a LangChain ``Runnable``:

* input validation (empty, too long, control characters, malformed history → :class:`QueryError`);
* follow-up rewriting (:func:`rag.followup.rewrite`) and accent restoration (the retriever's);
* the question analysed once into a :class:`rag.query.question.Question` that every stage reads;
* retrieval through any injected ``str -> list[Document]`` callable or Runnable (one that sets
  ``accepts_question`` is given the turn's :class:`Question`, whose restored form it reuses);
* the extractive answerer (:mod:`rag.answer.compose`), always computed: it is the answer when no
  LLM is configured and the fallback when the LLM's answer fails verification, errors or times out;
* optionally an LLM answer, shown only when :func:`rag.answer.verify.verify` accepts it
  (``stream`` yields the extractive answer first, then the LLM's or the reason it was not used).

Public JSON shape (``Answer.to_json_dict``)::

    {"answer", "abstained", "rewritten_query", "restored_query",
     "citations": [{"n", "doc_id", "title", "text", "start", "end", "quote", "quote_start",
                    "quote_end", "score"}],
     "latency_ms", "backend", "fallback_reason", "confidence",
     "parts": [{"question", "answer", "abstained", "citations", "computed", "not_found"}]}

For every citation ``text == doc_text[start:end]``, ``quote`` is a substring of ``text`` and
``doc_text[quote_start:quote_end] == quote``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.runnables import RunnableConfig, RunnableSerializable
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from rag.config import Settings
from rag.errors import QueryError, RagError
from rag.answer.compose import answer_extractive
from rag.answer.extractive import NOT_FOUND, ExtractiveAnswer, QuoteRef
from rag.answer.similarity import scorer_for
from rag.answer.smalltalk import SMALLTALK_BACKEND, smalltalk_reply
from rag.query.followup import rewrite
from rag.query.question import Question, analyse_question
from rag.query.validate import HISTORY_TURNS_USED, validate_history, validate_question
from rag.text import sentence_spans

log = logging.getLogger(__name__)

class Citation(BaseModel):
    """A passage an answer relies on, with the exact quote that supports it."""

    n: int
    doc_id: str
    title: str
    text: str  # the passage: doc_text[start:end]
    start: int
    end: int
    quote: str  # a substring of text
    quote_start: int  # doc_text[quote_start:quote_end] == quote
    quote_end: int
    score: float


class Part(BaseModel):
    """One part of a compound question (or one operand / the result of a computed comparison)."""

    question: str  # the part as searched (standalone: it borrows what it lacks from the others)
    answer: str
    abstained: bool
    citations: list[int] = Field(default_factory=list)  # the ``n`` of the citations it uses
    computed: str | None = None  # "250.000 − 212.480 = 37.520": computed from the cited operands
    not_found: bool = False  # the reports do not answer this part (shown as "không tìm thấy")


class Answer(BaseModel):
    """An answer with ``[n]`` markers into ``citations`` (or an abstention with ``related``)."""

    answer: str
    abstained: bool
    rewritten_query: str | None = None
    restored_query: str | None = None  # an accent-less question with its accents restored (what dense search embedded)
    citations: list[Citation] = Field(default_factory=list)
    related: list[Citation] = Field(default_factory=list)  # "có thể liên quan": shown, never claimed
    parts: list[Part] = Field(default_factory=list)  # the parts of a compound question, in the order asked; [] for one
    backend: str = "extractive"  # who wrote ``answer``: "extractive" or "llm"
    fallback_reason: str | None = None  # why an LLM was configured but its answer is not shown
    provisional: bool = False  # a first answer that a verified LLM answer may replace (stream)
    confidence: float = 0.0  # P(the answer is right) from the calibrated scorer (abstention: the best P seen)
    latency_ms: float = 0.0
    # where the time went (not in the JSON contract): "retrieve" (all searches), "searches" (how many)
    timings_ms: dict[str, float] = Field(default_factory=dict)

    def to_json_dict(self) -> dict[str, Any]:
        """The stable public shape (CLI ``--json`` and the HTTP API)."""
        return {
            "answer": self.answer,
            "abstained": self.abstained,
            "rewritten_query": self.rewritten_query,
            "restored_query": self.restored_query,
            "citations": [c.model_dump() for c in self.citations],
            "latency_ms": round(self.latency_ms, 1),
            "backend": self.backend,
            "fallback_reason": self.fallback_reason,
            "confidence": round(self.confidence, 4),
            "parts": [p.model_dump() for p in self.parts],
        }


# ---------------------------------------------------------------------------------------------
# The chain
# ---------------------------------------------------------------------------------------------


class AnswerChain(RunnableSerializable[Any, Answer]):
    """Question (+ history) → :class:`Answer`. A LangChain Runnable.

    ``chain.invoke({"question": ..., "history": [[q, a], ...]})`` (or just a string) returns the
    Answer; ``chain.stream(...)`` yields text deltas and then the final Answer. ``retriever`` is
    anything with ``.invoke(str)`` or a plain callable returning ranked Documents.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Any
    settings: Settings = Field(default_factory=Settings)
    llm: Any = None
    doc_text: Any = None  # optional doc_id -> full normalised text (document lead as context)
    llm_error: str | None = None  # why a configured LLM backend is unavailable
    _doc_cache: dict[str, str | None] = PrivateAttr(default_factory=dict)

    def __init__(self, retriever: Any = None, settings: Settings | None = None, llm: Any = None, **kwargs: Any) -> None:
        if retriever is None and "retriever" in kwargs:
            retriever = kwargs.pop("retriever")
        super().__init__(retriever=retriever, settings=settings or Settings(), llm=llm, **kwargs)

    # -- Runnable interface ------------------------------------------------------------------

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Answer:
        question, history = _unpack(input, kwargs.get("history"))
        return self._call_with_config(lambda inp: self.answer(*inp), (question, history), config, run_type="chain")

    def stream(  # type: ignore[override]
        self, input: Any, history: Any = None, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[str | Answer]:
        """Text deltas of the first answer, then :class:`Answer` objects, the last one final.

        ``chain.stream(question, history)`` or ``chain.stream({"question": …, "history": …})``;
        a dict in second place is taken as a RunnableConfig (``Runnable.stream(input, config)``).
        Without an LLM: the deltas, then the Answer. With one, the extractive answer comes at once
        (deltas, then an Answer with ``provisional=True``) and the LLM's answer after it: a final
        Answer that replaces it (``backend="llm"``) or keeps it (``backend="extractive"`` and
        ``fallback_reason``). Joining the deltas gives the first Answer's text; nothing an LLM
        wrote is streamed before it is verified.
        """
        if isinstance(history, dict):
            config, history = history, None
        question, hist = _unpack(input, history)
        # retrieval and the extractive answer run once: the LLM stage reuses them
        staged = self._call_with_config(lambda inp: self._extractive_stage(*inp), (question, hist), config, run_type="chain")
        if isinstance(staged, Answer):  # small talk: nothing to ask an LLM
            yield from _deltas(staged.answer)
            yield staged
            return
        if self.llm is None:  # extractive only (or the LLM unavailable: the final Answer says why)
            final = self._llm_stage(staged)
            yield from _deltas(final.answer)
            yield final
            return
        yield from _deltas(staged.result.answer)
        yield staged.result.model_copy(update={"provisional": True})
        yield self._llm_stage(staged)

    def without_llm(self) -> AnswerChain:
        """This chain answering extractively only (the LLM not asked; no fallback_reason)."""
        return AnswerChain(self.retriever, self.settings, None, doc_text=self.doc_text)

    # -- the work ----------------------------------------------------------------------------

    def answer(self, question: Any, history: Any = ()) -> Answer:
        """Answer ``question`` given earlier ``[user, assistant]`` turns."""
        staged = self._extractive_stage(question, history)
        return staged if isinstance(staged, Answer) else self._llm_stage(staged)

    def _extractive_stage(self, question: Any, history: Any) -> Answer | _Staged:
        """Validation, retrieval and the extractive answer; a small-talk reply is final at once."""
        t0 = time.perf_counter()
        question = validate_question(question, self.settings.max_question_chars)
        turns = validate_history(history)[-HISTORY_TURNS_USED:]
        reply = smalltalk_reply(question)  # a greeting or "what can you do?" gets help, not "không tìm thấy"
        if reply is not None:
            return Answer(answer=reply, abstained=False, backend=SMALLTALK_BACKEND, latency_ms=(time.perf_counter() - t0) * 1000.0)
        rewritten = rewrite(question, turns) if turns else None
        if rewritten and len(rewritten) > self.settings.max_question_chars:
            rewritten = None  # the retriever would refuse it; search with the question as asked
        restore = getattr(self.retriever, "restore_query", None)  # HybridRetriever's; None for a plain callable
        restored = restore(rewritten or question) if callable(restore) else None
        asked = analyse_question(question, rewritten, restored)  # analysed once: every stage reads it
        staged = _Staged(asked, turns=turns, t0=t0, retrieve_fn=self._retrieve)
        extractive = answer_extractive(asked, retrieve=staged.retrieve, lookup=self._lookup(), scorer=scorer_for(self.retriever))
        result = self._from_extractive(extractive)
        result.rewritten_query = rewritten
        result.restored_query = asked.restored
        staged.extractive, staged.result = extractive, result
        staged.stamp(result)
        return staged

    def _llm_stage(self, staged: _Staged) -> Answer:
        """The final answer: the LLM's when verified, else the extractive one with the reason."""
        result = staged.result.model_copy()  # the provisional answer already handed out stays as it was
        if self.llm_error:
            result.fallback_reason = f"LLM backend unavailable: {self.llm_error}"
        elif self.llm is not None:
            result = self._llm_answer(staged.query, staged.retrieve(staged.query), staged.turns, staged.extractive, result)
            result.rewritten_query = staged.result.rewritten_query
            result.restored_query = staged.result.restored_query
        staged.stamp(result)
        return result

    def _retrieve(self, query: str | Question) -> Sequence[Document]:
        r = self.retriever
        if isinstance(query, Question) and not getattr(r, "accepts_question", False):
            query = query.text  # the LangChain contract: invoke(str)
        if hasattr(r, "invoke"):
            return r.invoke(query)
        if callable(r):
            return r(query)
        raise RagError("the retriever must be a Runnable or a callable returning Documents")

    def _lookup(self) -> Callable[[str], str | None] | None:
        if self.doc_text is not None:
            return self.doc_text
        store = getattr(self.retriever, "store", None)
        if store is None or not hasattr(store, "document"):
            return None
        cache = self._doc_cache

        def lookup(doc_id: str) -> str | None:
            if doc_id not in cache:
                if len(cache) >= 256:
                    cache.clear()
                record = store.document(doc_id)
                cache[doc_id] = record.text if record is not None else None
            return cache[doc_id]

        return lookup

    def _from_extractive(self, ext: ExtractiveAnswer) -> Answer:
        return Answer(
            answer=ext.text,
            abstained=ext.abstained,
            citations=[_citation(i + 1, ref) for i, ref in enumerate(ext.citations)],
            related=[_citation(i + 1, ref) for i, ref in enumerate(ext.related)],
            backend="extractive",
            confidence=round(ext.confidence, 4),
            parts=[
                Part(question=p.question, answer=p.text, abstained=p.abstained, citations=p.citations, computed=p.computed, not_found=p.not_found)
                for p in getattr(ext, "parts", [])
            ],
        )

    def _llm_answer(
        self,
        query: str,
        passages: list[Document],
        turns: list[tuple[str, str]],
        extractive: ExtractiveAnswer,
        fallback: Answer,
    ) -> Answer:
        from rag.answer.llm import LLMCallError, build_messages, call_chat_model, is_not_found, parse_answer
        from rag.answer.verify import verify

        if not passages:
            fallback.fallback_reason = "no passages retrieved; LLM not called"
            return fallback
        try:
            raw = call_chat_model(self.llm, build_messages(query, passages, turns), self.settings.llm_timeout)
        except LLMCallError as exc:
            fallback.fallback_reason = str(exc)
            return fallback
        text = parse_answer(raw)
        if is_not_found(text):
            if extractive.abstained:
                fallback.backend = "llm"
                return fallback
            fallback.fallback_reason = "LLM found no answer; the extractive answer is shown"
            return fallback
        verdict = verify(text, passages)
        if not verdict.ok:
            fallback.fallback_reason = "LLM answer rejected: " + "; ".join(verdict.problems[:3])
            return fallback
        answer_text, citations = _renumber(verdict.text, passages)
        if not citations:
            fallback.fallback_reason = "LLM answer rejected: no citation"
            return fallback
        return Answer(answer=answer_text, abstained=False, citations=citations, backend="llm")


class _Staged:
    """The extractive stage's work, kept for the LLM stage: the question, its searches (cached) and the answer."""

    def __init__(
        self, question: Question, turns: list[tuple[str, str]], t0: float, retrieve_fn: Callable[[str | Question], Sequence[Document]]
    ) -> None:
        self.question, self.turns, self.t0 = question, turns, t0
        self.query = question.text  # what is searched and answered
        self._retrieve_fn = retrieve_fn
        self.cache: dict[str, list[Document]] = {}
        self.searched_s = 0.0
        self.extractive: ExtractiveAnswer
        self.result: Answer

    def retrieve(self, q: str) -> list[Document]:
        if q not in self.cache:
            t = time.perf_counter()
            # the turn's own question goes as its Question: a retriever that takes one reuses its restored form
            self.cache[q] = list(self._retrieve_fn(self.question if q == self.query else q))
            self.searched_s += time.perf_counter() - t
        return self.cache[q]

    def stamp(self, answer: Answer) -> None:
        """Latency since the question arrived, and where the time went."""
        answer.latency_ms = (time.perf_counter() - self.t0) * 1000.0
        answer.timings_ms = {"retrieve": self.searched_s * 1000.0, "searches": float(len(self.cache))}


def _deltas(text: str) -> Iterator[str]:
    """Word-sized pieces of ``text`` (whitespace kept): joined, they give ``text`` back."""
    return (m.group() for m in re.finditer(r"\S+\s*|\s+", text))


def _unpack(input: Any, history: Any) -> tuple[Any, Any]:
    if isinstance(input, dict):
        if "question" not in input:
            raise QueryError('Thiếu trường "question". / The input needs a "question" field.')
        return input["question"], input.get("history", history) or []
    return input, history or []


def _citation(n: int, ref: QuoteRef) -> Citation:
    md = ref.doc.metadata or {}
    start = int(md.get("start", 0) or 0)
    text = ref.doc.page_content
    return Citation(
        n=n,
        doc_id=str(md.get("doc_id", "")),
        title=str(md.get("title", "") or ""),
        text=text,
        start=start,
        end=int(md.get("end", start + len(text)) or start + len(text)),
        quote=text[ref.quote_start : ref.quote_end],
        quote_start=start + ref.quote_start,
        quote_end=start + ref.quote_end,
        score=float(md.get("score", 0.0) or 0.0),
    )


def _renumber(text: str, passages: list[Document]) -> tuple[str, list[Citation]]:
    """Renumber an LLM answer's markers 1..k in order of first use; each citation quotes the
    sentence of its passage that best matches the answer sentences citing it."""
    order: list[int] = []
    for m in re.finditer(r"\[(\d+(?:\s*,\s*\d+)*)\]", text):
        for x in re.split(r"\s*,\s*", m.group(1)):
            n = int(x)
            if n not in order:
                order.append(n)
    mapping = {old: new for new, old in enumerate(order, start=1)}
    renumbered = re.sub(
        r"\[(\d+(?:\s*,\s*\d+)*)\]",
        lambda m: "".join(f"[{mapping[int(x)]}]" for x in re.split(r"\s*,\s*", m.group(1))),
        text,
    )
    citations = []
    for old in order:
        doc = passages[old - 1]
        claims = " ".join(
            s for s in _answer_sentences(text)
            if any(old in {int(x) for x in re.split(r"\s*,\s*", m.group(1))} for m in re.finditer(r"\[(\d+(?:\s*,\s*\d+)*)\]", s))
        )
        qs, qe = _best_sentence(doc.page_content, claims)
        citations.append(_citation(mapping[old], QuoteRef(doc, qs, qe)))
    return renumbered, citations


def _answer_sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def _best_sentence(passage: str, claims: str) -> tuple[int, int]:
    from rag.query.analysis import match_tokens

    wanted = set(match_tokens(claims))
    best, best_hits = (0, len(passage)), -1
    for s, e in sentence_spans(passage):
        hits = sum(1 for t in set(match_tokens(passage[s:e])) if t in wanted)
        if hits > best_hits:
            best, best_hits = (s, e), hits
    return best


def build_answer_chain(settings: Settings, retriever: Any = None) -> AnswerChain:
    """The chain over ``retriever`` (default: the index in ``settings``) and the configured LLM backend, if any.

    A configured but unavailable backend (extra not installed, setting missing) does not stop the
    service: answers are extractive and say why in ``fallback_reason``.
    """
    if retriever is None:
        from rag.backend import load_retriever

        retriever = load_retriever(settings)
    llm = None
    llm_error = None
    if settings.answer_backend != "extractive":
        from rag.answer.llm import build_chat_model

        try:
            llm = build_chat_model(settings)
        except RagError as exc:
            llm_error = str(exc)
            log.warning("LLM backend unavailable, answering extractively: %s", exc)
    return AnswerChain(retriever, settings, llm, llm_error=llm_error)


__all__ = ["Answer", "AnswerChain", "Citation", "NOT_FOUND", "Part", "build_answer_chain"]
