"""A scripted OpenAI-compatible HTTP server on 127.0.0.1 for the LLM path's tests.

Real sockets, real HTTP: ``POST /v1/chat/completions`` plays the next scripted behaviour (or the
default one), ``GET /v1/models`` answers the health probe. Like llama.cpp's server it has one
generation *slot*: a generation holds it until it finishes or the client closes the connection,
so a request after an abandoned, never-closed stream waits; that is how the tests see that a
timed-out call really freed the server.

Behaviours: ``("answer", text)`` (SSE when the request asks to stream, JSON otherwise),
``("json", text)`` (plain JSON even to a streaming request), ``("endless", None)`` (tokens until
the client goes), ``("hang", None)`` (nothing until the client goes), ``("status", 500)``,
``("bad_json", None)``, ``("bad_sse", None)``, ``("slow", (seconds, text))`` (nothing for ``seconds``,
then ``text`` as an answer: a model that takes its time; a client that leaves meanwhile ends it),
``("gated", (event, text))`` (nothing until the test sets the ``threading.Event``, then ``text``: a
model that answers exactly when the test says, so no test depends on how loaded the machine is).
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GIVE_UP_S = 60.0  # a stream nobody closes ends here, so a failing test cannot hang the suite


class ScriptedLLM:
    """The server, its script and what it saw."""

    def __init__(self, default: tuple[str, Any] = ("answer", "Không tìm thấy thông tin này trong các báo cáo hiện có.")) -> None:
        self.script: deque[tuple[str, Any]] = deque()
        self.default = default
        self.requests: list[dict[str, Any]] = []
        self.models_calls = 0
        self.models_status = 200
        self.closed = threading.Event()  # an endless/hung reply saw its client close the connection
        self.answered: list[str] = []  # the texts of the answers sent in full, in order
        self.slot = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.models_calls += 1
                self._send(owner.models_status, "application/json", json.dumps({"object": "list", "data": [{"id": "scripted"}]}))

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                owner.requests.append(body)
                kind, arg = owner.script.popleft() if owner.script else owner.default
                if not owner.slot.acquire(timeout=GIVE_UP_S):
                    self._send(503, "application/json", '{"error": "slot busy"}')
                    return
                try:
                    owner.play(self, body, kind, arg)
                finally:
                    owner.slot.release()

            def _send(self, status: int, ctype: str, text: str) -> None:
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    # -- behaviours -----------------------------------------------------------------------------

    def play(self, h: BaseHTTPRequestHandler, body: dict[str, Any], kind: str, arg: Any) -> None:
        if kind == "answer" and body.get("stream"):
            self._sse(h, [_delta(w) for w in _words(arg)] + [_finish()])
            self.answered.append(arg)
        elif kind in ("answer", "json"):
            reply = {"choices": [{"index": 0, "message": {"role": "assistant", "content": arg}, "finish_reason": "stop"}]}
            h._send(200, "application/json", json.dumps(reply, ensure_ascii=False))
            self.answered.append(arg)
        elif kind == "status":
            h._send(int(arg), "application/json", '{"error": {"message": "scripted failure"}}')
        elif kind == "bad_json":
            h._send(200, "application/json", '{"choices": [ this is not json')
        elif kind == "bad_sse":
            self._sse(h, ["{broken"])
        elif kind == "endless":
            self._endless(h)
        elif kind == "hang":
            self._wait_while_connected(h, GIVE_UP_S)
        elif kind == "slow":
            seconds, text = arg
            if self._wait_while_connected(h, seconds):
                self.play(h, body, "answer", text)
        elif kind == "gated":
            gate, text = arg
            if self._wait_while_connected(h, GIVE_UP_S, until=gate.is_set):
                self.play(h, body, "answer", text)
        else:
            raise ValueError(kind)

    def _sse(self, h: BaseHTTPRequestHandler, events: list[str]) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()
        for event in events:
            h.wfile.write(f"data: {event}\n\n".encode())
            h.wfile.flush()
        h.wfile.write(b"data: [DONE]\n\n")

    def _endless(self, h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()
        end = time.monotonic() + GIVE_UP_S
        try:
            while time.monotonic() < end:
                h.wfile.write(f"data: {_delta('lượt ')}\n\n".encode())
                h.wfile.flush()
                time.sleep(0.01)
        except (BrokenPipeError, ConnectionResetError):
            self.closed.set()

    def _wait_while_connected(self, h: BaseHTTPRequestHandler, seconds: float, until: Callable[[], bool] = lambda: False) -> bool:
        """Say nothing for ``seconds`` or until ``until()``; False (and ``closed`` set) as soon as the
        client closes the connection."""
        conn: socket.socket = h.connection
        end = time.monotonic() + seconds
        while time.monotonic() < end and not until():
            readable, _, _ = select.select([conn], [], [], 0.05)
            if readable:
                try:
                    if conn.recv(1, socket.MSG_PEEK) == b"":
                        self.closed.set()
                        return False
                except OSError:
                    self.closed.set()
                    return False
        return True

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> ScriptedLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def chat_requests(self) -> int:
        return len(self.requests)


def _words(text: str) -> list[str]:
    out, word = [], ""
    for ch in text:
        word += ch
        if ch == " ":
            out.append(word)
            word = ""
    return out + ([word] if word else [])


def _delta(piece: str) -> str:
    return json.dumps({"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}, ensure_ascii=False)


def _finish() -> str:
    return json.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
