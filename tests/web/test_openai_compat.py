"""The OpenAI-compatible endpoints (``/v1``) with the real ``openai`` client against the real running app."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from pydantic import SecretStr

from rag.web.openai_compat import MODEL_ID, ChatMessage, OpenAIError, conversation, strip_sources

KEY = "test-key-123"
DIRECTOR_Q = "Giám đốc Bệnh viện Bãi Cháy là ai?"
BAI_CHAY = "001_74a51137ac984768"
CITATION_FIELDS = {"n", "doc_id", "title", "text", "start", "end", "quote", "quote_start", "quote_end", "score"}


@pytest.fixture(scope="module")
def keyed_server(web_server):
    """The app (no UI) with an API key, so every call must authenticate."""
    return web_server(ui=False, api_key=SecretStr(KEY), rate_limit_per_minute=100_000)


@pytest.fixture(scope="module")
def client(keyed_server):
    return openai.OpenAI(base_url=keyed_server.url + "/v1", api_key=KEY, max_retries=0, timeout=60)


def ask_api(server, question: str, history=()) -> dict:
    r = httpx.post(server.url + "/api/ask", json={"question": question, "history": list(history)},
                   headers={"X-API-Key": KEY}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def openai_error(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"message", "type", "code"} <= set(body["error"]), body
    assert body["error"]["message"], body
    return body["error"]


# -- conversation mapping (no server) ----------------------------------------------------------------


def test_the_last_user_message_is_the_question_and_earlier_turns_are_pairs():
    messages = [
        ChatMessage(role="system", content="You are helpful."),
        ChatMessage(role="user", content="q1"),
        ChatMessage(role="assistant", content="a1 [1]\n\nNguồn:\n- [1] T: “x”"),
        ChatMessage(role="user", content="unanswered"),
        ChatMessage(role="user", content=[{"type": "text", "text": "q2"}, {"type": "image_url", "image_url": {}}]),
        ChatMessage(role="assistant", content="a2"),
        ChatMessage(role="user", content=[{"type": "text", "text": "q3 part 1"}, {"type": "text", "text": "part 2"}]),
    ]
    question, history = conversation(messages)
    assert question == "q3 part 1\npart 2"
    assert history == [["q1", "a1 [1]"], ["q2", "a2"]]  # our own "Nguồn:" list is not history


def test_a_conversation_that_does_not_end_with_the_user_is_refused():
    with pytest.raises(OpenAIError) as info:
        conversation([ChatMessage(role="user", content="q"), ChatMessage(role="assistant", content="a")])
    assert info.value.status == 400 and info.value.code == "invalid_messages"
    with pytest.raises(OpenAIError):
        conversation([])


def test_strip_sources_keeps_answers_without_a_source_list():
    assert strip_sources("Không tìm thấy.") == "Không tìm thấy."
    assert strip_sources("A [1].\n\nNguồn:\n- [1] T: “q”") == "A [1]."


# -- the real client ---------------------------------------------------------------------------------


def test_models_list_has_our_model(client):
    assert [m.id for m in client.models.list()] == [MODEL_ID]
    assert client.models.retrieve(MODEL_ID).id == MODEL_ID
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def test_completion_answers_with_markers_sources_and_the_api_citations(client, keyed_server):
    response = client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": DIRECTOR_Q}])
    choice = response.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    content = choice.message.content
    assert "Lê Ngọc Dũng" in content and "[1]" in content
    answer_text, sources = content.split("\n\nNguồn:\n")
    assert "Lê Ngọc Dũng" in answer_text
    assert sources.startswith("- [1] ")
    data = response.model_dump()
    expected = ask_api(keyed_server, DIRECTOR_Q)
    assert answer_text == expected["answer"]
    assert data["citations"] == expected["citations"]  # the same shape and values as /api/ask
    assert data["choices"][0]["message"]["citations"] == expected["citations"]
    assert set(data["citations"][0]) == CITATION_FIELDS and data["citations"][0]["doc_id"] == BAI_CHAY
    assert data["abstained"] is False
    assert f"“{expected['citations'][0]['quote']}”" in sources


def test_streaming_yields_the_same_text_and_citations_in_the_final_chunk(client):
    whole = client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": DIRECTOR_Q}])
    chunks = list(client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": DIRECTOR_Q}], stream=True))
    assert len(chunks) > 3  # streamed in pieces, not one blob
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == whole.choices[0].message.content
    last = chunks[-1].model_dump()
    assert last["choices"][0]["finish_reason"] == "stop"
    assert last["citations"] == whole.model_dump()["citations"]
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])


def test_raw_stream_is_sse_and_ends_with_done(keyed_server):
    payload = {"model": MODEL_ID, "stream": True, "messages": [{"role": "user", "content": DIRECTOR_Q}]}
    with httpx.stream("POST", keyed_server.url + "/v1/chat/completions", json=payload, headers={"X-API-Key": KEY}, timeout=60) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [line for line in r.iter_lines() if line]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    assert json.loads(events[0][6:])["object"] == "chat.completion.chunk"


def test_follow_up_uses_the_earlier_turns(client, keyed_server):
    first = client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": DIRECTOR_Q}])
    follow = "Còn số ca phẫu thuật của bệnh viện đó thì sao?"
    messages = [
        {"role": "system", "content": "Trả lời ngắn gọn."},
        {"role": "user", "content": DIRECTOR_Q},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": follow},
    ]
    data = client.chat.completions.create(model=MODEL_ID, messages=messages).model_dump()
    expected = ask_api(keyed_server, follow, [[DIRECTOR_Q, first.model_dump()["choices"][0]["message"]["content"].split("\n\nNguồn:\n")[0]]])
    assert data["rewritten_query"] and "Bãi Cháy" in data["rewritten_query"]
    assert data["rewritten_query"] == expected["rewritten_query"]
    assert data["citations"] == expected["citations"]


def test_a_question_the_reports_do_not_answer_abstains_without_sources(client):
    data = client.chat.completions.create(
        model=MODEL_ID, messages=[{"role": "user", "content": "Bệnh viện Đa khoa tỉnh Nghệ An có bao nhiêu giường bệnh năm 2023?"}]
    ).model_dump()
    assert data["abstained"] is True and data["citations"] == []
    assert "Nguồn:" not in data["choices"][0]["message"]["content"]


# -- errors in OpenAI's shape, as the client raises them ---------------------------------------------


def test_a_wrong_key_is_an_authentication_error(keyed_server):
    bad = openai.OpenAI(base_url=keyed_server.url + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": DIRECTOR_Q}])
    assert info.value.status_code == 401 and info.value.code == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    r = httpx.post(keyed_server.url + "/v1/chat/completions", json={"model": MODEL_ID, "messages": []})
    assert r.status_code == 401 and "missing API key" in openai_error(r)["message"]
    # the X-API-Key header works too, whatever the Bearer says
    r = httpx.get(keyed_server.url + "/v1/models", headers={"X-API-Key": KEY, "Authorization": "Bearer wrong"})
    assert r.status_code == 200


def test_bad_requests_are_openai_errors(client, keyed_server):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": DIRECTOR_Q}])
    assert info.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}])
    assert info.value.code == "invalid_messages"
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": "   "}])
    assert info.value.code == "invalid_question" and "trống" in info.value.message

    url, headers = keyed_server.url + "/v1/chat/completions", {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    r = httpx.post(url, content=b"{not json", headers=headers)
    assert r.status_code == 400 and openai_error(r)["code"] == "invalid_json"
    r = httpx.post(url, json={"model": MODEL_ID, "messages": [{"role": "wizard", "content": "x"}]}, headers=headers)
    assert r.status_code == 400 and openai_error(r)["param"].startswith("messages.0.role")
    r = httpx.post(url, content=json.dumps({"model": MODEL_ID, "messages": [{"role": "user", "content": "x" * 300_000}]}), headers=headers)
    assert r.status_code == 413 and openai_error(r)["code"] == "request_too_large"
    r = httpx.get(url, headers=headers)
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    r = httpx.get(keyed_server.url + "/v1/embeddings", headers=headers)
    assert r.status_code == 404 and openai_error(r)["type"] == "invalid_request_error"


def test_rate_limit_is_a_rate_limit_error(web_server):
    server = web_server(ui=False, rate_limit_per_minute=2)
    limited = openai.OpenAI(base_url=server.url + "/v1", api_key="none needed", max_retries=0)
    for _ in range(2):
        limited.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": DIRECTOR_Q}])
    with pytest.raises(openai.RateLimitError) as info:
        limited.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": DIRECTOR_Q}])
    assert int(info.value.response.headers["retry-after"]) >= 1
    # one budget with /api/ask
    assert httpx.post(server.url + "/api/ask", json={"question": DIRECTOR_Q}).status_code == 429


def test_browser_clients_of_an_allowed_origin_may_send_a_bearer_key(api_server, widget_origin_port):
    origin = f"http://127.0.0.1:{widget_origin_port}"
    preflight = {"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
    r = httpx.options(api_server.url + "/v1/chat/completions", headers=preflight)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == origin
    assert "authorization" in r.headers["access-control-allow-headers"].lower()
    r = httpx.options(api_server.url + "/v1/chat/completions", headers={**preflight, "Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_stream_errors_come_before_the_stream_and_content_parts_are_read(client):
    with pytest.raises(openai.BadRequestError) as info:  # an HTTP error, not a broken event stream
        client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": ""}], stream=True)
    assert info.value.code == "invalid_question"
    parts = [{"type": "text", "text": DIRECTOR_Q}]  # how Open WebUI and vision-capable clients send content
    chunks = list(client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": parts}], stream=True,
                                                 temperature=0.2, stream_options={"include_usage": True}))
    assert "Lê Ngọc Dũng" in "".join(c.choices[0].delta.content or "" for c in chunks)


# -- every method and path of /v1 in OpenAI's shape, and the schema that says so ----------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("TRACE", "/v1/chat/completions", "POST"),
        ("PUT", "/v1/chat/completions", "POST"),
        ("FROB", "/v1/models", "GET"),
        ("TRACE", "/v1/models", "GET"),
        ("DELETE", "/v1/models/hoi-dap-y-te", "GET"),
    ],
)
def test_other_methods_are_openai_405s_with_the_ui_mounted(api_server, method, path, allow):
    """The UI is mounted at "/": a method no /v1 route takes must not fall through to it."""
    r = httpx.request(method, api_server.url + path, timeout=10)
    assert r.status_code == 405, r.text
    assert r.headers["allow"] == allow and openai_error(r)["code"] == "method_not_allowed"


def test_unknown_v1_paths_and_models_are_openai_404s(api_server):
    for method in ("GET", "TRACE"):
        r = httpx.request(method, api_server.url + "/v1/embeddings", timeout=10)
        assert r.status_code == 404 and openai_error(r)["code"] == "not_found"
    r = httpx.get(api_server.url + "/v1/models/gpt-4o", timeout=10)
    assert r.status_code == 404 and openai_error(r)["code"] == "model_not_found"
    assert httpx.get(api_server.url + f"/v1/models/{MODEL_ID}", timeout=10).json()["id"] == MODEL_ID


def test_the_schema_documents_v1(api_server):
    spec = httpx.get(api_server.url + "/openapi.json", timeout=30).json()
    chat = spec["paths"]["/v1/chat/completions"]["post"]
    body = chat["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["model", "messages"] and body["properties"]["model"]["enum"] == [MODEL_ID]
    assert body["properties"]["messages"]["items"]["properties"]["role"]["enum"][:3] == ["system", "developer", "user"]
    assert "$defs" not in json.dumps(body)  # inlined: a "#/$defs/…" reference would not resolve in the document
    assert {"200", "400", "401", "404", "413", "429", "503"} <= set(chat["responses"])
    assert {"application/json", "text/event-stream"} <= set(chat["responses"]["200"]["content"])
    error = spec["components"]["schemas"]["OpenAIErrorResponse"]
    assert error["properties"]["error"]["$ref"].endswith("/OpenAIErrorBody")
    one = spec["paths"]["/v1/models/{model}"]["get"]
    assert "404" in one["responses"] and one["parameters"][0]["schema"]["enum"] == [MODEL_ID]
