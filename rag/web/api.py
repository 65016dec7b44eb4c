"""JSON API: ``POST /api/ask``, ``GET /api/health``, the embeddable widget, and the guards around them
(``/api/search``, ``/api/documents``: :mod:`rag.web.search_api`; filters: :mod:`rag.web.filter_fields`).

Every error is ``{"error": {"code", "message"}}`` with a 4xx/5xx status:

====  ==========================  =====================================================
400   ``invalid_json``            the body is not valid JSON
401   ``unauthorized``            ``X-API-Key`` missing or wrong (when an API key is set)
404   ``not_found``               no such ``/api/*`` route
405   ``method_not_allowed``      a route of this app with another method (``Allow`` set)
413   ``request_too_large``       body over ``settings.max_request_bytes``
422   ``invalid_request``         wrong shape (missing question, history not [q, a] pairs…)
422   ``empty_question``          blank, or only invisible format characters (zero-width spaces…)
422   ``question_too_long``       over ``settings.max_question_chars`` (counted after NFC)
422   ``invalid_question``        control characters, lone surrogates, non-characters, or refused
                                  by the assistant (:class:`rag.errors.QueryError`)
422   ``invalid_filter``          an impossible date, an empty date range, an unknown document
429   ``rate_limited``            over ``settings.rate_limit_per_minute`` (``Retry-After`` set)
429   ``too_many_failures``       too many wrong API keys from this client (``Retry-After`` set)
503   ``index_unavailable``       no usable index
====  ==========================  =====================================================

With an LLM configured, ``wait_for_llm=false`` answers with the extractive answer and an ``answer_id``;
the same request with ``wait_for_llm=true`` and that id gets the LLM's answer without searching again
(:mod:`rag.web.pending`).

Routes, methods, the size limit, API key (with its failure throttle) and rate limit (:data:`KEYED`) are checked by
:class:`ApiGuard`, an ASGI middleware, in that order and *before* the body is parsed, so an
unauthenticated client learns nothing else. Uploads, security headers: :mod:`rag.web.security`.
"""

from __future__ import annotations

import hmac
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from rag.config import Settings
from rag.errors import IndexStoreError, QueryError, RagError
from rag.query.validate import MAX_HISTORY_MESSAGE_CHARS, QuestionError, validate_history, validate_question
from rag.retrieval.filters import FilterError, SearchFilter
from rag.web.filter_fields import FilterFields, filter_error
from rag.web.pending import PendingAnswers
from rag.web.models import (
    AskRequest,
    AdminSessionRequest,
    AskResponse,
    HealthResponse,
    ERROR_RESPONSES,
    errors,
)
from rag.web.security import LOGIN_FAILURES, FailureThrottle, SlidingWindowLimiter, client_of, login_response, start_pruning, throttled_response

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
API_KEY_HEADER = "X-API-Key"
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
KEYED = {("POST", "/api/ask"), ("POST", "/api/search"), ("GET", "/api/documents")}  # API key and rate limit


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# -- guards -----------------------------------------------------------------------------------------


def api_key_ok(settings: Settings, given: str) -> bool:
    """Whether ``given`` is the server's API key (always true when none is set); constant-time compare."""
    key = settings.api_key.get_secret_value() if settings.api_key else ""
    return not key or hmac.compare_digest(given.encode(), key.encode())


def request_key_ok(settings: Settings, headers: Mapping[str, str]) -> bool:
    """Whether lower-cased request ``headers`` carry the API key as ``X-API-Key`` or ``Authorization: Bearer``
    (the OpenAI-compatible and MCP endpoints accept both; clients such as the openai SDK only send the latter)."""
    auth = headers.get("authorization", "")
    bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    given = [k for k in (headers.get(API_KEY_HEADER.lower(), ""), bearer) if k]
    return api_key_ok(settings, "") or any(api_key_ok(settings, k) for k in given)


