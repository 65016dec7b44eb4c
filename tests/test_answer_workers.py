"""The answer worker pool itself (rag.answer_workers), with a small handler defined here: replies, errors
carried across, a crash or a stuck worker charged to its one request, the worker replaced, no hang.

The pool over the real assistant (answers equal in-process ones, generations followed): test_answer_workers_service.py.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from rag.answer_workers import AnswerWorkers, WorkerCrashedError
from rag.errors import QueryError
from rag.query.validate import QuestionError

pytestmark = pytest.mark.slow  # real processes

FACTORY = "tests.test_answer_workers:toy_handler"


class TaggedError(Exception):
    """An exception whose ``__init__`` differs from its ``args``: pickle cannot rebuild it."""

    def __init__(self, tag: str, message: str) -> None:
        super().__init__(message)
        self.tag = tag


def toy_handler(prefix: str) -> Callable[..., Any]:
    """Runs in each worker: what a handler does, minus the model."""
    if prefix == "broken":
        raise QueryError("không mở được chỉ mục / cannot open the index")

    def handle(op: str, *args: Any) -> Any:
        if op == "echo":
            return [prefix, *args]
        if op == "pid":
            return os.getpid()
        if op == "env":
            return os.environ.get(args[0])
        if op == "meet":  # wait for the other request: both must be running at once
            folder, pid = args[0], os.getpid()
            open(os.path.join(folder, str(pid)), "w").close()
            deadline = time.monotonic() + 30
            while len(os.listdir(folder)) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            return len(os.listdir(folder)) == 2
        if op == "sleep":
            time.sleep(args[0])
            return "slept"
        if op == "exit":
            os._exit(3)
        if op == "question_error":
            raise QuestionError("empty_question", "Câu hỏi trống / empty question")
        if op == "tagged":
            raise TaggedError("x", "thẻ lạ / odd tag")
        raise ValueError(op)

    return handle


@pytest.fixture
def pool():
    workers = AnswerWorkers(2, FACTORY, ("p",), env={"HDYT_TOY": "set-before-import"})
    yield workers
    workers.close()


def test_replies_come_back_as_plain_data_from_every_worker(pool):
    assert pool.call("echo", 1, {"a": [2, 3]}) == ["p", 1, {"a": [2, 3]}]
    assert pool.each("env", "HDYT_TOY") == ["set-before-import"] * 2
    assert sorted(pool.each("pid")) == sorted(pool.pids()) and len(set(pool.pids())) == 2
    assert os.getpid() not in pool.pids()


def test_two_requests_run_at_once_in_two_processes(pool, tmp_path):
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(pool.call("meet", str(tmp_path)))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True, True]  # each saw the other arrive: side by side, not one after the other
    assert sorted(int(p.name) for p in tmp_path.iterdir()) == sorted(pool.pids())


def test_errors_arrive_with_their_class_and_message(pool):
    with pytest.raises(QueryError, match="empty question"):  # QuestionError cannot be unpickled: its base class
        pool.call("question_error")
    with pytest.raises(Exception, match="odd tag") as info:
        pool.call("tagged")
    assert type(info.value) is Exception
    with pytest.raises(ValueError, match="nope"):
        pool.call("nope")
    assert pool.call("echo") == ["p"]  # the worker that raised goes on serving


def test_a_crash_fails_only_its_request_and_the_worker_is_replaced(pool):
    before = set(pool.pids())
    other: list[Any] = []
    slow = threading.Thread(target=lambda: other.append(pool.call("sleep", 1.5)))
    slow.start()
    time.sleep(0.3)  # the sleeper holds one worker: the crash goes to the other
    with pytest.raises(WorkerCrashedError, match="exit code 3"):
        pool.call("exit")
    slow.join()
    assert other == ["slept"]  # the request in the other worker was not touched
    after = set(pool.pids())
    assert len(after) == 2 and len(after & before) == 1
    assert pool.call("echo", "again") == ["p", "again"]
    assert sorted(pool.each("pid")) == sorted(after)


def test_a_worker_killed_between_requests_is_replaced_without_an_error(pool):
    victim = pool.pids()[0]
    os.kill(victim, 9)
    _wait_dead(victim)
    assert [pool.call("echo", i) for i in range(4)] == [["p", i] for i in range(4)]
    assert victim not in pool.pids() and len(pool.pids()) == 2


def test_a_stuck_worker_is_killed_and_its_request_gets_an_error(pool):
    pool.timeout_s = 1.0
    with pytest.raises(WorkerCrashedError, match="took over 1 s"):
        pool.call("sleep", 30)
    pool.timeout_s = 60.0
    assert pool.each("echo") == [["p"], ["p"]]


def test_a_handler_that_cannot_start_is_a_clear_error():
    with pytest.raises(QueryError, match="cannot open the index"):
        AnswerWorkers(1, FACTORY, ("broken",))


def _wait_dead(pid: int) -> None:
    """Until ``pid`` is gone or a zombie (killed, not yet reaped by the pool)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
        except OSError:
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still running")
