"""Hardening of the running app (real uvicorn servers, the real index): one error shape for every
mistake, hostile text refused, authenticated uploads, failed-credential throttling, security
headers, an OpenAPI schema that matches the server (checked by schemathesis), and the app
following index generations written by another process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import unicodedata
import uuid
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from rag.web.security import UPLOADS_PER_MINUTE
from tests.helpers import run_cli
from tests.web.test_api import DIRECTOR_Q, error_of, post

ADMIN = "hardening-admin-token"


# -- one error shape --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/nothing", 404, "not_found"),
        ("POST", "/api/nothing/deeper", 404, "not_found"),
        ("GET", "/api/ask", 405, "method_not_allowed"),
        ("PATCH", "/api/ask", 405, "method_not_allowed"),
        ("OPTIONS", "/api/ask", 405, "method_not_allowed"),
        ("TRACE", "/api/health", 405, "method_not_allowed"),
        ("FROB", "/api/ask", 405, "method_not_allowed"),
        ("DELETE", "/openapi.json", 405, "method_not_allowed"),
        ("PUT", "/widget.js", 405, "method_not_allowed"),
        ("TRACE", "/api/feedback", 405, "method_not_allowed"),  # an included router's route
        ("GET", "/api/feedback", 405, "method_not_allowed"),
    ],
)
def test_unknown_routes_and_methods_share_the_error_shape(api_server, method, path, status, code):
    r = httpx.request(method, api_server.url + path, timeout=10)
    assert r.status_code == status, r.text
    assert error_of(r)["code"] == code
    if status == 405:
        assert r.headers["allow"]


@pytest.mark.parametrize(
    ("question", "code"),
    [
        ("\ud800", "invalid_question"),
        ("Giám đốc \udfff là ai?", "invalid_question"),
        ("Bệnh viện\ufdd0", "invalid_question"),
        ("Bệnh viện\U0010ffff", "invalid_question"),
        ("\u200b\u200c\u200d\ufeff", "empty_question"),
        (" \u2060\u00a0\u3000 ", "empty_question"),
        ("x\x00", "invalid_question"),
    ],
)
def test_hostile_questions_are_422_not_500(api_server, question, code):
    body = json.dumps({"question": question}).encode()  # ASCII escapes: lone surrogates survive
    r = post(api_server.url, content=body)
    assert r.status_code == 422, r.text
    err = error_of(r)
    assert err["code"] == code and " / " in err["message"]  # Vietnamese / English


def test_hostile_history_is_422(api_server):
    r = post(api_server.url, content=json.dumps({"question": DIRECTOR_Q, "history": [["\ud800", "ok"]]}).encode())
    assert r.status_code == 422 and error_of(r)["code"] == "invalid_question"
    assert "history item 1" in error_of(r)["message"]


def test_length_is_counted_after_nfc(api_server):
    limit = api_server.settings.max_question_chars
    composed = ("Bệnh viện Bãi Cháy có bao nhiêu giường bệnh " * 40)[: limit - 10]
    decomposed = unicodedata.normalize("NFD", composed)
    assert len(decomposed) > limit  # too long only when counted before NFC
    r = post(api_server.url, {"question": decomposed})
    assert r.status_code == 200, r.text


# -- headers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("method,path", [("GET", "/"), ("GET", "/api/health"), ("POST", "/api/ask"), ("GET", "/widget.js"), ("GET", "/api/nope"), ("POST", "/gradio_api/upload")])
def test_security_headers_on_every_response(api_server, method, path):
    r = httpx.request(method, api_server.url + path, timeout=30)
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "http" not in csp  # no outside origin anywhere
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"


# -- uploads and credentials ------------------------------------------------------------------------


def _upload(url: str, client: httpx.Client | None = None, **kw) -> httpx.Response:
    files = {"files": ("bao_cao.txt", "Báo cáo thử\nNội dung.".encode(), "text/plain")}
    return (client or httpx).post(url + "/gradio_api/upload", files=files, timeout=30, **kw)


def test_upload_refused_when_no_admin_token_is_configured(api_server):
    r = _upload(api_server.url)
    assert r.status_code == 403 and error_of(r)["code"] == "admin_disabled"


@pytest.fixture(scope="module")
def admin_server(web_server):
    return web_server(ui=True, admin_token=SecretStr(ADMIN), api_key=SecretStr("the-api-key"), rate_limit_per_minute=10_000)


def test_upload_needs_the_admin_token_or_session(admin_server):
    url = admin_server.url
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.4")) as client:
        r = _upload(url, client)
        assert r.status_code == 401 and error_of(r)["code"] == "unauthorized"
        r = _upload(url, client, headers={"X-Admin-Token": ADMIN})
        assert r.status_code == 200, r.text
        stored = r.json()
        assert len(stored) == 1 and Path(stored[0]).name == "bao_cao.txt"
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.5")) as client:
        bad = client.post(url + "/api/admin/session", json={"token": "nope"}, timeout=10)
        assert bad.status_code == 401 and "hdyt_admin" not in bad.headers.get("set-cookie", "")
        good = client.post(url + "/api/admin/session", json={"token": ADMIN}, timeout=10)
        assert good.status_code == 200 and "httponly" in good.headers["set-cookie"].lower()
        assert _upload(url, client).status_code == 200  # the session cookie
    forged = httpx.Client(cookies={"hdyt_admin": "0" * 64}, transport=httpx.HTTPTransport(local_address="127.0.0.6"))
    with forged:
        assert _upload(url, forged).status_code == 401


def test_upload_route_is_rate_limited_per_client(admin_server):
    from rag.web.security import UPLOADS_PER_MINUTE

    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.41")) as client:
        codes = [_upload(admin_server.url, client, headers={"X-Admin-Token": ADMIN}).status_code for _ in range(UPLOADS_PER_MINUTE + 1)]
        assert codes == [200] * UPLOADS_PER_MINUTE + [429]
        r = _upload(admin_server.url, client, headers={"X-Admin-Token": ADMIN})
        assert r.status_code == 429 and error_of(r)["code"] == "rate_limited" and int(r.headers["Retry-After"]) > 0
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.42")) as other:  # another client is not affected
        assert _upload(admin_server.url, other, headers={"X-Admin-Token": ADMIN}).status_code == 200


def test_wrong_credentials_are_throttled(admin_server):
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.7")) as client:
        codes = [
            client.post(admin_server.url + "/api/ask", json={"question": DIRECTOR_Q}, headers={"X-API-Key": f"guess{i}"}, timeout=30).status_code
            for i in range(6)
        ]
        assert codes == [401] * 5 + [429]
        r = client.post(admin_server.url + "/api/ask", json={"question": DIRECTOR_Q}, headers={"X-API-Key": "the-api-key"}, timeout=30)
        assert r.status_code == 429 and error_of(r)["code"] == "too_many_failures" and int(r.headers["Retry-After"]) > 0
        uploads = [_upload(admin_server.url, client, headers={"X-Admin-Token": "x"}).status_code for _ in range(2)]
        assert uploads == [429, 429]  # the same client, the same throttle
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.8")) as other:
        r = other.post(admin_server.url + "/api/ask", json={"question": DIRECTOR_Q}, headers={"X-API-Key": "the-api-key"}, timeout=60)
        assert r.status_code == 200, r.text


def _click(url: str, client: httpx.Client, elem_id: str, data: list) -> str:
    """Click the element ``elem_id`` as the page does (Gradio's queue routes); the event's first output."""
    config = client.get(url + "/config").json()
    button = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == elem_id)
    event = next(d for d in config["dependencies"] if [button, "click"] in d["targets"])
    session = uuid.uuid4().hex
    joined = client.post(
        url + "/gradio_api/queue/join",
        json={"data": data, "fn_index": event["id"], "trigger_id": button, "session_hash": session, "event_data": None},
    )
    assert joined.status_code == 200, joined.text
    with client.stream("GET", url + "/gradio_api/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            message = json.loads(line[5:]) if line.startswith("data:") else {}
            if message.get("msg") == "process_completed":
                assert message["success"], message
                return message["output"]["data"][0]
    raise AssertionError("the event never completed")


def test_library_tab_shares_the_credential_throttle(admin_server):
    """Wrong admin tokens typed in the library tab count in the API's throttle, and the other way round."""
    url = admin_server.url
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.10"), timeout=60) as client:
        for _ in range(6):  # an empty box is a slip, never a guess
            assert "Hãy nhập mã quản trị" in _click(url, client, "hdyt-delete-confirm", [None, ""])
        for i in range(5):
            assert "Mã quản trị không đúng" in _click(url, client, "hdyt-delete-confirm", [None, f"guess{i}"])
        for elem_id in ("hdyt-delete-confirm", "hdyt-delete-btn"):  # now even the right token waits
            assert "Nhập sai mã quản trị quá nhiều lần: thử lại sau" in _click(url, client, elem_id, [None, ADMIN])
        assert "quá nhiều lần" in _click(url, client, "hdyt-upload-btn", [[], ADMIN])
        assert _upload(url, client, headers={"X-Admin-Token": ADMIN}).status_code == 429  # the API's upload route
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.11"), timeout=60) as client:
        for i in range(5):
            client.post(url + "/api/ask", json={"question": DIRECTOR_Q}, headers={"X-API-Key": f"guess{i}"})
        assert "quá nhiều lần" in _click(url, client, "hdyt-delete-confirm", [None, ADMIN])


def test_library_tab_limits_writes_per_client(admin_server):
    url = admin_server.url
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.12"), timeout=60) as client:
        statuses = [_click(url, client, "hdyt-delete-confirm", [None, ADMIN]) for _ in range(UPLOADS_PER_MINUTE + 1)]
        assert all("Chọn một tài liệu để xoá" in s for s in statuses[:-1])
        assert "Quá nhiều lượt tải lên hoặc xoá: thử lại sau" in statuses[-1]
        assert "Quá nhiều lượt" in _click(url, client, "hdyt-upload-btn", [[], ADMIN])
        assert "Chọn một tài liệu để xoá" in _click(url, client, "hdyt-delete-btn", [None, ADMIN])  # asking writes nothing
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.13"), timeout=60) as other:
        assert "Chọn một tài liệu để xoá" in _click(url, other, "hdyt-delete-confirm", [None, ADMIN])


# -- the schema -------------------------------------------------------------------------------------


def test_openapi_matches_the_server(api_server, admin_server):
    spec = httpx.get(api_server.url + "/openapi.json", timeout=30).json()
    ask = spec["paths"]["/api/ask"]["post"]
    assert {} in ask["security"]  # the key is optional on a server without one
    assert "401" not in ask["responses"]
    question = spec["components"]["schemas"]["AskRequest"]["properties"]["question"]
    assert question["minLength"] == 1 and question["maxLength"] == api_server.settings.max_question_chars
    keyed = httpx.get(admin_server.url + "/openapi.json", timeout=30).json()["paths"]["/api/ask"]["post"]
    assert {} not in keyed["security"] and "401" in keyed["responses"]


def test_schemathesis_all_checks(api_server, tmp_path):
    """A bounded schemathesis run (every check, few examples, a time budget) against the live app."""
    st = Path(sys.executable).with_name("st")
    config = tmp_path / "schemathesis.toml"
    # the question is validated beyond its JSON schema (no control or format-only text, NFC length): a
    # 422 with a documented error body is an acceptable answer to schema-valid input; a body over
    # max_request_bytes is refused with 413 (a total size no JSON schema can state). /v1 answers a
    # schema-valid conversation it cannot take (the last message not the user's, an empty question)
    # with OpenAI's 400, as OpenAI does
    config.write_text(
        '[checks.positive_data_acceptance]\nexpected-statuses = ["2xx", "422"]\n'
        '[checks.negative_data_rejection]\n'
        'expected-statuses = ["400", "401", "403", "404", "405", "406", "413", "415", "422", "429"]\n'
        '[[operations]]\ninclude-path = "/v1/chat/completions"\n'
        'checks.positive_data_acceptance.expected-statuses = ["2xx", "400"]\n',
        encoding="utf-8",
    )
    out = subprocess.run(
        [str(st), "--config-file", str(config), "run", api_server.url + "/openapi.json", "--checks", "all",
         "--max-examples", "10", "--max-time", "60", "--seed", "1", "--workers", "1", "--no-color"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    print(out.stdout[-4000:])
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
    spec = httpx.get(api_server.url + "/openapi.json", timeout=30).json()
    assert f"Selected: {len(spec['paths'])}/{len(spec['paths'])}" in out.stdout  # every route of the schema
    assert {"/api/ask", "/api/health", "/api/feedback", "/v1/chat/completions", "/v1/models"} <= set(spec["paths"])


def test_feedback_refuses_what_its_schema_refuses(api_server):
    """Found by schemathesis: an id past SQLite's INTEGER was a 500; a boolean was taken for an id."""
    item = {"rating": "up", "question": "Câu hỏi?", "comment": "ghi chú"}
    for bad in ({"id": 2**70}, {"id": True}, {"id": 0}, {"abstained": 1}):
        r = httpx.post(api_server.url + "/api/feedback", json={**item, **bad}, timeout=10)
        assert r.status_code == 422 and error_of(r)["code"] == "invalid_request", (bad, r.text)
    r = httpx.post(api_server.url + "/api/feedback", content=b"{not json", headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 400 and error_of(r)["code"] == "invalid_json"
    spec = httpx.get(api_server.url + "/openapi.json", timeout=30).json()
    assert {"200", "400", "413", "422"} <= set(spec["paths"]["/api/feedback"]["post"]["responses"])


# -- following the index ----------------------------------------------------------------------------


@pytest.fixture
def own_index(corpus_settings, tmp_path):
    """A private copy of the corpus index (this test writes to it)."""
    index = tmp_path / "index"
    shutil.copytree(corpus_settings.index_dir, index)
    return index


def _documents(url: str) -> int:
    return httpx.get(url + "/api/health", timeout=30).json()["documents"]


def test_app_follows_a_generation_written_by_another_process(web_server, own_index, tmp_path):
    server = web_server(ui=False, index_dir=own_index, uploads_dir=tmp_path / "uploads")
    before = _documents(server.url)
    report = tmp_path / "bao_cao_moi.txt"
    report.write_text("Trạm Y tế Thử Nghiệm báo cáo năm 2024\nTrạm đã tiêm chủng cho 4.321 trẻ em.", encoding="utf-8")
    out = run_cli("ingest", str(report), "--index", str(own_index), "--no-progress")
    assert out.returncode == 0, out.stderr
    deadline = time.monotonic() + 20
    while _documents(server.url) != before + 1:
        assert time.monotonic() < deadline, "the app did not pick up the new generation"
        time.sleep(0.3)
    hits = server.assistant.search("Trạm Y tế Thử Nghiệm tiêm chủng trẻ em", 3).hits  # the server's own Assistant
    assert hits[0].chunk.doc_id == "bao_cao_moi"


def test_start_up_removes_leftovers_of_interrupted_writes(own_index, corpus_settings, tmp_path):
    from rag.service import Assistant
    from rag.web import create_app

    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (own_index / ".tmp-gen-killed").mkdir()
    (own_index / ".tmp-gen-killed" / "vectors.npy").write_bytes(b"half")
    (uploads / "never_indexed.txt").write_text("tải lên dở dang", encoding="utf-8")
    (uploads / ".old.txt.bak-1234abcd").write_text("bản sao lưu", encoding="utf-8")
    settings = corpus_settings.model_copy(update={"index_dir": own_index, "uploads_dir": uploads})
    create_app(settings, Assistant(settings), ui=False)
    assert not (own_index / ".tmp-gen-killed").exists()
    assert list(uploads.iterdir()) == []
    assert (own_index / "CURRENT").is_file()  # the live index untouched


# -- the limiter and the throttle (units) -----------------------------------------------------------


def test_rate_limiter_never_sweeps_on_the_request_path():
    from rag.web.security import SlidingWindowLimiter

    limiter = SlidingWindowLimiter(limit=2, window=60)
    for i in range(20_000):
        assert limiter.hit(f"10.0.{i // 250}.{i % 250}", now=0.0) is None
    assert len(limiter) == 20_000  # nothing dropped inline, however many clients
    assert limiter.hit("a", now=1.0) is None and limiter.hit("a", now=2.0) is None
    assert limiter.hit("a", now=3.0) == pytest.approx(58.0)  # until the hit at 1.0 leaves the window
    limiter.prune(now=61.5)  # the background sweep
    assert len(limiter) == 1  # only "a" hit within the last window


def test_failure_throttle():
    from rag.web.security import FailureThrottle

    throttle = FailureThrottle(limit=3, window=100)
    for t in (0, 1, 2):
        assert throttle.retry_after("c", now=t) is None
        throttle.fail("c", now=t)
    assert throttle.retry_after("c", now=3) == pytest.approx(97)
    assert throttle.retry_after("other", now=3) is None
    assert throttle.retry_after("c", now=100.5) is None  # the first failure has aged out
