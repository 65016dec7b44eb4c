"""Filters through the real JSON API (uvicorn, a real index): /api/ask and /api/search fields, their
validation, /api/documents with the legacy-encoding flag, the OpenAPI schema and the API key."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from tests.ingest.test_legacy import SAMPLE, legacy_bytes
from tests.retrieval.test_filters import QUESTION, build_yearly

ASK = "Các cơ sở y tế khám bệnh cho bao nhiêu lượt người?"


@pytest.fixture(scope="module")
def server(tmp_path_factory, embeddings, web_server):
    def legacy(folder):
        (folder / "cu_tcvn3.txt").write_bytes(legacy_bytes(SAMPLE, "tcvn3"))

    settings, _ = build_yearly(tmp_path_factory.mktemp("api-yearly"), embeddings, legacy)
    return web_server(ui=False, index_dir=settings.index_dir, chunk_chars=160, overlap_chars=0, rate_limit_per_minute=100_000)


def call(server, path: str, payload: dict, **kw) -> httpx.Response:
    return httpx.post(server.url + path, json=payload, timeout=60, **kw)


def test_search_with_a_date_range(server):
    r = call(server, "/api/search", {"query": QUESTION, "k": 5, "date_to": "2022-12-31"})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == 5 and {x["doc_id"] for x in results} <= {"bc_2021", "bc_2022"}
    assert set(results[0]) == {"rank", "doc_id", "title", "text", "start", "end", "score"}
    free = call(server, "/api/search", {"query": QUESTION}).json()["results"]
    assert {x["doc_id"] for x in free} - {"bc_2021", "bc_2022"}  # unfiltered, other years come first


def test_ask_with_documents_cites_only_them(server):
    r = call(server, "/api/ask", {"question": ASK, "documents": ["Báo cáo tổng kết công tác y tế năm 2023"]})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["citations"] and {c["doc_id"] for c in data["citations"]} == {"bc_2023"}
    assert "1.336.000" in data["answer"] and set(data["documents"]) == {"bc_2023"}
    both = call(server, "/api/ask", {"question": ASK, "documents": ["bc_2023", "sk_2024.txt"], "date_from": "2024-01-01"}).json()
    assert {c["doc_id"] for c in both["citations"]} == {"sk_2024"}
    nothing = call(server, "/api/ask", {"question": ASK, "date_from": "2030-01-01"}).json()
    assert nothing["abstained"] is True and nothing["citations"] == []


@pytest.mark.parametrize(
    ("payload", "code", "part"),
    [
        ({"documents": ["bc_1999"]}, "invalid_filter", "no such document in the library: 'bc_1999'"),
        ({"date_from": "2024-02-30"}, "invalid_filter", "from must be a date YYYY-MM-DD"),
        ({"date_from": "2024-05-01", "date_to": "2024-01-01"}, "invalid_filter", "from is after to"),
        ({"date_to": "31/12/2024"}, "invalid_request", "date_to"),
        ({"documents": "bc_2022"}, "invalid_request", "documents"),
        ({"documents": [""]}, "invalid_request", "documents"),
    ],
)
@pytest.mark.parametrize("path", ["/api/ask", "/api/search"])
def test_bad_filters_are_clear_422s(server, path, payload, code, part):
    body = {"question" if path == "/api/ask" else "query": QUESTION, **payload}
    r = call(server, path, body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == code and part in error["message"]


def test_documents_lists_dates_and_flags(server):
    r = httpx.get(server.url + "/api/documents", timeout=30)
    assert r.status_code == 200, r.text
    rows = {d["doc_id"]: d for d in r.json()["documents"]}
    assert set(rows) == {"bc_2021", "bc_2022", "bc_2023", "sk_2024", "khong_ngay", "cu_tcvn3"}
    assert rows["cu_tcvn3"]["legacy_encoding"] == "tcvn3" and rows["bc_2022"]["legacy_encoding"] is None
    assert rows["sk_2024"]["dates"][0] == "2024-06" and rows["khong_ngay"]["dates"] == []
    assert all(d["ocr_pages"] == 0 for d in rows.values())


def test_openapi_documents_the_filters(server):
    spec = httpx.get(server.url + "/openapi.json", timeout=30).json()
    schemas = spec["components"]["schemas"]
    for name in ("AskRequest", "SearchRequest"):
        props = schemas[name]["properties"]
        assert {"documents", "date_from", "date_to"} <= set(props)
        assert "YYYY-MM-DD" in props["date_from"]["description"]
    assert {"/api/search", "/api/documents"} <= set(spec["paths"])
    assert "422" in spec["paths"]["/api/search"]["post"]["responses"]
    assert {} in spec["paths"]["/api/search"]["post"]["security"]  # no key set on this server
    assert schemas["SearchRequest"]["properties"]["query"]["maxLength"] == server.settings.max_question_chars


def test_search_and_documents_need_the_api_key_when_set(server, web_server):
    keyed = web_server(ui=False, index_dir=server.settings.index_dir, api_key=SecretStr("k-123"))
    assert call(keyed, "/api/search", {"query": QUESTION}).status_code == 401
    assert httpx.get(keyed.url + "/api/documents", timeout=30).status_code == 401
    ok = call(keyed, "/api/search", {"query": QUESTION, "documents": ["bc_2022"]}, headers={"X-API-Key": "k-123"})
    assert ok.status_code == 200 and {x["doc_id"] for x in ok.json()["results"]} == {"bc_2022"}
    assert httpx.get(keyed.url + "/api/documents", headers={"X-API-Key": "k-123"}, timeout=30).status_code == 200
