"""The MCP server with the SDK's own client: ``python -m rag mcp`` over stdio, and streamable HTTP at ``/mcp`` in the app.

What the tools return is compared with the CLI's ``search --json`` / ``ask --json`` / ``docs --json``
on the same index.
"""

from __future__ import annotations

import json
import os
import sys

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters
from pydantic import SecretStr

from tests.helpers import ROOT, run_cli
from tests.retrieval.test_filters import QUESTION as YEAR_Q, build_yearly

pytestmark = pytest.mark.slow  # spawns the server process (model and index loaded)

DIRECTOR_Q = "Giám đốc Bệnh viện Bãi Cháy là ai?"
SEARCH_Q = "Bệnh viện Bãi Cháy khám bao nhiêu lượt người?"
BAI_CHAY = "001_74a51137ac984768"
ASK_VISITS = "Các cơ sở y tế khám bệnh cho bao nhiêu lượt người?"
BAD_FILTERS = [  # the words of SearchFilter's message; the API's 422 code (its schema refuses a date not YYYY-MM-DD)
    ({"documents": ["bc_1999"]}, "no such document in the library: 'bc_1999'", "invalid_filter"),
    ({"date_from": "2024-02-30"}, "from must be a date YYYY-MM-DD", "invalid_filter"),
    ({"date_to": "31/12/2024"}, "to must be a date YYYY-MM-DD", "invalid_request"),
    ({"date_from": "2024-05-01", "date_to": "2024-01-01"}, "from is after to", "invalid_filter"),
]


def stdio_server(index_dir) -> StdioServerParameters:
    env = {**os.environ, "HDYT_INDEX_DIR": str(index_dir), "HF_HUB_OFFLINE": "1"}
    return StdioServerParameters(command=sys.executable, args=["-m", "rag", "mcp"], env=env, cwd=str(ROOT))


def cli_json(index_dir, *args: str) -> dict:
    result = run_cli(*args, "--json", HDYT_INDEX_DIR=str(index_dir))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


async def _session(server, calls):
    """Open one client session and run ``calls(client)``; its return value is returned."""
    async with Client(server, read_timeout_seconds=120) as client:
        return await calls(client)


def test_stdio_tools_return_the_cli_json(corpus_settings):
    index = corpus_settings.index_dir

    async def calls(client):
        tools = {t.name: t for t in (await client.list_tools()).tools}
        search = await client.call_tool("search_reports", {"query": SEARCH_Q, "k": 3})
        ask = await client.call_tool("ask_reports", {"question": DIRECTOR_Q})
        follow = await client.call_tool(
            "ask_reports",
            {"question": "Còn số ca phẫu thuật của bệnh viện đó thì sao?", "history": [[DIRECTOR_Q, ask.structured_content["answer"]]]},
        )
        empty = await client.call_tool("ask_reports", {"question": "   "})
        bad_k = await client.call_tool("search_reports", {"query": SEARCH_Q, "k": 0})
        resources = (await client.list_resources()).resources
        docs = await client.read_resource("reports://documents")
        return tools, search, ask, follow, empty, bad_k, resources, docs

    tools, search, ask, follow, empty, bad_k, resources, docs = anyio.run(_session, stdio_server(index), calls)

    assert set(tools) == {"search_reports", "ask_reports"}
    filters = {"documents", "date_from", "date_to"}
    assert set(tools["search_reports"].input_schema["properties"]) == {"query", "k", *filters}
    assert set(tools["ask_reports"].input_schema["properties"]) == {"question", "history", *filters}
    assert all(not set(t.input_schema["required"]) & filters for t in tools.values())  # optional

    assert not search.is_error
    assert search.structured_content == cli_json(index, "search", SEARCH_Q, "--k", "3")
    assert len(search.structured_content["results"]) == 3
    assert json.loads(search.content[0].text) == search.structured_content  # text for clients without structured output

    expected = cli_json(index, "ask", DIRECTOR_Q)
    got = ask.structured_content
    assert set(got) == set(expected)
    assert {k: v for k, v in got.items() if k != "latency_ms"} == {k: v for k, v in expected.items() if k != "latency_ms"}
    assert "Lê Ngọc Dũng" in got["answer"] and got["citations"][0]["doc_id"] == BAI_CHAY

    assert "Bãi Cháy" in follow.structured_content["rewritten_query"]

    assert empty.is_error and "trống" in empty.content[0].text  # the assistant's own message, not "Error executing tool"
    assert bad_k.is_error and "between 1 and 50" in bad_k.content[0].text

    assert [str(r.uri) for r in resources] == ["reports://documents"]
    assert json.loads(docs.contents[0].text) == cli_json(index, "docs")


def test_stdio_without_an_index_is_a_clear_error_before_the_handshake(tmp_path):
    result = run_cli("mcp", HDYT_INDEX_DIR=str(tmp_path / "missing"))
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and result.stdout == ""