class ApiGuard:
    """ASGI middleware for ``/api/*``: body size, then API key and rate limit on ``POST /api/ask``."""

    def __init__(
        self, app, settings: Settings, limiter: SlidingWindowLimiter, routes: FastAPI, throttle: FailureThrottle
    ) -> None:
        self.app = app
        self.settings = settings
        self.limiter = limiter
        self.routes = routes
        self.throttle = throttle

    def _match(self, scope) -> tuple[bool, set[str]]:
        """Whether one of the app's own routes (not the UI mounted at "/") takes this request, and
        the methods its path allows when only the method is wrong."""
        allowed: set[str] = set()
        for route in self.routes.router.routes:
            if isinstance(route, Mount):
                continue
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return True, set()
            if match == Match.PARTIAL:
                methods = getattr(route, "methods", None)
                if methods is None:  # an included router (feedback, documents): ask it which methods it takes
                    methods = {m for m in _METHODS if route.matches({**scope, "method": m})[0] == Match.FULL}
                allowed |= set(methods)
        return False, allowed

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        is_preflight = method == "OPTIONS" and "access-control-request-method" in headers
        matched, allowed = self._match(scope)
        if not matched and allowed and not is_preflight:
            # unknown methods on our routes would otherwise reach the UI mounted at "/" ({"detail": …})
            listed = ", ".join(sorted(allowed - {"HEAD"}))
            await error_response(
                405, "method_not_allowed", f"Phương thức {method} không được hỗ trợ / use {listed} for {path}", {"Allow": listed}
            )(scope, receive, send)
            return
        if not path.startswith("/api/") or is_preflight:
            await self.app(scope, receive, send)
            return
        if not matched:
            await error_response(404, "not_found", f"Không có {path} / no such API route")(scope, receive, send)
            return
        limit = self.settings.max_request_bytes
        too_large = error_response(
            413, "request_too_large", f"Yêu cầu quá lớn / request body exceeds {limit} bytes"
        )
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await error_response(400, "bad_request", "Invalid Content-Length header")(scope, receive, send)
                return
            if int(declared) > limit:
                await too_large(scope, receive, send)
                return
        # read the (small) body here, whatever the transfer encoding, and replay it to the app
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body.extend(message.get("body", b""))
            more = message.get("more_body", False)
            if len(body) > limit:
                await too_large(scope, receive, send)
                return

        if (scope["method"], scope["path"]) in KEYED:
            client = client_of(scope)
            if self.settings.api_key:
                given = headers.get(API_KEY_HEADER.lower(), "")
                wait = self.throttle.retry_after(client)
                if wait is not None:
                    await throttled_response(wait)(scope, receive, send)
                    return
                if not api_key_ok(self.settings, given):
                    if given:  # a missing key is a misconfigured client, a wrong one may be guessing
                        self.throttle.fail(client)
                    message = "Thiếu khóa API / missing X-API-Key header" if not given else "Sai khóa API / wrong X-API-Key"
                    await error_response(401, "unauthorized", message, {"WWW-Authenticate": "ApiKey"})(
                        scope, receive, send
                    )
                    return
            retry = self.limiter.hit(client)
            if retry is not None:
                seconds = max(1, math.ceil(retry))
                await error_response(
                    429,
                    "rate_limited",
                    f"Quá nhiều yêu cầu, thử lại sau {seconds} giây / rate limit of "
                    f"{self.limiter.limit} requests per minute exceeded",
                    {"Retry-After": str(seconds)},
                )(scope, receive, send)
                return

        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


# -- error handlers ---------------------------------------------------------------------------------


def _loc(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "invalid_json", "Nội dung không phải JSON hợp lệ / request body is not valid JSON")
    if any(e.get("type") == "missing" and tuple(e.get("loc", ())) == ("body",) for e in errors):
        return error_response(422, "invalid_request", 'Thiếu nội dung JSON / send a JSON object {"question": "..."}')
    messages = []
    for e in errors[:5]:
        where = _loc(e.get("loc", ()))
        if where.startswith("history"):
            messages.append(f"{where}: {e.get('msg')} (history is a list of [question, answer] pairs of strings)")
        else:
            messages.append(f"{where}: {e.get('msg')}")
    return error_response(422, "invalid_request", "Yêu cầu không hợp lệ / " + "; ".join(messages))


_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _STATUS_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message)


async def _query_error(request: Request, exc: QueryError) -> JSONResponse:
    return error_response(422, "invalid_question", str(exc))


