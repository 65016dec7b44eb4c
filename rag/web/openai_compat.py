"""OpenAI-compatible Chat Completions (``/v1/chat/completions``, ``/v1/models``) over :class:`rag.service.Assistant`.

Chat front ends (Open WebUI, LibreChat, the ``openai`` SDK, LangChain's ``ChatOpenAI``) can use the
assistant as the model ``hoi-dap-y-te``. The last user message is the question; the earlier user and
assistant messages become the ``[question, answer]`` history; system messages are ignored (the
answerer is extractive and follows no prompt).

The answer text keeps its ``[n]`` markers and ends with a "Nguồn:" list for clients that show only
text. The citations, in the shape of ``POST /api/ask``'s, travel in extra fields:
``choices[0].message.citations`` and a top-level ``citations`` (with ``abstained`` and
``rewritten_query``) in a response, the top-level fields of the final chunk in a stream.

The API key (``Authorization: Bearer KEY`` or ``X-API-Key``) and the per-client rate limit are those
of ``/api/ask`` (:func:`rag.web.api.api_key_ok`, the app's shared limiter). Errors use OpenAI's shape,
``{"error": {"message", "type", "code", "param"}}``: 400 bad request, 401 key, 404 unknown model or
route, 405 method (any other method, unknown ones and TRACE included), 413 body too large, 429 rate
limit (``Retry-After``), 503 no index. The OpenAPI schema documents all of it; the body is read here
(size-limited while it streams in), so its schema is declared by hand (:func:`_request_body`).
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Path, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from rag.config import Settings
from rag.errors import IndexStoreError, QueryError, RagError
from rag.web.api import API_KEY_HEADER, request_key_ok
from rag.web.models import MAX_HISTORY_TURNS

log = logging.getLogger(__name__)

MODEL_ID = "hoi-dap-y-te"
MODEL_CREATED = 1767225600  # 2026-01-01: a fixed "created" for /v1/models
SOURCES_HEADING = "Nguồn:"
_SOURCES_SEPARATOR = f"\n\n{SOURCES_HEADING}\n"
# chat clients resend the whole conversation (answers and source lists included) with every message
BODY_FACTOR = 16


# -- request models ---------------------------------------------------------------------------------


class ChatMessage(BaseModel):
    """One message; ``content`` is a string or a list of parts (only ``text`` parts are read)."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """The fields we read; sampling options (temperature, max_tokens…) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    # the schema names the one model and n=1 (what is served); other values get OpenAI's 404 / 400
    model: str = Field(..., json_schema_extra={"enum": [MODEL_ID]})
    messages: list[ChatMessage] = Field(
        ..., description="The conversation; the last message is the user's question", json_schema_extra={"minItems": 1}
    )
    stream: bool = False
    n: int = Field(1, json_schema_extra={"minimum": 1, "maximum": 1})


# -- response models (OpenAPI only: the routes build these objects as dicts) -------------------------


class OpenAIErrorBody(BaseModel):
    message: str
    type: str
    code: str | None = None
    param: str | None = None


class OpenAIErrorResponse(BaseModel):
    error: OpenAIErrorBody


class ModelObject(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelObject]


class ChatCompletion(BaseModel):
    """A ``chat.completion`` (or, with ``stream``, ``text/event-stream`` of ``chat.completion.chunk``s)."""

    model_config = ConfigDict(extra="allow")

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[dict[str, Any]]
    citations: list[dict[str, Any]] = Field(..., description="The cited passages, in the shape of POST /api/ask's")
    abstained: bool
    rewritten_query: str | None = None


_ERRORS = {
    400: "Invalid JSON or request (the last message must be the user's question)",
    401: "Missing or wrong API key",
    404: "Unknown model",
    413: "Request body too large",
    429: "Rate limit exceeded (see Retry-After)",
    503: "Index not available",
}


# one server-sent event: "data" is a chat.completion.chunk, an error object, or "[DONE]" (JSON text)
_SSE_EVENT = {"type": "object", "properties": {"data": {"type": "string"}, "event": {"type": "string"}}, "required": ["data"]}


def _responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": OpenAIErrorResponse, "description": _ERRORS[status]} for status in statuses}


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """``schema`` with its local ``$ref``s replaced by their definitions (the models are not recursive)."""
    if isinstance(schema, dict):
        ref = schema.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline(v, defs) for v in schema]
    return schema


def _request_body() -> dict[str, Any]:
    schema = ChatRequest.model_json_schema()
    return {"required": True, "content": {"application/json": {"schema": _inline(schema, schema.get("$defs", {}))}}}


