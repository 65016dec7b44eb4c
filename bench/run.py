"""Run the speed-and-scale benchmarks: ``python -m bench.run [--quick] [--only embed,latency,scale,serving]``.

Writes ``bench/results/<section>.json`` and ``bench/results/report.md`` with PNG plots. Timings
are benchmarks, not test assertions; every comparison is a ratio of figures measured in the same
run. Run heavy benchmarks niced on a shared machine: ``nice -n 10 python -m bench.run``.

--quick   about 10 minutes: 2 embedding rounds, 1 latency pass, 1 cold start per backend, the
          scale curve at 10k chunks only (incremental ingest measured at 10k), 8 requests per
          client in the serving section.
(full)    about 25 minutes on a quiet 2-core machine: 3 rounds, 3 passes, 3 cold starts, 10k / 100k /
          1M chunks, incremental ingest at 100k and 1M.
"""

from __future__ import annotations

import argparse
import os
import time

from .common import log, machine, read_json, write_json

SECTIONS = ("embed", "latency", "scale", "serving")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small, fast run (see module docstring)")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections: " + ",".join(SECTIONS))
    parser.add_argument("--sizes", default=None, help="scale sizes, e.g. 10000,100000 (default by mode)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    mode = "quick" if args.quick else "full"
    command = "python -m bench.run" + (" --quick" if args.quick else "") + (f" --only {args.only}" if args.only != ",".join(SECTIONS) else "") + (f" --sizes {args.sizes}" if args.sizes else "")
    meta = {"mode": mode, "started": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), "command": command}
    t_all = time.perf_counter()
    for section in wanted:
        t0 = time.perf_counter()
        section_load = [round(x, 2) for x in os.getloadavg()]
        if section == "embed":
            from .embed_bench import run as run_embed

            data = run_embed(quick=args.quick)
        elif section == "latency":
            from .latency_bench import run as run_latency

            data = run_latency(quick=args.quick)
        elif section == "scale":
            from .scale_bench import run as run_scale

            sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else None
            data = run_scale(quick=args.quick, sizes=sizes)
        elif section == "serving":
            from .serving_bench import run as run_serving

            data = run_serving(quick=args.quick)
        else:
            raise SystemExit(f"unknown section {section!r} ({', '.join(SECTIONS)})")
        data["meta"] = dict(meta, started=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time() - (time.perf_counter() - t0))), seconds=round(time.perf_counter() - t0, 1))
        data["meta"]["machine"] = dict(meta["machine"], load_avg_at_start=section_load)
        path = write_json(section, data)
        log(f"{section} written to {path} in {time.perf_counter() - t0:.0f} s")
    from .report import write_report

    results = {s: read_json(s) for s in SECTIONS}
    report = write_report(results, dict(meta, seconds=round(time.perf_counter() - t_all, 1)))
    log(f"report: {report}")


if __name__ == "__main__":
    main()
