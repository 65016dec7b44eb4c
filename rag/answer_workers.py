"""Answer worker processes: CPU-bound requests served by N spawned processes beside the web server.

One Python process answers one question at a time however many cores it has (the GIL), so the app
can hand its answers and searches to :class:`AnswerWorkers`. Each worker is a spawned process
(no fork of a threaded server) that builds its handler once, from a ``"module:function"`` factory
imported in the worker, and then serves requests one at a time over its own pipe. A request goes
to an idle worker (callers wait while all are busy); what comes back is plain picklable data.

Why not ``concurrent.futures.ProcessPoolExecutor``: when one of its processes dies, the executor is
broken and *every* pending request fails, queued ones included (31 errors for one crash under 32
clients). Here a crash is charged to the one request its worker was running, which gets
:class:`WorkerCrashedError`; the worker is replaced at once and the others go on. A worker found
dead before a request is sent is replaced silently; a request that runs past ``timeout_s`` kills
its worker (a clear error, never a hung client).
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import signal
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from rag.errors import IndexStoreError, RagError

log = logging.getLogger(__name__)
REQUEST_TIMEOUT_S = 120.0  # far above any answer; only a stuck worker reaches it
START_TIMEOUT_S = 600.0  # the first start may convert the model to ONNX (about a minute), on a loaded machine


class WorkerCrashedError(IndexStoreError):
    """The worker answering this request died or got stuck; it has been replaced (the API says 503)."""


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection


@dataclass
class _Waiter:
    """A caller waiting for an idle worker, handed one in arrival order."""

    ready: threading.Event
    worker: _Worker | None = None


class AnswerWorkers:
    """``size`` worker processes, each running ``factory(*args)``'s handler on the requests sent to it.

    ``factory`` is ``"module:function"``: the function runs once in each worker and returns the handler,
    a callable taking a request's items (``call("ask", ...)`` runs ``handler("ask", ...)``). ``env``
    is set in each worker before the factory's module is imported (thread counts of native libraries).
    """

    def __init__(
        self,
        size: int,
        factory: str,
        args: Sequence[Any] = (),
        env: Mapping[str, str] | None = None,
        timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> None:
        if size < 1:
            raise ValueError("AnswerWorkers needs at least one worker")
        self._ctx = get_context("spawn")  # a fresh interpreter: forking a server with threads is unsafe
        self._factory, self._args, self._env = factory, tuple(args), dict(env or {})
        self.timeout_s = timeout_s
        # idle workers, and callers waiting in arrival order: a plain queue lets some callers overtake
        # others again and again (p95 of many seconds while the median looks fine)
        self._idle: list[_Worker] = []
        self._waiting: deque[_Waiter] = deque()
        self._handoff = threading.Lock()
        self._lock = threading.Lock()  # guards _workers (replacements come from any request thread)
        self._workers = [self._start() for _ in range(size)]
        self.size = size
        try:
            self._exchange_all(("__ready__",), START_TIMEOUT_S)  # every worker built its handler (or says why not)
        except BaseException:
            self.close()
            raise

    # -- requests -----------------------------------------------------------------------------

    def call(self, *request: Any) -> Any:
        """``handler(*request)`` in an idle worker; its exception is raised here as it was raised there."""
        worker = self._take()
        try:
            worker, (status, payload) = self._exchange(worker, request, self.timeout_s)
        finally:
            self._give(worker)
        if status == "error":
            raise payload
        return payload

    def each(self, *request: Any) -> list[Any]:
        """``handler(*request)`` in every worker (waiting until all are idle), one result per worker."""
        return self._exchange_all(request, self.timeout_s)

    def pids(self) -> list[int]:
        """The worker processes' ids (RSS in benchmarks, killing one in tests)."""
        with self._lock:
            return [w.process.pid for w in self._workers if w.process.pid is not None]

    def close(self) -> None:
        """Stop every worker: asked to exit, terminated when it does not within a few seconds."""
        with self._lock:
            workers, self._workers = self._workers, []
        for w in workers:
            try:
                w.conn.send(None)
            except OSError:
                pass
        for w in workers:
            w.process.join(timeout=5)
            if w.process.is_alive():
                w.process.terminate()
                w.process.join(timeout=5)
            w.conn.close()

    # -- plumbing -----------------------------------------------------------------------------

    def _exchange_all(self, request: tuple, timeout: float) -> list[Any]:
        taken = [self._take() for _ in range(self.size)]
        results: list[tuple[str, Any]] = []
        try:
            for i, worker in enumerate(taken):
                taken[i], reply = self._exchange(worker, request, timeout)
                results.append(reply)
        finally:
            for worker in taken:
                self._give(worker)
        for status, payload in results:
            if status == "error":
                raise payload
        return [payload for _, payload in results]

    def _exchange(self, worker: _Worker, request: tuple, timeout: float) -> tuple[_Worker, tuple[str, Any]]:
        """Send ``request`` to ``worker`` and wait for its reply: (the worker now in that slot, the reply);
        a crash is an ``("error", WorkerCrashedError)`` reply, the slot then holds its replacement."""
        if not worker.process.is_alive():  # died between requests: nothing of this request was lost
            worker = self._replace(worker, "found dead")
        try:
            worker.conn.send(request)
        except OSError:  # died just now, before reading anything
            worker = self._replace(worker, "pipe closed")
            worker.conn.send(request)
        try:
            if not worker.conn.poll(timeout):
                worker.process.kill()
                raise TimeoutError
            return worker, worker.conn.recv()
        except (EOFError, OSError, TimeoutError) as exc:
            stuck = isinstance(exc, TimeoutError)
            worker.process.join(timeout=5)  # its pipe closes a moment before its exit status is there
            code = worker.process.exitcode
            worker = self._replace(worker, f"stuck for {timeout:.0f} s" if stuck else f"exit code {code}")
            reason = f"quá {timeout:.0f} giây / took over {timeout:.0f} s" if stuck else f"mã thoát / exit code {code}"
            crashed = WorkerCrashedError(
                f"tiến trình trả lời dừng bất ngờ ({reason}) và đã được khởi động lại, hãy hỏi lại "
                f"/ the answer worker stopped unexpectedly and was restarted; ask again"
            )
            return worker, ("error", crashed)

    def _take(self) -> _Worker:
        with self._handoff:
            if self._idle and not self._waiting:
                return self._idle.pop()
            waiter = _Waiter(threading.Event())
            self._waiting.append(waiter)
        waiter.ready.wait()
        assert waiter.worker is not None
        return waiter.worker

    def _give(self, worker: _Worker) -> None:
        with self._handoff:
            if self._waiting:
                waiter = self._waiting.popleft()
                waiter.worker = worker
                waiter.ready.set()
            else:
                self._idle.append(worker)

    def _start(self) -> _Worker:
        worker = self._spawn()
        self._give(worker)
        return worker

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(
            target=_serve, args=(child, self._factory, self._args, self._env), name="hdyt-answer-worker", daemon=True
        )
        process.start()
        child.close()  # the worker holds the only other end: its death is an EOF here
        return _Worker(process, parent)

    def _replace(self, dead: _Worker, why: str) -> _Worker:
        """A fresh worker in ``dead``'s slot (not put in the idle queue: the caller holds the slot)."""
        log.warning("answer worker %s replaced (%s)", dead.process.pid, why)
        dead.process.join(timeout=5)
        dead.conn.close()
        fresh = self._spawn()
        with self._lock:
            self._workers = [fresh if w is dead else w for w in self._workers]
        return fresh


