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

pytestmark = pytest.mark.slow  # spawns the server process (model and index loaded)

DIRECTOR_Q = "Giám đốc Bệnh viện Bãi Cháy là ai?"
SEARCH_Q = "Bệnh viện Bãi Cháy khám bao nhiêu lượt người?"
BAI_CHAY = "001_74a51137ac984768"


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
    assert set(tools["search_reports"].input_schema["properties"]) == {"query", "k"}
    assert set(tools["ask_reports"].input_schema["properties"]) == {"question", "history"}

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
