"""Latency of ``POST /api/ask`` under 1 and 8 concurrent clients: p50 / p95, throughput.

Against a running server::

    python -m bench.bench_api --url http://127.0.0.1:7860

or let the script start one (``python app.py`` on a free port over ``--index-dir``, rate limit lifted)::

    python -m bench.bench_api --index-dir index

Questions are the gold questions of eval/gold.jsonl, asked round-robin. Results are printed and
written to bench/results/api.json. The server's rate limit applies per client address: against
your own server, raise ``HDYT_RATE_LIMIT_PER_MINUTE`` for the run or the figures will include 429s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "api.json"


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def load_questions(limit: int | None = None) -> list[str]:
    lines = (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    return questions[:limit] if limit else questions


def run_level(url: str, questions: list[str], clients: int, requests: int, api_key: str | None) -> dict:
    """``requests`` calls spread over ``clients`` threads, each with its own connection."""
    headers = {"X-API-Key": api_key} if api_key else {}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(requests))
    counter_lock = threading.Lock()

    def worker(_: int) -> None:
        with httpx.Client(timeout=300, headers=headers) as client:
            while True:
                with counter_lock:
                    i = next(counter, None)
                if i is None:
                    return
                q = questions[i % len(questions)]
                t0 = time.perf_counter()
                r = client.post(url + "/api/ask", json={"question": q})
                dt = (time.perf_counter() - t0) * 1000
                with lock:
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                    if r.status_code == 200:
                        latencies.append(dt)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(worker, range(clients)))
    wall = time.perf_counter() - t0
    if not latencies:
        raise SystemExit(f"no successful request at {clients} clients: statuses {statuses}")
    return {
        "clients": clients,
        "requests": requests,
        "ok": len(latencies),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "mean_ms": round(statistics.fmean(latencies), 1),
        "max_ms": round(max(latencies), 1),
        "throughput_rps": round(len(latencies) / wall, 2),
        "wall_s": round(wall, 2),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(index_dir: str | None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "HDYT_RATE_LIMIT_PER_MINUTE": "1000000",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
    }
    if index_dir:
        env["HDYT_INDEX_DIR"] = index_dir
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"app.py exited with {proc.returncode}")
        try:
            if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit("the server did not become healthy in time")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server (default: start app.py on a free port)")
    parser.add_argument("--index-dir", help="index for the server this script starts (default: HDYT_INDEX_DIR or index/)")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8], help="concurrent clients (default: 1 8)")
    parser.add_argument("--requests", type=int, default=None, help="requests per level (default: max(60, 10 × clients))")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured requests first")
    parser.add_argument("--api-key", default=os.environ.get("HDYT_API_KEY"), help="X-API-Key, if the server wants one")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    proc = None
    url = args.url
    if not url:
        proc, url = start_server(args.index_dir)
    try:
        health = httpx.get(url.rstrip("/") + "/api/health", timeout=30).json()
        url = url.rstrip("/")
        questions = load_questions()
        run_level(url, questions, 1, args.warmup, args.api_key)
        levels = []
        for clients in args.levels:
            n = args.requests or max(60, 10 * clients)
            result = run_level(url, questions, clients, n, args.api_key)
            levels.append(result)
            print(
                f"{clients:>2} client(s): p50 {result['p50_ms']:8.1f} ms   p95 {result['p95_ms']:8.1f} ms   "
                f"{result['throughput_rps']:6.2f} req/s   ({result['ok']}/{n} ok, statuses {result['statuses']})",
                flush=True,
            )
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()

    report = {
        "endpoint": "POST /api/ask",
        "server": url if args.url else "app.py started by the benchmark",
        "index": {k: health.get(k) for k in ("documents", "chunks", "model_id", "dense_index", "answer_backend")},
        "questions": "eval/gold.jsonl, round-robin",
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
        },
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "levels": levels,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
