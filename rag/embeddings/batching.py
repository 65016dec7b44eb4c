"""Micro-batching of concurrent single-text encodes: many request threads, one model call.

A server answers each request on its own thread, and each wants one query vector. Running those
one by one through the encoder leaves the cores waiting on the GIL and on per-call overhead; a
batch of 8 costs little more than one. :class:`MicroBatcher` queues the texts and lets the first
caller that finds a free run slot encode everything queued so far (at most ``max_batch``),
"batch while busy": a lone request runs at once (no added latency), and requests that arrive
while a batch runs form the next one. When several requests are already queued, the runner waits
up to ``window_s`` for more to join before it runs.

No background thread: a caller runs the batch, so there is nothing to start or stop, and an error
of the encoder reaches every caller of that batch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass
class _Item:
    text: str
    vector: np.ndarray | None = None
    error: BaseException | None = None

    @property
    def done(self) -> bool:
        return self.vector is not None or self.error is not None


class MicroBatcher:
    """Encode single texts from many threads in shared calls of ``encode(list[str]) -> (n, dim)``."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray], window_s: float = 0.002, max_batch: int = 16, slots: int = 1) -> None:
        if max_batch < 1 or slots < 1 or window_s < 0:
            raise ValueError("max_batch and slots must be >= 1 and window_s >= 0")
        self._encode = encode
        self.window_s, self.max_batch, self.slots = window_s, max_batch, slots
        self._cond = threading.Condition()
        self._pending: list[_Item] = []
        self._running = 0
        self.batch_sizes: list[int] = []  # the size of every batch run (a bounded record for benchmarks)

    def configure(self, window_s: float | None = None, max_batch: int | None = None, slots: int | None = None) -> None:
        """Change the collection window, the batch bound or the parallel model calls (for the next batches)."""
        with self._cond:
            self.window_s = self.window_s if window_s is None else window_s
            self.max_batch = self.max_batch if max_batch is None else max_batch
            self.slots = self.slots if slots is None else slots
            if self.max_batch < 1 or self.slots < 1 or self.window_s < 0:
                raise ValueError("max_batch and slots must be >= 1 and window_s >= 0")
            self._cond.notify_all()

    def encode_one(self, text: str) -> np.ndarray:
        """The vector of ``text``, computed in a batch with whatever other threads asked meanwhile."""
        item = _Item(text)
        with self._cond:
            self._pending.append(item)
            while not item.done:
                if self._running < self.slots and self._pending:
                    self._run_batch()  # ours, or the batch of those queued before us: either way progress
                else:
                    self._cond.wait()
        if item.error is not None:
            raise item.error
        assert item.vector is not None
        return item.vector

    def _run_batch(self) -> None:
        # called with the lock held; releases it while the model runs
        self._running += 1
        try:
            if 1 < len(self._pending) < self.max_batch and self.window_s > 0:
                # others are queued: concurrency is high, so a short wait fills the batch further
                deadline = time.monotonic() + self.window_s
                while len(self._pending) < self.max_batch and (left := deadline - time.monotonic()) > 0:
                    self._cond.wait(left)
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            self._cond.release()
            try:
                vectors = self._encode([item.text for item in batch]) if batch else ()
                for item, vector in zip(batch, vectors):
                    item.vector = vector
            except BaseException as exc:  # every caller of the batch gets the encoder's error
                for item in batch:
                    item.error = exc
            finally:
                self._cond.acquire()
            if batch and len(self.batch_sizes) < 100_000:
                self.batch_sizes.append(len(batch))
        finally:
            self._running -= 1
            self._cond.notify_all()
