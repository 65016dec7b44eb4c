"""A question asked in two steps (``wait_for_llm=false``, then ``true`` with the ``answer_id``) is searched once.

:class:`rag.web.pending.PendingAnswers` over the real answer chain (the lexical retriever, counting
its searches, as in tests/answer/test_stream_once.py), then ``/api/ask`` in the real app over the
corpus index with the real assistant, its retriever counting the queries it searches. The LLM is the
scripted OpenAI-compatible server on 127.0.0.1 (the one fake: a remote LLM cannot run here).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from rag.config import Settings
from rag.service import Assistant
from rag.web.pending import PendingAnswers
from tests.answer.test_stream_once import QUESTION, CountingRetriever, chain_for, faithful
from tests.llm_server import ScriptedLLM

OTHER_Q = "Giám đốc Bệnh viện Bãi Cháy là ai?"
REQUEST = (QUESTION, (), None)


@pytest.fixture
def llm():
    with ScriptedLLM() as scripted:
        yield scripted


# -- the cache over the real chain --------------------------------------------------------------


def test_the_final_answer_comes_without_searching_again(llm):
    retriever = CountingRetriever()
    llm.script.append(("answer", faithful(retriever)))
    searched_before = sum(retriever.calls.values())
    pending = PendingAnswers()
    first, answer_id = pending.first(chain_for(retriever, llm).stream(QUESTION), REQUEST)
    assert first.provisional and first.backend == "extractive" and "383.605" in first.answer
    assert answer_id and len(answer_id) >= 20 and llm.chat_requests() == 0  # the LLM not asked yet
    searched = sum(retriever.calls.values()) - searched_before
    assert searched >= 1
    final = pending.final(answer_id, REQUEST)
    assert final.backend == "llm" and final.answer.startswith("Năm 2023, Bệnh viện Bãi Cháy") and not final.provisional
    assert sum(retriever.calls.values()) - searched_before == searched  # no search in the second step
    assert llm.chat_requests() == 1 and len(pending) == 0
    assert pending.final(answer_id, REQUEST) is None  # used once


def test_an_id_answers_only_the_request_it_was_made_for(llm):
    retriever = CountingRetriever()
    pending = PendingAnswers()
    _, answer_id = pending.first(chain_for(retriever, llm).stream(QUESTION), REQUEST)
    for other in [(OTHER_Q, (), None), (QUESTION, (("Câu trước?", "Đáp."),), None)]:
        assert pending.final(answer_id, other) is None
    assert pending.final("x" * len(answer_id), REQUEST) is None
    assert llm.chat_requests() == 0 and len(pending) == 1  # nothing resumed, still there for its own request
    assert pending.final(answer_id, REQUEST) is not None and llm.chat_requests() == 1


def test_streams_expire_and_are_bounded(llm):
    retriever = CountingRetriever()
    chain = chain_for(retriever, llm)
    expired = PendingAnswers(seconds=0.0)
    _, answer_id = expired.first(chain.stream(QUESTION), REQUEST)
    assert expired.final(answer_id, REQUEST) is None and len(expired) == 0
    bounded = PendingAnswers(size=2)
    ids = [bounded.first(chain.stream(QUESTION), REQUEST)[1] for _ in range(3)]
    assert len(bounded) == 2 and bounded.final(ids[0], REQUEST) is None  # the oldest went first
    assert bounded.final(ids[2], REQUEST) is not None
    assert llm.chat_requests() == 1  # the dropped streams never asked the LLM


def test_a_final_first_answer_keeps_nothing(llm):
    pending = PendingAnswers()
    chain = chain_for(CountingRetriever(), llm)
    extractive, no_id = pending.first(chain.without_llm().stream(QUESTION), REQUEST)
    hello, no_id_either = pending.first(chain.stream("xin chào"), ("xin chào", (), None))
    assert extractive.backend == "extractive" and not extractive.provisional and no_id is None
    assert hello.backend == "smalltalk" and no_id_either is None  # small talk: nothing for an LLM to write
    assert len(pending) == 0 and llm.chat_requests() == 0


# -- /api/ask in the app ------------------------------------------------------------------------


class Counting:
    """The real retriever, counting the queries searched through the answer chain."""

    def __init__(self, inner: Any, calls: Counter[str]) -> None:
        self.inner, self.calls = inner, calls

    def invoke(self, query: str, *args: Any, **kwargs: Any) -> Any:
        self.calls[query] += 1
        return self.inner.invoke(query, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:  # store, embeddings, restore_query, restricted…
        return getattr(self.inner, name)


class CountingAssistant(Assistant):
    """The real assistant, whose answer chain searches through :class:`Counting`."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.calls: Counter[str] = Counter()

    @property
    def chain(self):
        chain = super().chain
        return chain.model_copy(update={"retriever": Counting(chain.retriever, self.calls)})


def test_api_second_call_runs_no_retrieval(llm, corpus_settings):
    from fastapi.testclient import TestClient

    from rag.answer.verify import verify
    from rag.web import create_app

    settings = corpus_settings.model_copy(update={"answer_backend": "openai", "llm_base_url": llm.url, "llm_model": "scripted"})
    assistant = CountingAssistant(settings)
    passages = assistant.retriever.invoke(QUESTION)
    k = next(i for i, d in enumerate(passages, start=1) if "383.605" in d.page_content)
    text = f"Năm 2023, Bệnh viện Bãi Cháy đã khám cho trên 383.605 lượt người [{k}]."
    assert verify(text, passages).ok  # a precondition: the verifier accepts it
    client = TestClient(create_app(settings, assistant, ui=False))
    ask = {"question": QUESTION, "wait_for_llm": False}

    first = client.post("/api/ask", json=ask).json()
    assert first["backend"] == "extractive" and "383.605" in first["answer"] and first["answer_id"]
    searched = sum(assistant.calls.values())
    assert searched >= 1 and llm.chat_requests() == 0

    # someone else's question with this id: answered from the start, and the id stays its owner's
    other = client.post("/api/ask", json={"question": OTHER_Q, "answer_id": first["answer_id"]}).json()
    assert "Lê Ngọc Dũng" in other["answer"] and "answer_id" not in other
    searched = sum(assistant.calls.values())

    llm.script.append(("answer", text))
    final = client.post("/api/ask", json={**ask, "wait_for_llm": True, "answer_id": first["answer_id"]}).json()
    assert final["backend"] == "llm" and final["answer"].startswith("Năm 2023, Bệnh viện Bãi Cháy") and "answer_id" not in final
    assert sum(assistant.calls.values()) == searched  # the second call searched nothing
    assert final["citations"] and final["documents"]  # the sources, as for any answer
    assert llm.chat_requests() == 2  # the other question's answer and this one

    again = client.post("/api/ask", json={**ask, "wait_for_llm": True, "answer_id": first["answer_id"]})
    assert again.status_code == 200 and sum(assistant.calls.values()) > searched  # used: answered from the start
    plain = client.post("/api/ask", json={"question": QUESTION}).json()
    assert "answer_id" not in plain and set(plain) == set(again.json())
