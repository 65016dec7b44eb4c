"""A small OpenAI-compatible chat client (httpx) that bounds what the server generates.

Why not ``langchain-openai``: its 1.x client sends the output cap as ``max_completion_tokens``,
which llama.cpp's server ignores, and a request it gives up on stays open while the server keeps
generating. This client

* sends the cap as both ``max_tokens`` (llama.cpp, vLLM, Ollama, older servers) and
  ``max_completion_tokens`` (OpenAI's current name), with stop sequences and temperature;
* always asks for a stream and reads it line by line, so a deadline is checked between tokens and
  the connection is *closed* the moment it passes (llama.cpp frees the slot when the client goes);
* accepts a plain JSON reply from servers that ignore ``"stream": true``;
* retries at most ``retries`` times, only on a server error or a broken reply, and only while no
  text has been received and time remains.

It is a LangChain ``BaseChatModel`` so it composes like any other chat model.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from rag.errors import RagError

_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


class LLMCallError(RagError):
    """The model call failed or timed out."""


class LLMTimeoutError(LLMCallError):
    """The deadline passed; the connection was closed."""


class _Retryable(LLMCallError):
    """A failure worth one more try (server error, connection refused, broken reply)."""


class OpenAICompatibleChat(BaseChatModel):
    """Chat completions over ``{base_url}/chat/completions``, streamed, with a hard deadline."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = 30.0
    max_tokens: int = 256
    temperature: float = 0.0
    stop: list[str] = Field(default_factory=list)
    retries: int = 1

    @property
    def _llm_type(self) -> str:
        return "openai-compatible-http"

    def payload(self, messages: list[BaseMessage], stop: list[str] | None = None) -> dict[str, Any]:
        """The request body (public so tests and docs can show exactly what is sent)."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": _ROLES.get(m.type, m.type), "content": m.content} for m in messages],
            "max_tokens": self.max_tokens,
            "max_completion_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stream": True,
        }
        stops = list(stop if stop is not None else self.stop)
        if stops:
            body["stop"] = stops[:4]
        return body

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        deadline = float(kwargs.get("deadline") or time.monotonic() + self.timeout)
        body = self.payload(messages, stop)
        for attempt in range(self.retries + 1):
            got_text = False
            try:
                for piece in self._request(body, deadline):
                    got_text = True
                    if run_manager is not None:
                        run_manager.on_llm_new_token(piece)
                    yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
                return
            except _Retryable as exc:
                if got_text or attempt == self.retries or time.monotonic() >= deadline:
                    raise LLMCallError(str(exc)) from None

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(chunk.text for chunk in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _request(self, body: dict[str, Any], deadline: float) -> Iterator[str]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LLMTimeoutError(f"LLM call timed out after {self.timeout:g}s")
        headers = {"Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = self.base_url.rstrip("/") + "/chat/completions"
        timeout = httpx.Timeout(remaining, connect=min(remaining, 5.0))
        try:
            with httpx.Client(timeout=timeout) as client, client.stream("POST", url, json=body, headers=headers) as resp:
                if resp.status_code >= 500 or resp.status_code == 429:
                    raise _Retryable(f"LLM server error: HTTP {resp.status_code}")
                if resp.status_code >= 400:
                    detail = resp.read().decode("utf-8", "replace")[:200]
                    raise LLMCallError(f"LLM request refused: HTTP {resp.status_code}: {detail}")
                if "text/event-stream" in resp.headers.get("content-type", ""):
                    yield from _read_events(resp, deadline, self.timeout)
                else:
                    yield _read_json(resp)
        except httpx.TimeoutException:
            raise LLMTimeoutError(f"LLM call timed out after {self.timeout:g}s") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"LLM server unreachable: {type(exc).__name__}: {exc}") from None


def _read_events(resp: httpx.Response, deadline: float, timeout: float) -> Iterator[str]:
    """Text deltas of a server-sent-event stream; leaving the loop closes the connection."""
    for line in resp.iter_lines():
        if time.monotonic() >= deadline:
            raise LLMTimeoutError(f"LLM call timed out after {timeout:g}s (connection closed)")
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
            choice = event["choices"][0] if event.get("choices") else {}
        except (ValueError, TypeError, KeyError, AttributeError):
            raise _Retryable(f"LLM stream event is not valid JSON: {data[:80]!r}") from None
        if event.get("error"):
            raise _Retryable(f"LLM stream error: {str(event['error'])[:200]}")
        piece = (choice.get("delta") or {}).get("content") or ""
        if piece:
            yield piece
        if choice.get("finish_reason"):
            return


def _read_json(resp: httpx.Response) -> str:
    """The answer of a non-streamed reply (a server that ignored ``"stream": true``)."""
    raw = resp.read()
    try:
        content = json.loads(raw)["choices"][0]["message"]["content"]
    except (ValueError, TypeError, KeyError, IndexError):
        raise _Retryable(f"LLM reply is not chat-completion JSON: {raw[:80]!r}") from None
    if not isinstance(content, str):
        raise _Retryable("LLM reply has no text content")
    return content


def probe(base_url: str, api_key: str | None, timeout: float = 2.0) -> str | None:
    """``None`` when ``{base_url}/models`` answers with JSON, else why not (cheap: no generation)."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        resp = httpx.get(base_url.rstrip("/") + "/models", headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        return f"unreachable: {type(exc).__name__}: {exc}"
    if resp.status_code != 200:
        return f"HTTP {resp.status_code}"
    try:
        resp.json()
    except ValueError:
        return "/models did not return JSON"
    return None
