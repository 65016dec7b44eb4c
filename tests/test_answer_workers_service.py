"""The assistant with answer worker processes (``Assistant.start_workers``) over a real index: the same
answers, searches and errors as in-process, 20 simultaneous clients over HTTP, every worker on the new
generation after a write in the main process, a killed worker replaced.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import threading
import time

import pytest

from rag.answer_workers import WorkerCrashedError
from rag.errors import QueryError
from rag.retrieval.filters import FilterError, SearchFilter
from rag.service import Assistant
from tests import docs_factory
from tests.helpers import ROOT
from tests.web import test_concurrency

VOLATILE = {"latency_ms", "timings_ms"}  # wall-clock figures: everything else must be equal


def _gold(n: int) -> list[dict]:
    items = [json.loads(line) for line in (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines() if line]
    return items[:n]


@pytest.fixture(scope="module")
def assistants(corpus_settings):
    """(in-process, with 2 workers) over the corpus index."""
    alone, pooled = Assistant(corpus_settings), Assistant(corpus_settings)
    assert pooled.start_workers(2) == 2
    yield alone, pooled
    pooled.stop_workers()


def test_answers_through_the_workers_equal_in_process_answers(assistants):
    alone, pooled = assistants
    cases = [(item["question"], item.get("history") or []) for item in _gold(30)]
    cases += [("xin chào", []), ("benh vien bai chay kham bao nhieu luot nguoi", []), ("Còn năm 2022 thì sao?", [[cases[0][0], "…"]])]
    for question, history in cases:
        want, got = alone.ask(question, history), pooled.ask(question, history)
        assert got.model_dump(exclude=VOLATILE) == want.model_dump(exclude=VOLATILE), question
        assert {k: v for k, v in got.to_json_dict().items() if k != "latency_ms"} == {
            k: v for k, v in want.to_json_dict().items() if k != "latency_ms"
        }
    question = cases[2][0]
    strip = lambda parts: [p if isinstance(p, str) else p.model_dump(exclude=VOLATILE) for p in parts]  # noqa: E731
    assert strip(pooled.stream(question)) == strip(alone.stream(question))


def test_searches_filters_and_errors_through_the_workers_equal_in_process(assistants):
    alone, pooled = assistants
    doc = sorted(alone.library().documents)[0]
    only = SearchFilter.parse([doc])
    for query in ("lượt khám bệnh", "giám đốc sở y tế"):
        for mode in ("hybrid", "dense", "bm25"):
            assert pooled.search_json(query, 4, mode) == alone.search_json(query, 4, mode)
        assert pooled.search_json(query, 3, search_filter=only) == alone.search_json(query, 3, search_filter=only)
        got, want = pooled.ask(query, search_filter=only), alone.ask(query, search_filter=only)
        assert got.model_dump(exclude=VOLATILE) == want.model_dump(exclude=VOLATILE)
        assert {c.doc_id for c in [*got.citations, *got.related]} <= {doc}
    unknown = SearchFilter.parse(["không-có-tài-liệu-này"])
    with pytest.raises(FilterError) as want:
        alone.ask("lượt khám", search_filter=unknown)
    with pytest.raises(FilterError) as got:
        pooled.ask("lượt khám", search_filter=unknown)
    assert str(got.value) == str(want.value)
    with pytest.raises(QueryError):
        pooled.ask("   ")


def test_twenty_simultaneous_clients_with_workers(web_server):
    server = web_server(ui=False, rate_limit_per_minute=100_000)
    assert server.assistant.start_workers(2) == 2
    try:
        test_concurrency.test_twenty_simultaneous_clients_get_their_own_answers(server)
    finally:
        server.assistant.stop_workers()


def test_every_worker_answers_from_the_new_generation_after_a_write(make_settings, tmp_path):
    settings = make_settings()
    folder = tmp_path / "docs"
    folder.mkdir()
    first = docs_factory.write_txt(folder / "benh-vien.txt")
    assistant = Assistant(settings)
    assistant.add_files([first])
    assert assistant.start_workers(2) == 2
    try:
        question = "Trung tâm Y tế huyện Kiểm Tra tiêm được bao nhiêu liều vắc xin?"
        before = assistant.workers.each("ask", assistant.generation, question, [], True, None)
        assert all(not any(c["doc_id"] == "trung-tam" for c in a["citations"]) for a in before)
        old = assistant.generation
        added = docs_factory.write_txt(
            folder / "trung-tam.txt",
            "Trung tâm Y tế huyện Kiểm Tra tổng kết năm 2023",
            ["Năm 2023, Trung tâm Y tế huyện Kiểm Tra đã tiêm được 4.321 liều vắc xin cho trẻ em."],
        )
        assistant.add_files([added])
        new = assistant.generation
        assert new != old
        after = assistant.workers.each("ask", new, question, [], True, None)
        assert len(after) == 2
        for answer in after:  # each worker, on its very next request
            assert "4.321" in answer["answer"] and {c["doc_id"] for c in answer["citations"]} == {"trung-tam"}
        assert assistant.workers.each("generation", new) == [new, new]
        assert "4.321" in assistant.ask(question).answer
        assistant.delete(["trung-tam"])
        assert assistant.workers.each("generation", assistant.generation) == [assistant.generation] * 2
        assert all("4.321" not in a["answer"] for a in assistant.workers.each("ask", assistant.generation, question, [], True, None))
    finally:
        assistant.stop_workers()


def test_a_killed_worker_is_replaced_and_the_next_request_succeeds(assistants):
    alone, pooled = assistants
    question = "Ai là giám đốc Sở Y tế Quảng Ninh?"
    victim = pooled.workers.pids()[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 10
    # gone for good, not only its main thread a zombie: the pipe closes when its last thread (ONNX, BM25) exits
    while victim in {p.pid for p in multiprocessing.active_children()}:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    for _ in range(3):  # whichever worker takes them
        assert pooled.ask(question).answer == alone.ask(question).answer
    assert victim not in pooled.workers.pids() and len(pooled.workers.pids()) == 2


def test_a_worker_killed_mid_request_fails_that_request_clearly(assistants):
    alone, pooled = assistants
    pids = pooled.workers.pids()
    for pid in pids:  # both frozen: the request waits in whichever worker takes it
        os.kill(pid, signal.SIGSTOP)
    outcome: list[BaseException | str] = []

    def ask() -> None:
        try:
            outcome.append(pooled.ask("Ai là giám đốc Sở Y tế Quảng Ninh?").answer)
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=ask)
    thread.start()
    time.sleep(0.5)  # sent (a pipe write) long before
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], WorkerCrashedError), outcome
    assert "restarted" in str(outcome[0])
    question = "Bệnh viện Bãi Cháy khám bao nhiêu lượt người?"
    assert pooled.ask(question).answer == alone.ask(question).answer
    assert pooled.workers.each("generation", pooled.generation) == [pooled.generation] * 2  # the other dead one: replaced when taken
    assert not set(pids) & set(pooled.workers.pids())
