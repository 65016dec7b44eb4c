"""An MCP server (the official ``mcp`` SDK) over :class:`rag.service.Assistant`: the reports as tools for agents.

Tools: ``search_reports(query, k)`` → the ``python -m rag search --json`` shape, ``ask_reports(question,
history)`` → the ``ask --json`` shape; both take the API's filter fields (``documents``, ``date_from``,
``date_to``: :class:`rag.retrieval.filters.SearchFilter`), a bad one is a tool error that says why.
Resource ``reports://documents`` → the ``docs --json`` shape (the names ``documents`` accepts).
Two transports: stdio (``python -m rag mcp``, what desktop clients spawn) and streamable HTTP at
``/mcp`` inside the web app (:func:`mount_mcp`), behind the same API key and rate limit as ``/api/ask``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import Field
from starlette.types import ASGIApp, Receive, Scope, Send

from rag.config import Settings
from rag.errors import RagError
from rag.retrieval.filters import MAX_DOCUMENTS, SearchFilter
from rag.service import Assistant
from rag.web.api import request_key_ok

# the filter fields of /api/ask and /api/search (rag.web.filter_fields), checked by SearchFilter.parse
Documents = Annotated[
    list[str] | None, Field(description=f"Only these reports: doc ids, file names or titles (see reports://documents), at most {MAX_DOCUMENTS}")
]
DateFrom = Annotated[str | None, Field(description="Only reports dated on or after this day (YYYY-MM-DD)")]
DateTo = Annotated[str | None, Field(description="Only reports dated on or before this day (YYYY-MM-DD)")]

DOCUMENTS_URI = "reports://documents"
MCP_PATH = "/mcp"
MAX_K = 50
INSTRUCTIONS = (
    "Vietnamese health-department reports. search_reports returns ranked passages with exact offsets; "
    "ask_reports returns an extractive answer with [n] markers into its citations, or abstained=true "
    "('không tìm thấy') when the reports do not say. Quote figures exactly as given."
)


def build_server(assistant: Assistant) -> MCPServer:
    """The MCP server: two tools and the document list, each a thin call into ``assistant``."""
    server = MCPServer(
        "hoi-dap-y-te", title="Hỏi Đáp Y Tế", instructions=INSTRUCTIONS, version="0.1.0", log_level="WARNING"
    )

    @server.tool()
    def search_reports(
        query: str, k: int = 5, documents: Documents = None, date_from: DateFrom = None, date_to: DateTo = None
    ) -> dict[str, Any]:
        """Ranked passages of the reports for a query (Vietnamese with or without accents, or English).

        Each result: rank, doc_id, title, the exact passage text, its start/end offsets in the
        document, and the fused score. k: how many passages (1-50). documents, date_from, date_to:
        search only these reports, or those dated in the range.
        """
        if not 1 <= k <= MAX_K:
            raise ToolError(f"k must be between 1 and {MAX_K}")
        return _tool_call(lambda: assistant.search_json(query, k, search_filter=SearchFilter.parse(documents, date_from, date_to)))

    @server.tool()
    def ask_reports(
        question: str,
        history: list[list[str]] | None = None,
        documents: Documents = None,
        date_from: DateFrom = None,
        date_to: DateTo = None,
    ) -> dict[str, Any]:
        """A grounded answer from the reports with [n] markers into its citations.

        history: earlier turns, oldest first, each a [question, answer] pair (for follow-ups such as
        "còn năm 2022 thì sao?"). documents, date_from, date_to: answer only from these reports, or
        those dated in the range. Returns answer, abstained (true = the reports do not say),
        rewritten_query, citations (n, doc_id, title, text, start, end, quote, quote_start, quote_end,
        score) and latency_ms.
        """
        return _tool_call(
            lambda: assistant.ask(
                question, history or [], search_filter=SearchFilter.parse(documents, date_from, date_to)
            ).to_json_dict()
        )

    @server.resource(DOCUMENTS_URI, name="documents", title="Indexed reports", mime_type="application/json")
    def documents() -> dict[str, Any]:
        """The indexed reports: doc_id, title, chunk count, dates found, source file."""
        return assistant.documents_json()

    return server


def _tool_call(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``call()``; the assistant's refusal (a bad question, an impossible filter, an unknown document) as a
    tool error with its own message for the model, not "Error executing tool"."""
    try:
        return call()
    except RagError as exc:
        raise ToolError(str(exc)) from None


def run_stdio(assistant: Assistant) -> None:
    """Serve over stdin/stdout until the client closes them (stdout carries only protocol messages)."""
    build_server(assistant).run("stdio")


class _KeyAndRateGuard:
    """The ``/api/ask`` guards in front of the MCP endpoint: API key (Bearer or X-API-Key), then rate limit on POSTs."""

    def __init__(self, app: ASGIApp, settings: Settings, limiter: Any) -> None:
        self.app, self.settings, self.limiter = app, settings, limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if not request_key_ok(self.settings, headers):
            body = {"error": {"code": "unauthorized", "message": "Thiếu hoặc sai khóa API / missing or wrong API key"}}
            await JSONResponse(body, 401, {"WWW-Authenticate": "Bearer"})(scope, receive, send)
            return
        if scope.get("method") == "POST":
            retry = self.limiter.hit((scope.get("client") or ("unknown", 0))[0])
            if retry is not None:
                seconds = max(1, math.ceil(retry))
                body = {"error": {"code": "rate_limited", "message": f"Quá nhiều yêu cầu, thử lại sau {seconds} giây"}}
                await JSONResponse(body, 429, {"Retry-After": str(seconds)})(scope, receive, send)
                return
        await self.app(scope, receive, send)


def mount_mcp(app: FastAPI, assistant: Assistant, settings: Settings) -> None:
    """Streamable HTTP at ``/mcp`` in ``app`` (after ``add_api``: it shares its limiter; before the UI at ``/``).

    The SDK's Starlette app is not mounted as a sub-application (a ``Mount("/mcp")`` would not match
    ``/mcp`` itself, which then falls through to the UI): its ``/mcp`` route is added to ``app``, and its
    session manager runs inside ``app``'s lifespan.
    """
    server = build_server(assistant)
    local = settings.host in ("127.0.0.1", "localhost", "::1")
    # the SDK's DNS-rebinding protection only knows local host names; a public deployment sets its own host
    security = None if local else TransportSecuritySettings(enable_dns_rebinding_protection=False)
    sub = server.streamable_http_app(streamable_http_path=MCP_PATH, stateless_http=True, transport_security=security,
                                     host=settings.host)
    for route in sub.routes:
        app.router.routes.append(_guarded(route, settings, app.state.limiter))
    outer = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with outer(a) as state, server.session_manager.run():
            yield state

    app.router.lifespan_context = lifespan


def _guarded(route: Any, settings: Settings, limiter: Any) -> Any:
    route.app = _KeyAndRateGuard(route.app, settings, limiter)
    return route