class OpenAIError(Exception):
    """An error answered in OpenAI's shape."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param, self.headers = status, message, type_, code, param, headers

    def response(self) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.type, "code": self.code, "param": self.param}}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


# -- conversation → question + history --------------------------------------------------------------


def _text(message: ChatMessage) -> str:
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    return "\n".join(str(part.get("text", "")) for part in message.content if part.get("type") == "text")


def strip_sources(answer: str) -> str:
    """An earlier answer without the "Nguồn:" list this module appended (it would only add noise to the history)."""
    cut = answer.rfind(_SOURCES_SEPARATOR)
    return answer[:cut] if cut >= 0 else answer


def conversation(messages: list[ChatMessage]) -> tuple[str, list[list[str]]]:
    """The last user message and the earlier ``[user, assistant]`` pairs (unanswered or orphan turns dropped)."""
    if not messages or messages[-1].role != "user":
        raise OpenAIError(400, "The last message must have role 'user' (the question).", code="invalid_messages", param="messages")
    history: list[list[str]] = []
    pending: str | None = None
    for message in messages[:-1]:
        if message.role == "user":
            pending = _text(message)
        elif message.role == "assistant" and pending is not None:
            history.append([pending, strip_sources(_text(message))])
            pending = None
    return _text(messages[-1]), history[-MAX_HISTORY_TURNS:]


# -- answer → OpenAI objects ------------------------------------------------------------------------


def sources_text(citations: list[dict[str, Any]]) -> str:
    """The "Nguồn:" list appended to the answer text (Markdown list: one line per citation)."""
    if not citations:
        return ""
    lines = [f"- [{c['n']}] {c['title']}: “{c['quote']}”" for c in citations]
    return _SOURCES_SEPARATOR + "\n".join(lines)


def _extras(data: dict[str, Any]) -> dict[str, Any]:
    return {"citations": data["citations"], "abstained": data["abstained"], "rewritten_query": data["rewritten_query"]}


def completion(data: dict[str, Any]) -> dict[str, Any]:
    """A ``chat.completion`` object from ``Answer.to_json_dict()``."""
    content = data["answer"] + sources_text(data["citations"])
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL_ID,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "citations": data["citations"]},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        **_extras(data),
    }


def _chunk(base: dict[str, Any], delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
    body = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def stream_events(first: Any, parts: Iterator[Any]) -> Iterator[str]:
    """SSE events: the role, the text deltas, the "Nguồn:" list, a final chunk with the citations, ``[DONE]``."""
    base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk", "created": int(time.time()), "model": MODEL_ID}
    yield _chunk(base, {"role": "assistant", "content": ""})
    data: dict[str, Any] | None = None
    try:
        for part in _chain(first, parts):
            if isinstance(part, str):
                yield _chunk(base, {"content": part})
            else:
                data = part.to_json_dict()
    except Exception:  # headers are sent: the error travels as an event, in OpenAI's shape
        log.exception("chat completion stream failed")
        error = OpenAIError(500, "Lỗi máy chủ / internal server error", "server_error", "internal_error")
        yield f"data: {json.dumps({'error': {'message': error.message, 'type': error.type, 'code': error.code}})}\n\n"
        return
    if data is not None:
        if data["citations"]:
            yield _chunk(base, {"content": sources_text(data["citations"])})
        yield _chunk(base, {}, "stop", **_extras(data))
    yield "data: [DONE]\n\n"


def _chain(first: Any, parts: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from parts


# -- guards -----------------------------------------------------------------------------------------


def check_key(request: Request, settings: Settings) -> None:
    """The key from ``Authorization: Bearer`` or ``X-API-Key``, checked as ``/api/ask`` checks it."""
    if request_key_ok(settings, request.headers):
        return
    given = request.headers.get("authorization") or request.headers.get(API_KEY_HEADER)
    message = (
        "Sai khóa API / incorrect API key provided"
        if given
        else "Thiếu khóa API / missing API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'"
    )
    raise OpenAIError(401, message, code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})


def check_rate(request: Request) -> None:
    limiter = request.app.state.limiter  # shared with /api/ask: one budget per client
    retry = limiter.hit((request.client or ("unknown", 0))[0])
    if retry is not None:
        seconds = max(1, math.ceil(retry))
        raise OpenAIError(
            429,
            f"Quá nhiều yêu cầu, thử lại sau {seconds} giây / rate limit of {limiter.limit} requests per minute exceeded",
            "requests",
            "rate_limit_exceeded",
            headers={"Retry-After": str(seconds)},
        )


async def read_request(request: Request, settings: Settings) -> ChatRequest:
    """The body, size-limited while it is read, parsed into a :class:`ChatRequest`; clear 400/413 errors."""
    limit = BODY_FACTOR * settings.max_request_bytes
    too_large = OpenAIError(413, f"Yêu cầu quá lớn / request body exceeds {limit} bytes", code="request_too_large")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for piece in request.stream():
        body.extend(piece)
        if len(body) > limit:
            raise too_large
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise OpenAIError(400, "Nội dung không phải JSON hợp lệ / request body is not valid JSON", code="invalid_json") from None
    try:
        chat = ChatRequest.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise OpenAIError(400, f"Yêu cầu không hợp lệ / invalid request: {where}: {first.get('msg')}",
                          code="invalid_request", param=where) from None
    if chat.model != MODEL_ID:
        raise OpenAIError(404, f"The model '{chat.model}' does not exist; use '{MODEL_ID}'.", code="model_not_found", param="model")
    if chat.n != 1:
        raise OpenAIError(400, "Only n=1 is supported.", code="invalid_request", param="n")
    return chat


def _model() -> dict[str, Any]:
    return {"id": MODEL_ID, "object": "model", "created": MODEL_CREATED, "owned_by": "hoi-dap-y-te"}


def _failure(exc: Exception) -> OpenAIError:
    """The assistant's errors as OpenAI errors."""
    if isinstance(exc, QueryError):
        return OpenAIError(400, str(exc), code="invalid_question", param="messages")
    if isinstance(exc, IndexStoreError):
        return OpenAIError(503, f"Chỉ mục chưa sẵn sàng / index unavailable: {exc}", "server_error", "index_unavailable")
    return OpenAIError(400, str(exc), code="bad_request")


