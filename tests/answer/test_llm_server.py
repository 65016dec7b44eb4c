"""The LLM path against a real HTTP server (tests/llm_server.py, scripted, on 127.0.0.1).

What a deployment with llama.cpp's server (or vLLM, Ollama) goes through: the bounded request,
streamed answers, replies that never end or never start, server errors, broken JSON, a server
that is down, the health probe, and the extractive-first stream.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from rag.answer.chain import Answer, AnswerChain
from rag.answer.llm import NOT_FOUND, build_chat_model, call_chat_model, llm_health
from rag.config import Settings
from tests.answer.test_extractive import LexicalRetriever, lookup
from tests.llm_server import ScriptedLLM

QUESTION = "Bệnh viện Bãi Cháy đã khám cho bao nhiêu lượt người năm 2023?"
ABSENT = "Giám đốc Sở Y tế tỉnh Lào Cai là ai?"


@pytest.fixture(scope="module")
def lexical() -> LexicalRetriever:
    return LexicalRetriever(k=5)


@pytest.fixture
def server():
    with ScriptedLLM() as s:
        yield s


def settings_for(server: ScriptedLLM, **kw: Any) -> Settings:
    return Settings(answer_backend="openai", llm_base_url=server.url, llm_model="scripted", **kw)


def chain_for(lexical: LexicalRetriever, settings: Settings) -> AnswerChain:
    return AnswerChain(lexical, settings, build_chat_model(settings), doc_text=lookup)


def k_of(lexical: LexicalRetriever, needle: str = "383.605", question: str = QUESTION) -> int:
    return next(i for i, d in enumerate(lexical.invoke(question), start=1) if needle in d.page_content)


def faithful(lexical: LexicalRetriever) -> str:
    return f"Năm 2023, Bệnh viện Bãi Cháy đã khám cho trên 383.605 lượt người [{k_of(lexical)}]."


# -- the request --------------------------------------------------------------------------------


def test_the_request_caps_output_in_both_spellings_with_stops_and_temperature_0(server, lexical):
    server.script.append(("answer", faithful(lexical)))
    chain_for(lexical, settings_for(server, llm_max_tokens=96)).answer(QUESTION)
    (body,) = server.requests
    assert body["max_tokens"] == 96 and body["max_completion_tokens"] == 96  # llama.cpp reads max_tokens
    assert body["temperature"] == 0 and body["stream"] is True
    assert body["stop"] == Settings().llm_stop and body["model"] == "scripted"
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user"]
    user = body["messages"][1]["content"]
    assert user.count("<passage n=") == 5 and QUESTION in user
    assert "một hoặc hai câu" in body["messages"][0]["content"]  # the instruction for small models


# -- accepted -----------------------------------------------------------------------------------


def test_a_streamed_faithful_answer_is_shown(server, lexical):
    server.script.append(("answer", faithful(lexical)))
    answer = chain_for(lexical, settings_for(server)).answer(QUESTION)
    assert answer.backend == "llm" and answer.fallback_reason is None
    assert answer.answer == "Năm 2023, Bệnh viện Bãi Cháy đã khám cho trên 383.605 lượt người [1]."
    assert "383.605" in answer.citations[0].quote


def test_a_plain_json_reply_to_a_streaming_request_is_read(server, lexical):
    server.script.append(("json", faithful(lexical)))
    answer = chain_for(lexical, settings_for(server)).answer(QUESTION)
    assert answer.backend == "llm", answer.fallback_reason


def test_markdown_tags_and_labels_are_stripped_before_verification(server, lexical):
    k = k_of(lexical)
    server.script.append(("answer", f"<answer>\n**Trả lời:** Bệnh viện Bãi Cháy đã khám cho trên **383.605** lượt người [{k}].\n</answer>"))
    answer = chain_for(lexical, settings_for(server)).answer(QUESTION)
    assert answer.backend == "llm", answer.fallback_reason
    assert answer.answer == "Bệnh viện Bãi Cháy đã khám cho trên 383.605 lượt người [1]."


def test_an_echoed_prompt_example_is_dropped(server, lexical):
    from rag.answer.llm import EXAMPLE_ANSWER

    server.script.extend([("answer", f"{EXAMPLE_ANSWER}\n{faithful(lexical)}"), ("answer", EXAMPLE_ANSWER)])
    kept = chain_for(lexical, settings_for(server)).answer(QUESTION)
    assert kept.backend == "llm" and "12.480" not in kept.answer and "383.605" in kept.answer
    only_example = chain_for(lexical, settings_for(server)).answer(QUESTION)
    assert only_example.backend == "extractive" and "says nothing" in only_example.fallback_reason


# -- rejected -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("[1] [2]", "says nothing beyond citation markers"),
        ("<text>\n[1] [2] </text>", "says nothing beyond citation markers"),
        ("Ông Bình đã khám cho trên 383.605 lượt người [{k}].", "name “Bình”"),
        ("Bệnh viện Bãi Cháy là bệnh viện hạng II [{k}].", "number II"),
        ("Bệnh viện đã khám cho trên ba trăm tám mươi ba nghìn lượt người [{k}].", "number ba trăm tám mươi ba nghìn"),
        ("Công suất giảm mạnh [{k}].", "words “giảm mạnh”"),
    ],
)
def test_unfaithful_or_empty_replies_keep_the_extractive_answer(server, lexical, reply, reason):
    server.script.append(("answer", reply.format(k=k_of(lexical))))
    answer = chain_for(lexical, settings_for(server)).answer(QUESTION)
    assert answer.backend == "extractive"
    assert answer.fallback_reason.startswith("LLM answer rejected") and reason in answer.fallback_reason
    assert "383.605" in answer.answer


def test_not_found_with_markers_is_an_abstention_not_an_answer(server, lexical):
    server.script.append(("answer", NOT_FOUND[:-1] + " [1]."))
    answer = chain_for(lexical, settings_for(server)).answer(ABSENT)
    assert answer.abstained and answer.citations == [] and answer.answer == NOT_FOUND
    server.script.append(("answer", NOT_FOUND[:-1] + " [1]."))
    answered = chain_for(lexical, settings_for(server)).answer(QUESTION)
    assert "383.605" in answered.answer and answered.fallback_reason == "LLM found no answer; the extractive answer is shown"


# -- timed out: the connection is closed and the slot freed --------------------------------------


@pytest.mark.parametrize("kind", ["endless", "hang"])
def test_a_timed_out_call_closes_the_connection_and_frees_the_slot(server, lexical, kind):
    settings = settings_for(server, llm_timeout=1.0)
    server.script.extend([(kind, None), ("answer", faithful(lexical))])
    first = chain_for(lexical, settings).answer(QUESTION)
    assert "timed out" in first.fallback_reason and first.backend == "extractive"
    assert server.closed.wait(10), "the server never saw the connection closed"
    assert server.chat_requests() == 1  # no retry after a timeout: the time is spent
    # one slot, like llama.cpp: this is served only because the abandoned generation ended
    second = chain_for(lexical, settings_for(server, llm_timeout=10.0)).answer(QUESTION)
    assert second.backend == "llm", second.fallback_reason


# -- server errors and broken replies: one retry -------------------------------------------------


@pytest.mark.parametrize("failure", [("status", 500), ("bad_json", None), ("bad_sse", None)])
def test_one_failure_is_retried(server, lexical, failure):
    server.script.extend([failure, ("answer", faithful(lexical))])
    answer = chain_for(lexical, settings_for(server)).answer(QUESTION)
    assert answer.backend == "llm", answer.fallback_reason
    assert server.chat_requests() == 2


@pytest.mark.parametrize(
    ("failure", "reason"),
    [(("status", 500), "HTTP 500"), (("bad_json", None), "not chat-completion JSON"), (("bad_sse", None), "not valid JSON")],
)
def test_two_failures_fall_back_with_the_reason(server, lexical, failure, reason):
    server.script.extend([failure, failure, ("answer", faithful(lexical))])
    answer = chain_for(lexical, settings_for(server)).answer(QUESTION)
    assert answer.backend == "extractive" and reason in answer.fallback_reason
    assert server.chat_requests() == 2  # at most one retry
    assert "383.605" in answer.answer


def test_a_refused_request_is_not_retried(server, lexical):
    server.script.extend([("status", 400), ("answer", faithful(lexical))])
    answer = chain_for(lexical, settings_for(server)).answer(QUESTION)
    assert "HTTP 400" in answer.fallback_reason and server.chat_requests() == 1


def test_a_server_that_is_down_falls_back(lexical):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        settings = Settings(answer_backend="openai", llm_base_url=f"http://127.0.0.1:{port}/v1", llm_model="m")
        answer = AnswerChain(lexical, settings, build_chat_model(settings), doc_text=lookup).answer(QUESTION)
        health = llm_health(settings)
    assert answer.backend == "extractive" and "unreachable" in answer.fallback_reason
    assert health["reachable"] is False and "unreachable" in health["error"]


# -- extractive first ---------------------------------------------------------------------------


def test_stream_yields_the_extractive_answer_first_then_the_verified_llm_answer(server, lexical):
    server.script.append(("answer", faithful(lexical)))
    parts = list(chain_for(lexical, settings_for(server)).stream(QUESTION))
    answers = [p for p in parts if isinstance(p, Answer)]
    assert [(a.backend, a.provisional) for a in answers] == [("extractive", True), ("llm", False)]
    deltas = "".join(p for p in parts[: parts.index(answers[0])] if isinstance(p, str))
    assert deltas == answers[0].answer and "383.605" in deltas
    assert answers[1].answer.startswith("Năm 2023")
    assert all(isinstance(p, Answer) for p in parts[parts.index(answers[0]) :])  # nothing unverified streamed


def test_stream_keeps_the_extractive_answer_and_says_why(server, lexical):
    server.script.append(("answer", "[1] [2]"))
    answers = [p for p in chain_for(lexical, settings_for(server)).stream(QUESTION) if isinstance(p, Answer)]
    assert answers[0].provisional and not answers[1].provisional
    assert answers[1].backend == "extractive" and answers[1].answer == answers[0].answer
    assert "says nothing" in answers[1].fallback_reason
    assert answers[1].to_json_dict()["fallback_reason"] == answers[1].fallback_reason


def test_without_llm_never_calls_the_server(server, lexical):
    answer = chain_for(lexical, settings_for(server)).without_llm().answer(QUESTION)
    assert answer.backend == "extractive" and answer.fallback_reason is None
    assert server.chat_requests() == 0


# -- health probe -------------------------------------------------------------------------------


def test_health_probe_is_cheap_and_cached(server):
    settings = settings_for(server, llm_probe_ttl=60)
    first = llm_health(settings)
    assert first["reachable"] is True and first["error"] is None and first["model"] == "scripted"
    server.models_status = 500
    assert llm_health(settings) == first  # cached
    assert server.models_calls == 1 and server.chat_requests() == 0  # no generation to probe
    fresh = llm_health(settings_for(server, llm_probe_ttl=0))
    assert fresh["reachable"] is False and fresh["error"] == "HTTP 500"


def test_health_without_an_llm():
    assert llm_health(Settings()) == {"backend": "extractive", "configured": False}


def test_call_chat_model_returns_the_text_of_a_real_stream(server):
    server.script.append(("answer", "Một hai ba."))
    settings = settings_for(server)
    from langchain_core.messages import HumanMessage

    assert call_chat_model(build_chat_model(settings), [HumanMessage(content="x")], 5.0) == "Một hai ba."


# -- the HTTP API (real index: slow tier) --------------------------------------------------------


def test_api_reports_the_llm_and_can_skip_it(server, corpus_settings):
    from fastapi.testclient import TestClient

    from rag.service import Assistant
    from rag.web import create_app

    settings = corpus_settings.model_copy(update={"answer_backend": "openai", "llm_base_url": server.url, "llm_model": "scripted"})
    server.default = ("answer", "[1] [2]")
    client = TestClient(create_app(settings, Assistant(settings), ui=False))
    health = client.get("/api/health").json()
    assert health["llm"]["reachable"] is True and health["answer_backend"] == "openai"
    quick = client.post("/api/ask", json={"question": QUESTION, "wait_for_llm": False}).json()
    assert quick["backend"] == "extractive" and quick["fallback_reason"] is None and "383.605" in quick["answer"]
    assert server.chat_requests() == 0
    waited = client.post("/api/ask", json={"question": QUESTION}).json()
    assert server.chat_requests() == 1
    assert waited["backend"] == "extractive" and "says nothing" in waited["fallback_reason"]
    assert waited["answer"] == quick["answer"]
