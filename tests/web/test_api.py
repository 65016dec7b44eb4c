"""The JSON API against real running servers (uvicorn, the real index of corpus/, real answers).

Also starts ``python app.py`` itself once: build-on-start from a corpus, offline assets, ``--help``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import httpx
import pytest
from pydantic import SecretStr

from tests.helpers import CORPUS, ROOT, free_port

DIRECTOR_Q = "Giám đốc Bệnh viện Bãi Cháy là ai?"
BAI_CHAY = "001_74a51137ac984768"


def post(url: str, payload=None, *, content: bytes | None = None, headers=None, timeout=60.0, **kw) -> httpx.Response:
    if content is None:
        content = json.dumps(payload, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", **(headers or {})}
    return httpx.post(url + "/api/ask", content=content, headers=headers, timeout=timeout, **kw)


def error_of(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) >= {"code", "message"}, body
    assert body["error"]["message"], body
    return body["error"]


# -- answers ----------------------------------------------------------------------------------------


def test_ask_answers_with_citations(api_server):
    r = post(api_server.url, {"question": DIRECTOR_Q})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["abstained"] is False
    assert "[1]" in data["answer"]
    assert "Lê Ngọc Dũng" in data["answer"]
    assert data["citations"], data
    first = data["citations"][0]
    assert first["n"] == 1 and first["doc_id"] == BAI_CHAY
    assert "Lê Ngọc Dũng" in first["quote"]
    assert first["quote"] in first["text"] or " ".join(first["quote"].split()) in " ".join(first["text"].split())


def test_ask_json_is_the_cli_json(api_server, corpus_settings):
    """Same fields and values as ``python -m rag ask --json`` on the same index (latency aside)."""
    env = {**os.environ, "HDYT_INDEX_DIR": str(corpus_settings.index_dir), "HF_HUB_OFFLINE": "1"}
    cli = subprocess.run(
        [sys.executable, "-m", "rag", "ask", DIRECTOR_Q, "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cli.returncode == 0, cli.stderr
    expected = json.loads(cli.stdout)
    got = post(api_server.url, {"question": DIRECTOR_Q}).json()
    assert set(got) - {"related", "documents"} == set(expected)  # the API adds related passages and document dates
    for key in set(expected) - {"latency_ms", "timings_ms"}:
        assert got[key] == expected[key], key


def test_follow_up_with_history(api_server):
    first = post(api_server.url, {"question": DIRECTOR_Q}).json()
    r = post(
        api_server.url,
        {"question": "Còn số ca phẫu thuật của bệnh viện đó thì sao?", "history": [[DIRECTOR_Q, first["answer"]]]},
    )
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["rewritten_query"], data  # the follow-up was made stand-alone
    assert "Bãi Cháy" in data["rewritten_query"]
    assert all(c["doc_id"] == BAI_CHAY for c in data["citations"])


def test_every_example_question_of_the_chat_page_is_answered(api_server):
    from rag.web.ui import EXAMPLES

    for example in EXAMPLES:
        data = post(api_server.url, {"question": example["text"]}).json()
        assert not data["abstained"] and data["citations"], example["text"]


def test_unanswerable_question_abstains(api_server):
    r = post(api_server.url, {"question": "Bệnh viện Đa khoa tỉnh Nghệ An có bao nhiêu giường bệnh năm 2023?"})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["abstained"] is True
    assert data["citations"] == []


def test_health(api_server):
    r = httpx.get(api_server.url + "/api/health", timeout=30)
    assert r.status_code == 200
    h = r.json()
    assert h["index_loaded"] is True
    assert h["documents"] == len(list(CORPUS.glob("*.txt")))
    assert h["chunks"] > h["documents"]
    assert h["model_id"]


def test_openapi_documents_the_api(api_server):
    spec = httpx.get(api_server.url + "/openapi.json", timeout=30).json()
    ask = spec["paths"]["/api/ask"]["post"]
    body_ref = ask["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body_ref.endswith("/AskRequest")
    assert ask["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/AskResponse")
    for status in ("400", "413", "422", "429"):  # 401 only where a key is set (test_hardening)
        assert ask["responses"][status]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    schemas = spec["components"]["schemas"]
    assert {"question", "history"} <= set(schemas["AskRequest"]["properties"])
    assert {"answer", "abstained", "rewritten_query", "citations", "related"} <= set(schemas["AskResponse"]["properties"])
    assert "/api/health" in spec["paths"]
    assert any("X-API-Key" in json.dumps(v) for v in spec["components"].get("securitySchemes", {}).values())
    docs = httpx.get(api_server.url + "/api/docs", timeout=30)
    assert docs.status_code == 200 and "/openapi.json" in docs.text and "cdn" not in docs.text.lower()


# -- bad requests -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "status", "code", "message_part"),
    [
        (b'{"question": "thi', 400, "invalid_json", "JSON"),
        (b"", 422, "invalid_request", "question"),
        (b"[]", 422, "invalid_request", ""),
        (b'{"history": []}', 422, "invalid_request", "question"),
        (b'{"question": 42}', 422, "invalid_request", "question"),
        (b'{"question": "   "}', 422, "empty_question", "trống"),
        (b'{"question": "a", "history": "abc"}', 422, "invalid_request", "history"),
        (b'{"question": "a", "history": [["only one"]]}', 422, "invalid_request", "history"),
        (b'{"question": "a", "history": [[1, 2]]}', 422, "invalid_request", "history"),
        (b'{"question": "a", "history": [{"role": "user"}]}', 422, "invalid_request", "history"),
        (b'{"question": "a", "questionn": "b"}', 422, "invalid_request", "questionn"),
    ],
)
def test_bad_requests_get_clear_json_errors(api_server, content, status, code, message_part):
    r = post(api_server.url, content=content)
    assert r.status_code == status, r.text
    err = error_of(r)
    assert err["code"] == code
    assert message_part.lower() in err["message"].lower()


def test_too_long_question(api_server):
    limit = api_server.settings.max_question_chars
    r = post(api_server.url, {"question": "bệnh viện " * (limit // 10 + 1)})
    assert r.status_code == 422
    err = error_of(r)
    assert err["code"] == "question_too_long" and str(limit) in err["message"]


def test_unknown_route_and_method(api_server):
    r = httpx.get(api_server.url + "/api/nothing", timeout=10)
    assert r.status_code == 404 and error_of(r)["code"] == "not_found"
    r = httpx.get(api_server.url + "/api/ask", timeout=10)
    assert r.status_code == 405 and error_of(r)["code"] == "method_not_allowed"


# -- guards -----------------------------------------------------------------------------------------


def test_rate_limit_per_client(web_server):
    server = web_server(ui=False, rate_limit_per_minute=3)
    codes = [post(server.url, {"question": ""}).status_code for _ in range(3)]
    assert codes == [422, 422, 422]  # counted even when refused later
    r = post(server.url, {"question": DIRECTOR_Q})
    assert r.status_code == 429
    assert error_of(r)["code"] == "rate_limited"
    retry = int(r.headers["Retry-After"])
    assert 1 <= retry <= 60
    # another client (another source address) has its own window
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2")) as other:
        r2 = other.post(server.url + "/api/ask", json={"question": DIRECTOR_Q}, timeout=60)
    assert r2.status_code == 200, r2.text
    # health is not rate limited
    assert httpx.get(server.url + "/api/health", timeout=10).status_code == 200


def test_api_key(web_server):
    server = web_server(ui=False, api_key=SecretStr("s3cret-key"))
    r = post(server.url, {"question": DIRECTOR_Q})
    assert r.status_code == 401 and error_of(r)["code"] == "unauthorized"
    assert "X-API-Key" in error_of(r)["message"]
    r = post(server.url, {"question": DIRECTOR_Q}, headers={"X-API-Key": "wrong"})
    assert r.status_code == 401 and "Sai" in error_of(r)["message"]
    r = post(server.url, content=b"{not json", headers={"X-API-Key": "wrong"})
    assert r.status_code == 401  # the key is checked before the body is looked at
    r = post(server.url, {"question": DIRECTOR_Q}, headers={"X-API-Key": "s3cret-key"})
    assert r.status_code == 200 and r.json()["citations"]
    assert httpx.get(server.url + "/api/health", timeout=10).status_code == 200


def test_request_size_limit(web_server):
    server = web_server(ui=False, max_request_bytes=1024)
    big = {"question": "Giám đốc là ai?", "history": [["x" * 600, "y" * 600]]}
    r = post(server.url, big)
    assert r.status_code == 413 and error_of(r)["code"] == "request_too_large"
    assert "1024" in error_of(r)["message"]

    def chunks():  # no Content-Length: chunked transfer encoding
        yield b'{"question": "'
        for _ in range(20):
            yield b"a" * 100
        yield b'"}'

    r = httpx.post(server.url + "/api/ask", content=chunks(), headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 413
    assert post(server.url, {"question": DIRECTOR_Q}).status_code == 200


def test_cors_allows_configured_origin_only(api_server, widget_origin_port):
    allowed = f"http://127.0.0.1:{widget_origin_port}"
    denied = "http://evil.example"
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    r = httpx.options(api_server.url + "/api/ask", headers={"Origin": allowed, **preflight}, timeout=10)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == allowed
    assert "POST" in r.headers["access-control-allow-methods"]
    r = httpx.options(api_server.url + "/api/ask", headers={"Origin": denied, **preflight}, timeout=10)
    assert r.status_code == 400
    assert "access-control-allow-origin" not in r.headers
    r = post(api_server.url, {"question": DIRECTOR_Q}, headers={"Origin": allowed})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == allowed
    assert "retry-after" in r.headers["access-control-expose-headers"].lower()  # readable by the widget on 429
    r = post(api_server.url, {"question": DIRECTOR_Q}, headers={"Origin": denied})
    assert "access-control-allow-origin" not in r.headers
    # errors carry CORS headers too, so the widget can show them
    r = post(api_server.url, {"question": ""}, headers={"Origin": allowed})
    assert r.status_code == 422 and r.headers["access-control-allow-origin"] == allowed


# -- the widget files -------------------------------------------------------------------------------


def test_widget_served(api_server):
    js = httpx.get(api_server.url + "/widget.js", timeout=10)
    assert js.status_code == 200
    assert "javascript" in js.headers["content-type"]
    assert "attachShadow" in js.text and "/api/ask" in js.text
    assert ".innerHTML" not in js.text  # all text goes through textContent
    demo = httpx.get(api_server.url + "/widget-demo", timeout=10)
    assert demo.status_code == 200 and 'src="/widget.js"' in demo.text


# -- the UI is served offline -----------------------------------------------------------------------


def _external_urls(text: str) -> list[str]:
    urls = re.findall(r"""(?:src|href)\s*=\s*["'](https?://[^"']+)""", text)
    urls += re.findall(r"""url\(\s*["']?(https?://[^)"']+)""", text)
    urls += re.findall(r"""@import\s+["'](https?://[^"']+)""", text)
    return [u for u in urls if not u.startswith(("http://127.0.0.1", "http://localhost"))]


def test_ui_page_and_theme_load_nothing_from_outside(api_server):
    page = httpx.get(api_server.url + "/", timeout=30)
    assert page.status_code == 200
    assert "Hỏi Đáp Y Tế" in page.text
    assert _external_urls(page.text) == []
    config = httpx.get(api_server.url + "/config", timeout=30).json()
    assert config.get("analytics_enabled") is False
    theme = httpx.get(api_server.url + "/theme.css", timeout=30)
    assert theme.status_code == 200
    assert "fonts.googleapis" not in theme.text and _external_urls(theme.text) == []


# -- python app.py ----------------------------------------------------------------------------------


def test_help_lists_every_setting():
    from rag.config import Settings

    out = subprocess.run(
        [sys.executable, "app.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    for name, field in Settings.model_fields.items():
        flag = "--" + name.replace("_", "-")
        assert flag in out.stdout, flag
        assert f"HDYT_{name.upper()}" in out.stdout
    assert "Address the app listens on" in out.stdout


@pytest.mark.slow  # builds an index of corpus/ in a fresh app
def test_app_builds_index_from_corpus_and_serves(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("000_b4cc5c523bac1daf.txt", "004_deafa303e7a50af3.txt"):
        (corpus / name).write_bytes((CORPUS / name).read_bytes())
    port = free_port()
    env = {
        **os.environ,
        "HDYT_INDEX_DIR": str(tmp_path / "index"),
        "HDYT_CORPUS_DIR": str(corpus),
        "GRADIO_ANALYTICS_ENABLED": "True",  # app.py forces it off anyway
        "HF_HUB_OFFLINE": "1",
    }
    log = tmp_path / "app.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(port), "--host", "127.0.0.1"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        health = httpx.get(url + "/api/health", timeout=10).json()
        assert health["documents"] == 2
        text = log.read_text()
        assert "Đọc tài liệu" in text or "Đã lập chỉ mục" in text  # visible progress while building
        assert "Đã lập chỉ mục" in text
        assert (tmp_path / "index" / "CURRENT").exists()
        assert httpx.get(url + "/config", timeout=10).json().get("analytics_enabled") is False
        r = post(url, {"question": "Bệnh viện Chấn thương Chỉnh hình có bao nhiêu cán bộ công nhân viên?"})
        assert r.status_code == 200 and r.json()["citations"][0]["doc_id"] == "000_b4cc5c523bac1daf"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