# -- routes -----------------------------------------------------------------------------------------


def build_router(assistant, settings: Settings) -> APIRouter:
    """``/v1/chat/completions``, ``/v1/models`` and an OpenAI-shaped 404/405 for the rest of ``/v1``."""
    router = APIRouter(prefix="/v1", tags=["openai"])

    @router.post(
        "/chat/completions",
        summary="OpenAI-compatible chat completion (model hoi-dap-y-te)",
        response_model=None,
        responses={
            200: {"model": ChatCompletion, "description": "The answer; with stream=true, server-sent chat.completion.chunk events",
                  "content": {"text/event-stream": {"schema": _SSE_EVENT}}},
            **_responses(400, 401, 404, 413, 429, 503),
        },
        openapi_extra={"requestBody": _request_body()},
    )
    async def chat_completions(request: Request) -> Response:
        try:
            check_key(request, settings)
            check_rate(request)
            chat = await read_request(request, settings)
            question, history = conversation(chat.messages)
            if chat.stream:
                parts = iter(assistant.stream(question, history))
                # the answer is complete before its first delta: errors surface here, before any header
                first = await run_in_threadpool(next, parts)
                return StreamingResponse(
                    stream_events(first, parts),
                    media_type="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
                )
            answer = await run_in_threadpool(assistant.ask, question, history)
            return JSONResponse(completion(answer.to_json_dict()))
        except OpenAIError as exc:
            return exc.response()
        except RagError as exc:
            return _failure(exc).response()

    @router.get("/models", summary="The one model: hoi-dap-y-te", response_model=None,
                responses={200: {"model": ModelList, "description": "The model list"}, **_responses(401)})
    def list_models(request: Request) -> Response:
        try:
            check_key(request, settings)
        except OpenAIError as exc:
            return exc.response()
        return JSONResponse({"object": "list", "data": [_model()]})

    @router.get("/models/{model}", summary="One model", response_model=None,
                responses={200: {"model": ModelObject, "description": "The model"}, **_responses(401, 404)})
    def get_model(request: Request, model: str = Path(..., json_schema_extra={"enum": [MODEL_ID]})) -> Response:
        try:
            check_key(request, settings)
            if model != MODEL_ID:
                raise OpenAIError(404, f"The model '{model}' does not exist; use '{MODEL_ID}'.", code="model_not_found")
        except OpenAIError as exc:
            return exc.response()
        return JSONResponse(_model())

    # an ASGI app, not a function, so that the route takes every method (a function's route takes GET only):
    # without it, unknown /v1/* paths and methods would fall through to the UI mounted at "/"
    router.add_route(f"{router.prefix}/{{rest:path}}", _Fallback(), include_in_schema=False)  # Starlette's: no prefix added
    return router


_KNOWN = [(re.compile(r"/v1/chat/completions"), "POST"), (re.compile(r"/v1/models(/[^/]+)?"), "GET")]


class _Fallback:
    """Every other ``/v1`` request: 405 (with ``Allow``) on a known path, else 404; OpenAI's shape."""

    async def __call__(self, scope, receive, send) -> None:
        path = scope["path"]
        allowed = next((method for pattern, method in _KNOWN if pattern.fullmatch(path)), None)
        if allowed:
            error = OpenAIError(405, f"Phương thức {scope['method']} không được hỗ trợ / use {allowed} for {path}",
                                code="method_not_allowed", headers={"Allow": allowed})
        else:
            error = OpenAIError(404, f"Không có {path} / no such route", code="not_found")
        await error.response()(scope, receive, send)


def add_openai(app: FastAPI, assistant, settings: Settings) -> None:
    """Include the router (after :func:`rag.web.api.add_api`, whose limiter it shares; before the UI)."""
    app.include_router(build_router(assistant, settings))