async def _index_error(request: Request, exc: IndexStoreError) -> JSONResponse:
    return error_response(503, "index_unavailable", f"Chỉ mục chưa sẵn sàng / index unavailable: {exc}")


async def _rag_error(request: Request, exc: RagError) -> JSONResponse:
    return error_response(400, "bad_request", str(exc))


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s", request.url.path)
    return error_response(500, "internal_error", "Lỗi máy chủ / internal server error")


# -- response extras --------------------------------------------------------------------------------


def with_sources(answer, assistant) -> dict[str, Any]:
    """``Answer.to_json_dict()`` plus ``related`` (shown on "không tìm thấy") and each document's date and file."""
    data = answer.to_json_dict()
    data["related"] = [c.model_dump() for c in answer.related]
    ids = {c.doc_id for c in [*answer.citations, *answer.related]}
    entries = assistant.library().documents if ids else {}
    data["documents"] = {
        d: {"date": (list(entries[d].dates) or [None])[0], "source_name": Path(entries[d].source).name}
        for d in sorted(ids)
        if d in entries
    }
    return data


def _version_and_generation(app: FastAPI, assistant) -> dict[str, Any]:
    try:
        ver = version("hoi-dap-y-te")
    except PackageNotFoundError:  # a source checkout that was never installed
        ver = app.version
    built = getattr(assistant.library(), "built_at", None)
    when = datetime.fromtimestamp(built, timezone.utc).isoformat(timespec="seconds") if built else None
    return {"version": ver, "generation_built_at": when}


# -- routes -----------------------------------------------------------------------------------------

API_KEY_SCHEME = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="Required when the server sets HDYT_API_KEY")
KEYED_ERRORS = errors(400, 401, 413, 422, 429, 503)  # what a keyed POST route may answer besides 200


@dataclass(frozen=True)
class Checked:
    """A keyed route's request, ready for the assistant: the question (NFC), its history and its filter."""

    question: str
    history: list[list[str]]
    search_filter: SearchFilter | None


def checked(settings: Settings, question: str, fields: FilterFields, history: Sequence[Sequence[str]] = ()) -> Checked:
    """The shared front of ``/api/ask`` and ``/api/search`` once :class:`ApiGuard` let the request in (API key,
    rate limit): a 422 with the :class:`QuestionError`'s code for a bad question or history, and the filter
    fields parsed (an impossible one raises :class:`FilterError`, answered 422 ``invalid_filter``)."""
    try:
        text = validate_question(question, settings.max_question_chars)
        turns = validate_history([list(turn) for turn in history])
    except QuestionError as exc:
        raise ApiError(422, exc.code, str(exc)) from None
    return Checked(text, [list(turn) for turn in turns], fields.search_filter())


def keyed_post(app: FastAPI, path: str, response_model: type, summary: str) -> Callable[[Callable], Callable]:
    """The decorator of a POST route in :data:`KEYED` (behind the API key and rate limit): its documented errors."""
    if ("POST", path) not in KEYED:
        raise ValueError(f"{path} is not guarded: add it to KEYED")
    return app.post(path, response_model=response_model, responses=KEYED_ERRORS, tags=["api"], summary=summary)


