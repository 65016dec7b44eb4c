"""What the API promises for the UI: ``related`` and document dates in /api/ask, version and generation in
/api/health, examples in /docs, the document view, feedback stored and exported (real server, real index)."""

from __future__ import annotations

import re

import httpx

from eval.gold import GoldItem
from rag.web.feedback import FeedbackStore, export_gold, feedback_path

DIRECTOR_Q = "Giám đốc Bệnh viện Bãi Cháy là ai?"
UNANSWERABLE = "Bệnh viện Đa khoa tỉnh Nghệ An có bao nhiêu giường bệnh năm 2023?"


def post(url: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(url + path, json=body, timeout=60)


def test_not_found_returns_related_passages_with_dates(api_server):
    data = post(api_server.url, "/api/ask", {"question": UNANSWERABLE}).json()
    assert data["abstained"] is True and data["citations"] == []
    assert data["related"], "the widget shows related passages on 'không tìm thấy'"
    for c in data["related"]:
        assert c["doc_id"] in data["documents"] and c["text"]
    cited = post(api_server.url, "/api/ask", {"question": DIRECTOR_Q}).json()
    doc = cited["citations"][0]["doc_id"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", cited["documents"][doc]["date"])
    assert cited["documents"][doc]["source_name"].endswith(".txt")


def test_greeting_gets_help_with_examples(api_server):
    for q in ("xin chào", "Bạn làm được gì?"):
        data = post(api_server.url, "/api/ask", {"question": q}).json()
        assert data["abstained"] is False and data["citations"] == [] and data["related"] == []
        assert "Giám đốc Bệnh viện Bãi Cháy là ai?" in data["answer"], q
    real = post(api_server.url, "/api/ask", {"question": "xin chào, giám đốc bệnh viện Bãi Cháy là ai?"}).json()
    assert "Bạn có thể hỏi" not in real["answer"], "a greeting followed by a question is a question"


def test_health_has_version_and_generation_time(api_server):
    h = httpx.get(api_server.url + "/api/health", timeout=30).json()
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", h["version"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00", h["generation_built_at"])


def test_docs_and_schema_show_related_history_and_feedback(api_server):
    page = httpx.get(api_server.url + "/docs", timeout=30).text
    assert '"history": [[' in page and "related" in page and "/api/feedback" in page
    schema = httpx.get(api_server.url + "/openapi.json", timeout=30).json()
    assert "/api/feedback" in schema["paths"]
    assert "related" in schema["components"]["schemas"]["AskResponse"]["properties"]


def test_document_view_escapes_and_marks_the_quote(api_server):
    c = post(api_server.url, "/api/ask", {"question": DIRECTOR_Q}).json()["citations"][0]
    r = httpx.get(
        f"{api_server.url}/doc/{c['doc_id']}",
        params={"start": c["start"], "end": c["end"], "qs": c["quote_start"], "qe": c["quote_end"]},
        timeout=30,
    )
    assert r.status_code == 200 and 'lang="vi"' in r.text
    marked = re.search(r'<mark class="quote" id="quote">(.*?)</mark>', r.text, re.DOTALL)
    assert marked and "Lê Ngọc Dũng" in marked.group(1)
    assert re.search(r'<span class="passage" id="passage">.*<mark', r.text, re.DOTALL)
    missing = httpx.get(f"{api_server.url}/doc/khong_co", timeout=30)
    assert missing.status_code == 404 and "Không tìm thấy tài liệu" in missing.text


def test_feedback_stored_and_exported_in_gold_format(api_server):
    cited = post(api_server.url, "/api/ask", {"question": DIRECTOR_Q}).json()
    body = {
        "rating": "down",
        "question": DIRECTOR_Q,
        "answer": cited["answer"],
        "citations": [{k: c[k] for k in ("n", "doc_id", "title", "quote", "start", "end")} for c in cited["citations"]],
        "origin": "widget",
    }
    r = post(api_server.url, "/api/feedback", body)
    assert r.status_code == 200, r.text
    fid = r.json()["id"]
    assert post(api_server.url, "/api/feedback", {**body, "id": fid, "comment": "Cần ghi học hàm"}).json()["id"] == fid
    bad = post(api_server.url, "/api/feedback", {**body, "rating": "meh"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
    store = FeedbackStore(feedback_path(api_server.settings))
    row = [r for r in store.rows("down") if r["id"] == fid][0]
    assert row["comment"] == "Cần ghi học hàm" and row["citations"][0]["doc_id"] == cited["citations"][0]["doc_id"]
    lines = export_gold(store)
    item = GoldItem.model_validate_json(lines[[i for i, r in enumerate(store.rows("down")) if r["id"] == fid][0]])
    assert item.question == DIRECTOR_Q and item.answer == "Cần ghi học hàm" and item.docs == [row["citations"][0]["doc_id"]]
    assert "Lê Ngọc Dũng" in item.evidences[0]