def test_streamable_http_in_the_app(api_server):
    async def calls(client):
        tools = sorted(t.name for t in (await client.list_tools()).tools)
        ask = await client.call_tool("ask_reports", {"question": DIRECTOR_Q})
        return tools, ask

    tools, ask = anyio.run(_session, api_server.url + "/mcp", calls)
    assert tools == ["ask_reports", "search_reports"]
    assert "Lê Ngọc Dũng" in ask.structured_content["answer"]
    # the UI mounted at "/" does not swallow /mcp: a browser-like request gets the MCP transport's refusal, not a page
    r = httpx.post(api_server.url + "/mcp", json={}, headers={"Accept": "text/html"})
    assert r.status_code == 406 and "text/html" not in r.headers.get("content-type", ""), (r.status_code, r.text[:200])


def test_streamable_http_needs_the_api_key_when_one_is_set(web_server):
    server = web_server(ui=False, api_key=SecretStr("mcp-key"), rate_limit_per_minute=100_000)
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    headers = {"Accept": "application/json, text/event-stream"}
    r = httpx.post(server.url + "/mcp", json=init, headers=headers)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    r = httpx.post(server.url + "/mcp", json=init, headers={**headers, "Authorization": "Bearer wrong"})
    assert r.status_code == 401
    for auth in ({"Authorization": "Bearer mcp-key"}, {"X-API-Key": "mcp-key"}):
        r = httpx.post(server.url + "/mcp", json=init, headers={**headers, **auth})
        assert r.status_code == 200, r.text
        assert '"serverInfo"' in r.text and "hoi-dap-y-te" in r.text


@pytest.fixture(scope="module")
def yearly_server(tmp_path_factory, embeddings, web_server):
    """The app over the yearly reports (bc_2021…bc_2023, sk_2024 dated 2024-06, khong_ngay undated)."""
    settings, _ = build_yearly(tmp_path_factory.mktemp("mcp-yearly"), embeddings)
    return web_server(ui=False, index_dir=settings.index_dir, chunk_chars=160, overlap_chars=0, rate_limit_per_minute=100_000)


def api(server, path: str, payload: dict) -> httpx.Response:
    return httpx.post(server.url + path, json=payload, timeout=60)


def test_tools_take_the_api_filters(yearly_server):
    """documents / date_from / date_to restrict what the tools search and cite, as on /api/search and /api/ask."""
    dated_args = {"query": YEAR_Q, "k": 5, "date_to": "2022-12-31"}
    chosen_args = {"question": ASK_VISITS, "documents": ["Báo cáo tổng kết công tác y tế năm 2023"]}
    both_args = {"question": ASK_VISITS, "documents": ["bc_2023", "sk_2024.txt"], "date_from": "2024-01-01"}

    async def calls(client):
        free = await client.call_tool("search_reports", {"query": YEAR_Q, "k": 5})
        dated = await client.call_tool("search_reports", dated_args)
        chosen = await client.call_tool("ask_reports", chosen_args)
        both = await client.call_tool("ask_reports", both_args)
        later = await client.call_tool("ask_reports", {"question": ASK_VISITS, "date_from": "2030-01-01"})
        return free, dated, chosen, both, later

    free, dated, chosen, both, later = anyio.run(_session, yearly_server.url + "/mcp", calls)
    assert not any(r.is_error for r in (free, dated, chosen, both, later))
    assert {x["doc_id"] for x in free.structured_content["results"]} - {"bc_2021", "bc_2022"}  # other years unfiltered
    results = dated.structured_content["results"]
    assert len(results) == 5 and {x["doc_id"] for x in results} <= {"bc_2021", "bc_2022"}
    assert dated.structured_content == api(yearly_server, "/api/search", dated_args).json()  # the API's answer
    answer = chosen.structured_content
    assert answer["citations"] and {c["doc_id"] for c in answer["citations"]} == {"bc_2023"} and "1.336.000" in answer["answer"]
    assert {c["doc_id"] for c in both.structured_content["citations"]} == {"sk_2024"}
    assert api(yearly_server, "/api/ask", both_args).json()["answer"] == both.structured_content["answer"]
    assert later.structured_content["abstained"] is True and later.structured_content["citations"] == []


def test_a_bad_filter_is_a_tool_error_that_says_why(yearly_server):
    async def calls(client):
        out = []
        for fields, _, _ in BAD_FILTERS:
            out.append(await client.call_tool("search_reports", {"query": YEAR_Q, **fields}))
            out.append(await client.call_tool("ask_reports", {"question": ASK_VISITS, **fields}))
        return out

    replies = anyio.run(_session, yearly_server.url + "/mcp", calls)
    for (fields, words, code), search, ask in zip(BAD_FILTERS, replies[::2], replies[1::2], strict=True):
        for reply in (search, ask):
            assert reply.is_error and words in reply.content[0].text, (fields, reply.content[0].text)
        r = api(yearly_server, "/api/search", {"query": YEAR_Q, **fields})
        assert r.status_code == 422 and r.json()["error"]["code"] == code, r.text
        if code == "invalid_filter":
            assert r.json()["error"]["message"] in search.content[0].text  # the same message as the API's
