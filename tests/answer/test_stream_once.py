"""``AnswerChain.stream`` with an LLM: retrieval and the extractive answer run once, then only the LLM stage.

A real (lexical) retriever wrapped to count its searches, and the scripted OpenAI-compatible server on
127.0.0.1 as the LLM.
"""

from __future__ import annotations

from collections import Counter

import pytest
from langchain_core.documents import Document

from rag.answer.chain import Answer, AnswerChain
from rag.answer.llm import build_chat_model
from rag.config import Settings
from tests.answer.test_extractive import LexicalRetriever, lookup
from tests.llm_server import ScriptedLLM

QUESTION = "Bệnh viện Bãi Cháy đã khám cho bao nhiêu lượt người năm 2023?"


class CountingRetriever:
    """The lexical retriever, counting how often each query is searched."""

    def __init__(self) -> None:
        self.inner = LexicalRetriever(k=5)
        self.calls: Counter[str] = Counter()

    def invoke(self, query: str) -> list[Document]:
        self.calls[query] += 1
        return self.inner.invoke(query)


@pytest.fixture
def server():
    with ScriptedLLM() as s:
        yield s


def chain_for(retriever: CountingRetriever, server: ScriptedLLM) -> AnswerChain:
    settings = Settings(answer_backend="openai", llm_base_url=server.url, llm_model="scripted")
    return AnswerChain(retriever, settings, build_chat_model(settings), doc_text=lookup)


def faithful(retriever: CountingRetriever) -> str:
    k = next(i for i, d in enumerate(retriever.inner.invoke(QUESTION), start=1) if "383.605" in d.page_content)
    return f"Năm 2023, Bệnh viện Bãi Cháy đã khám cho trên 383.605 lượt người [{k}]."


def test_stream_with_an_llm_searches_each_query_once(server):
    retriever = CountingRetriever()
    server.script.append(("answer", faithful(retriever)))
    parts = list(chain_for(retriever, server).stream(QUESTION))
    answers = [p for p in parts if isinstance(p, Answer)]
    assert [(a.backend, a.provisional) for a in answers] == [("extractive", True), ("llm", False)]
    assert retriever.calls, "the retriever was never asked"
    assert max(retriever.calls.values()) == 1, retriever.calls  # no query searched twice
    assert retriever.calls[QUESTION] == 1
    assert server.chat_requests() == 1
    # the final answer accounts for the one retrieval, and its latency includes the LLM call
    assert answers[1].timings_ms["searches"] == float(len(retriever.calls))
    assert answers[1].latency_ms >= answers[0].latency_ms


def test_stream_searches_as_often_as_one_extractive_answer(server):
    """The LLM stage adds no search: stream(LLM) does exactly the searches of an extractive answer."""
    alone = CountingRetriever()
    chain_for(alone, server).without_llm().answer(QUESTION)
    streamed = CountingRetriever()
    server.script.append(("answer", "[1] [2]"))  # rejected: the extractive answer stays
    answers = [p for p in chain_for(streamed, server).stream(QUESTION) if isinstance(p, Answer)]
    assert streamed.calls == alone.calls
    assert answers[0].answer == answers[1].answer and "says nothing" in answers[1].fallback_reason
    assert answers[0].fallback_reason is None and answers[0].provisional  # the first one was not changed afterwards


def test_answer_and_stream_agree(server):
    retriever = CountingRetriever()
    server.script.extend([("answer", faithful(retriever)), ("answer", faithful(retriever))])
    chain = chain_for(retriever, server)
    invoked = chain.invoke(QUESTION)
    streamed = [p for p in chain.stream(QUESTION) if isinstance(p, Answer)][-1]
    assert invoked.answer == streamed.answer and invoked.backend == streamed.backend == "llm"
    assert invoked.citations == streamed.citations
