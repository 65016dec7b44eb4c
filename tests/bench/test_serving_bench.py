"""The serving benchmark's load generator counts requests and errors right (a real local HTTP server, no timings)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.report import _serving_section
from bench.serving_bench import load


class _Handler(BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append(body["question"])
        status = 500 if body["question"] == "hỏng" else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args) -> None:
        pass


def test_load_issues_exactly_n_requests_and_counts_errors():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        _Handler.seen = []
        source = iter(["một", "hai", "hỏng"] * 10 + ["không hỏi"])
        result = load(f"http://127.0.0.1:{server.server_port}", source, clients=4, n_requests=30)
    finally:
        server.shutdown()
        server.server_close()
    assert result["requests"] == 30 and len(_Handler.seen) == 30
    assert sorted(set(_Handler.seen)) == ["hai", "hỏng", "một"] and _Handler.seen.count("hỏng") == 10  # questions in turn
    assert list(source) == ["không hỏi"]  # the next run goes on where this one stopped
    assert result["errors"] == 10 and result["error_kinds"] == ["HTTP 500"]
    assert result["clients"] == 4 and result["req_per_s"] > 0
    assert result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"]


def test_report_section_shows_each_level_and_the_ratios():
    level = {"clients": 8, "requests": 160, "req_per_s": 24.0, "throughput_vs_1_client": 1.6, "p50_ms": 300.0,
             "p95_ms": 450.0, "p99_ms": 600.0, "errors": 0, "rss_mb": 700.0, "peak_rss_mb": 750.0, "pss_mb": 520.0}
    data = {"embedding": {"p50": 15.0, "p95": 20.0}, "configs": {"workers": {"levels": [level]}},
            "load_before": [3.5, 2.0, 1.0], "workers_vs_in_process": [{"clients": 8, "throughput": 1.45, "p95": 0.62}]}
    text = "\n".join(_serving_section(data))
    assert "| workers | 8 | 160 | 24.0 | ×1.60 | 300 | 450 | 600 | ×20.0 | 0 | 700 / 750 / 520 |" in text
    assert "8 clients throughput ×1.45, p95 ×0.62" in text and "load average 3.5 before" in text
    assert _serving_section(None) == []


def test_server_memory_counts_the_server_and_its_workers():
    import os
    import subprocess
    import sys

    from bench.serving_bench import _family, _server_memory_mb

    before = _family(os.getpid())  # other children may exist (multiprocessing's resource tracker…)
    alone = _server_memory_mb(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        family = _family(os.getpid())
        both = _server_memory_mb(os.getpid())
    finally:
        child.kill()
        child.wait()
    assert family[0] == os.getpid() and sorted(family) == sorted([*before, child.pid])
    assert alone["processes"] == len(before) and both["processes"] == len(before) + 1
    assert both["rss_mb"] > alone["rss_mb"] > 0 and both["pss_mb"] > 0 and both["peak_rss_mb"] >= both["rss_mb"]


def test_the_question_pool_outlasts_the_query_cache_and_holds_no_text_twice():
    from bench.synthetic import question_pool
    from rag.embeddings.query_cache import QUERY_CACHE
    from rag.text import fold

    pool = question_pool()
    assert len(pool) == len(set(pool)) > QUERY_CACHE
    assert set(map(fold, pool)) <= set(pool)  # every question's accent-less copy is asked too
    assert question_pool() == pool  # a fixed order: two runs ask the same questions
