"""Answers waiting for their LLM stage, so that a question asked in two steps is searched once.

With an LLM configured, a client that shows the extractive answer first (the widget) asks
``/api/ask`` with ``wait_for_llm=false`` and then again with ``wait_for_llm=true``. The first call
takes the extractive answer from :meth:`rag.service.Assistant.stream` and keeps the suspended
stream here, under a random id it returns as ``answer_id``; the second call with that id and the
same question, history and filter resumes the stream, which runs only the LLM stage (retrieval and
the extractive answer are reused, :meth:`rag.answer.chain.AnswerChain.stream`).

An id is random (128 bits), used once, and only for the request it was made for, so no other
client can read the answer; it lives :data:`PENDING_SECONDS` and at most :data:`MAX_PENDING`
streams wait (the oldest is dropped first). An unknown, expired or mismatched id is no error: the
question is then answered from the start.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Generator, Hashable, Iterator
from typing import Any

PENDING_SECONDS = 120.0  # how long the second call may come after the first
MAX_PENDING = 256  # streams kept at once: each holds one question's passages
Stream = Generator[Any, None, None]  # what Assistant.stream returns: text deltas and Answers


def _next_answer(stream: Iterator[Any]) -> Any:
    """The next Answer of ``stream``, past the text deltas before it."""
    return next(part for part in stream if not isinstance(part, str))


class PendingAnswers:
    """Suspended answer streams by id; thread-safe (a stream is taken out before it is resumed)."""

    def __init__(self, seconds: float = PENDING_SECONDS, size: int = MAX_PENDING) -> None:
        self.seconds, self.size = seconds, size
        self._streams: OrderedDict[str, tuple[float, Hashable, Stream]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._streams)

    def first(self, stream: Stream, request: Hashable) -> tuple[Any, str | None]:
        """The first answer of ``stream`` and, when a later one is to replace it (``provisional``), the id
        that gets that one for ``request``; None when the first answer is final (small talk, no LLM)."""
        answer = _next_answer(stream)
        if not getattr(answer, "provisional", False):
            return answer, None
        answer_id = secrets.token_urlsafe(16)
        now = time.monotonic()
        with self._lock:
            dropped = self._expire(now)
            while len(self._streams) >= self.size:
                dropped.append(self._streams.popitem(last=False)[1][2])
            self._streams[answer_id] = (now + self.seconds, request, stream)
        for old in dropped:
            old.close()
        return answer, answer_id

    def final(self, answer_id: str, request: Hashable) -> Any | None:
        """The final answer of the stream kept under ``answer_id`` for this ``request``, or None."""
        with self._lock:
            dropped = self._expire(time.monotonic())
            kept = self._streams.get(answer_id)
            if kept is not None and kept[1] == request:
                del self._streams[answer_id]
            else:
                kept = None
        for old in dropped:
            old.close()
        if kept is None:
            return None
        stream = kept[2]
        try:
            return _next_answer(stream)
        finally:
            stream.close()

    def _expire(self, now: float) -> list[Stream]:
        """Take out the streams past their time (closed by the caller, outside the lock)."""
        old = [answer_id for answer_id, (until, _, _) in self._streams.items() if until <= now]
        return [self._streams.pop(answer_id)[2] for answer_id in old]