def add_api(app: FastAPI, assistant, settings: Settings) -> None:
    """Routes, guards, CORS and error handlers on ``app`` (call before mounting the UI at ``/``)."""
    limiter = SlidingWindowLimiter(settings.rate_limit_per_minute)
    throttle, login_throttle = FailureThrottle(), FailureThrottle(limit=LOGIN_FAILURES)
    app.state.limiter, app.state.throttle = limiter, throttle
    app.state.prunables = [limiter, throttle, login_throttle]
    app.state.stop_pruning = start_pruning(app.state.prunables)
    app.add_middleware(ApiGuard, settings=settings, limiter=limiter, routes=app, throttle=throttle)
    # added last = outermost: error responses from the guard carry CORS headers too
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.allowed_origins),
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Content-Type", API_KEY_HEADER, "Authorization"],  # Authorization: /v1 and /mcp clients in a browser
        expose_headers=["Retry-After"],  # the widget reads it on 429
        max_age=600,
    )
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(QueryError, _query_error)
    app.add_exception_handler(FilterError, filter_error)  # a QueryError with its own code
    app.add_exception_handler(IndexStoreError, _index_error)
    app.add_exception_handler(RagError, _rag_error)
    app.add_exception_handler(Exception, _server_error)
    pending = app.state.pending_answers = PendingAnswers()  # wait_for_llm=false, then true: searched once
    llm_writes = settings.answer_backend != "extractive"

    @keyed_post(app, "/api/ask", AskResponse, "Ask a question; get a grounded answer with numbered citations")
    def ask(req: AskRequest, _key: str | None = Security(API_KEY_SCHEME)) -> Response:
        # the key itself was checked by ApiGuard before the body was read; declared here for OpenAPI
        q = checked(settings, req.question, req, req.history)
        request = (q.question, tuple(map(tuple, q.history)), q.search_filter)  # what an answer_id is valid for
        answer = pending.final(req.answer_id, request) if req.answer_id and req.wait_for_llm else None
        answer_id = None
        if answer is None and not req.wait_for_llm and llm_writes:  # the rest of the answer kept for the next call
            answer, answer_id = pending.first(assistant.stream(q.question, q.history, search_filter=q.search_filter), request)
        elif answer is None:
            answer = assistant.ask(q.question, q.history, wait_for_llm=req.wait_for_llm, search_filter=q.search_filter)
        data = with_sources(answer, assistant)
        return JSONResponse({**data, "answer_id": answer_id} if answer_id else data)

    admin_token = settings.admin_token.get_secret_value() if settings.admin_token else ""

    # the library tab's plumbing, not part of the public API: not in the schema
    @app.post("/api/admin/session", include_in_schema=False)
    def admin_session(req: AdminSessionRequest, request: Request) -> Response:
        """Exchange the admin token for the session cookie that file uploads need."""
        return login_response(admin_token, req.token, client_of(request.scope), login_throttle)

    @app.get("/api/health", response_model=HealthResponse, responses=errors(503), tags=["api"])
    def health() -> Response:
        """Index loaded, document and chunk counts, embedding model id, whether the LLM answers (cached), version,
        when the live generation was built."""
        return JSONResponse({**assistant.health(), **_version_and_generation(app, assistant)})

    app.openapi = lambda: _openapi(app, settings)  # type: ignore[method-assign]

    @app.get("/widget.js", include_in_schema=False)
    def widget_js() -> Response:
        return FileResponse(
            STATIC / "widget.js",
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
        )

    @app.get("/widget-demo", include_in_schema=False)
    def widget_demo() -> Response:
        return HTMLResponse((STATIC / "widget-demo.html").read_text(encoding="utf-8"))

    @app.get("/api/docs", include_in_schema=False)
    @app.get("/docs", include_in_schema=False)
    def api_docs() -> Response:
        # a small local page: FastAPI's Swagger UI would load its JS and CSS from a CDN
        return HTMLResponse(_API_DOCS_HTML)


def _openapi(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """FastAPI's schema, made to say what this server enforces: the question's length limits, the
    history's message limit, and the API key as optional unless the server sets one."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    props = schema["components"]["schemas"]["AskRequest"]["properties"]
    props["question"].update(minLength=1, maxLength=settings.max_question_chars)
    for item in props["history"]["items"].get("prefixItems", []):
        item["maxLength"] = MAX_HISTORY_MESSAGE_CHARS
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
    for op in (op for path, ops in schema["paths"].items() if path.startswith("/api/") for op in ops.values()):
        for status in (400, 413) if "requestBody" in op else ():  # ApiGuard's and _validation_error's answers
            op["responses"].setdefault(str(status), {"description": ERROR_RESPONSES[status]["description"], **error})
    search = schema["components"]["schemas"].get("SearchRequest")  # rag.web.search_api
    if search is not None:
        search["properties"]["query"].update(minLength=1, maxLength=settings.max_question_chars)
    if settings.api_key is None:
        for route in filter(None, (schema["paths"].get(path, {}).get(method.lower()) for method, path in KEYED)):
            route["security"] = [{}, *route.get("security", [])]  # {} = no credential needed
            route["responses"].pop("401", None)
    app.openapi_schema = schema
    return schema


_API_DOCS_HTML = (STATIC / "api-docs.html").read_text(encoding="utf-8")  # the page at /docs and /api/docs