def _serve(conn: Connection, factory: str, args: tuple, env: dict[str, str]) -> None:
    """A worker's life: build the handler, then answer requests until told to stop or the parent goes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent stops us
    os.environ.update(env)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s[worker]: %(message)s")
    handler: Callable[..., Any] | None = None
    failure: BaseException | None = None
    try:
        module, _, name = factory.partition(":")
        handler = getattr(importlib.import_module(module), name)(*args)
    except Exception as exc:  # every request is told why (an unreadable index…), no crash loop
        log.exception("answer worker could not start")
        failure = exc
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if request is None:
            return
        if failure is not None:
            conn.send(("error", _portable(failure)))
        elif request == ("__ready__",):
            conn.send(("ok", os.getpid()))
        else:
            try:
                assert handler is not None
                reply: tuple[str, Any] = ("ok", handler(*request))
            except Exception as exc:
                if not isinstance(exc, RagError):  # a bug, not a message for the user: keep its traceback here
                    log.exception("answer worker failed on %s", request[0] if request else request)
                reply = ("error", _portable(exc))
            conn.send(reply)


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else the nearest base class that does, with the same message
    (exceptions whose ``__init__`` takes other arguments than ``args`` cannot be rebuilt)."""
    for cls in type(exc).__mro__:
        if not issubclass(cls, BaseException):
            continue
        try:
            candidate = exc if cls is type(exc) else cls(str(exc))
            pickle.loads(pickle.dumps(candidate))
            return candidate
        except Exception:
            continue
    return RuntimeError(str(exc))
