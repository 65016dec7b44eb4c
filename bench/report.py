"""Turn bench/results/*.json into bench/results/report.md with PNG plots."""

from __future__ import annotations

from pathlib import Path

from .common import RESULTS

TARGETS = {
    "embed_vs_c": 1.0,  # ours at least as fast as the C engine
    "warm_ask_p50_ms": 50.0,
    "cold_start_s": 5.0,
    "dense_p95_ms_1m": 20.0,
    "recall_1m": 0.95,
    "bm25_p95_ms_1m": 50.0,
    "resident_mb_1m": 2048.0,
}


def _fmt(x, nd=1, unit=""):
    if x is None:
        return "—"
    if isinstance(x, (int,)) and not isinstance(x, bool):
        return f"{x:,}{unit}"
    try:
        return f"{float(x):,.{nd}f}{unit}"
    except (TypeError, ValueError):
        return str(x)


def _ok(value, target, higher_is_better=False) -> str:
    if value is None:
        return "n/a"
    good = value >= target if higher_is_better else value <= target
    return "✅ met" if good else "❌ missed"


def _plots(results: dict) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: dict[str, str] = {}
    embed = results.get("embed")
    if embed and embed.get("engines"):
        names = list(embed["engines"])
        values = [embed["engines"][n]["passages_per_s"] for n in names]
        fig, ax = plt.subplots(figsize=(6.5, 3.2))
        bars = ax.barh([embed["engines"][n]["label"].split("(")[0].strip() for n in names], values, color=["#999", "#4c72b0", "#55a868"][: len(names)])
        for bar, n in zip(bars, names):
            ratio = embed["engines"][n].get("speed_vs_c_engine_median")
            ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f"  {bar.get_width():.1f}/s" + (f"  (×{ratio:.2f})" if ratio else ""), va="center", fontsize=8)
        ax.set_xlabel("passages per second (corpus chunks, median of rounds)")
        ax.set_xlim(0, max(values) * 1.45)
        fig.tight_layout()
        fig.savefig(RESULTS / "embed_throughput.png", dpi=120)
        plt.close(fig)
        out["embed"] = "embed_throughput.png"

    latency = results.get("latency")
    if latency:
        backends = [b for b in ("torch", "onnx") if isinstance(latency.get(b), dict) and "warm" in latency[b]]
        if backends:
            stages = ["embed", "dense", "bm25", "fusion", "answer (ask - its searches)"]
            fig, ax = plt.subplots(figsize=(6.5, 2.8))
            for i, b in enumerate(backends):
                left = 0.0
                for j, s in enumerate(stages):
                    v = latency[b]["warm"]["stages"].get(s, {}).get("p50")
                    if v is None:
                        continue
                    ax.barh(i, v, left=left, color=f"C{j}", label=s if i == 0 else None)
                    left += v
            ax.set_yticks(range(len(backends)), [f"embed_backend={b}" for b in backends])
            ax.set_xlabel("warm p50 per stage (ms), gold questions")
            ax.set_xscale("symlog", linthresh=1)
            ax.legend(fontsize=7, loc="lower right")
            fig.tight_layout()
            fig.savefig(RESULTS / "latency_stages.png", dpi=120)
            plt.close(fig)
            out["latency"] = "latency_stages.png"

    scale = results.get("scale")
    if scale and scale.get("sizes"):
        sizes = sorted((int(n), e) for n, e in scale["sizes"].items() if "build" in e)
        if sizes:
            ns = [n for n, _ in sizes]
            fig, axes = plt.subplots(2, 2, figsize=(9, 6.5))
            ax = axes[0][0]
            ax.plot(ns, [e["build"]["seconds"] for _, e in sizes], "o-", label="write_generation (all)")
            for stage in ("bm25_tokens", "bm25_index", "dense", "chunk_store"):
                ax.plot(ns, [e["build"]["stages"].get(stage, 0) for _, e in sizes], ".--", label=stage)
            ax.set_title("build time (s)")
            ax.legend(fontsize=7)
            ax = axes[0][1]
            ax.plot(ns, [e.get("probe", {}).get("index_resident_mb") for _, e in sizes], "o-", label="loaded index, resident (MB)")
            ax.plot(ns, [e["disk_mb"]["total"] for _, e in sizes], "s-", label="on disk (MB)")
            ax.plot(ns, [e["build"]["peak_rss_mb"] for _, e in sizes], "^--", label="builder peak RSS (MB)")
            ax.axhline(2048, color="r", lw=0.8, ls=":", label="2 GB target")
            ax.set_title("memory and disk")
            ax.legend(fontsize=7)
            ax = axes[1][0]
            ax.plot(ns, [e.get("probe", {}).get("dense", {}).get("p95") for _, e in sizes], "o-", label="dense, auto index (p95)")
            ax.plot(ns, [e.get("ivf_in_process", {}).get("latency", {}).get("p95", e.get("probe", {}).get("dense", {}).get("p95")) for _, e in sizes], "x--", label="dense, IVF (p95)")
            ax.plot(ns, [e["exact_flat"]["p95"] for _, e in sizes], "s:", label="dense, exact flat (p95)")
            ax.plot(ns, [e.get("probe", {}).get("bm25_both", {}).get("p95") for _, e in sizes], "^-", label="BM25, both indexes (p95)")
            ax.axhline(20, color="r", lw=0.8, ls=":")
            ax.axhline(50, color="m", lw=0.8, ls=":")
            ax.set_yscale("log")
            ax.set_title("query latency p95 (ms)")
            ax.legend(fontsize=7)
            ax = axes[1][1]
            ax.plot(ns, [e.get("probe", {}).get("dense_recall_at_10") for _, e in sizes], "o-", label="auto index")
            ax.plot(ns, [e.get("ivf_in_process", {}).get("recall_at_10", e.get("probe", {}).get("dense_recall_at_10")) for _, e in sizes], "x--", label="IVF")
            ax.axhline(0.95, color="r", lw=0.8, ls=":")
            ax.set_ylim(0.8, 1.01)
            ax.set_title("recall@10 vs exact")
            ax.legend(fontsize=7)
            for row in axes:
                for a in row:
                    a.set_xscale("log")
                    a.set_xlabel("chunks")
            fig.tight_layout()
            fig.savefig(RESULTS / "scale.png", dpi=120)
            plt.close(fig)
            out["scale"] = "scale.png"
        incs = sorted(((int(n), v) for n, v in (scale.get("incremental") or {}).items() if "add_report_seconds" in v), key=lambda kv: kv[0])
        if incs:
            fig, ax = plt.subplots(figsize=(6.5, 3.2))
            ns = [n for n, _ in incs]
            series = [("add one report (delta)", "add_report_seconds"), ("delete one document (deleted ids)", "delete_base_document_seconds"),
                      ("add one report with the merge", "add_report_with_merge_seconds"), ("full rebuild, no reuse", "full_rebuild_seconds")]
            for label, key in series:
                points = [(n, v[key]) for n, v in incs if key in v]
                if points:
                    ax.plot([n for n, _ in points], [y for _, y in points], "o-", label=label)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("library (chunks)")
            ax.set_ylabel("seconds")
            ax.legend(fontsize=7)
            fig.tight_layout()
            fig.savefig(RESULTS / "incremental.png", dpi=120)
            plt.close(fig)
            out["incremental"] = "incremental.png"
    return out


def write_report(results: dict, meta: dict) -> Path:
    plots = _plots(results)
    m = meta.get("machine", {})
    lines = [
        "# Speed and scale — benchmark report",
        "",
        f"Mode **{meta.get('mode')}** (`{meta.get('command')}`), started {meta.get('started')}, {meta.get('seconds', 0):.0f} s in all.",
        f"Machine: {m.get('cpu')} — {m.get('cores')} cores, {m.get('ram_gb')} GB RAM, no GPU; shared with other jobs "
        f"(load average at start {m.get('load_avg_at_start')}). Absolute times are inflated by that load; every comparison "
        "below is a ratio of figures measured in the same run, the engines taking turns.",
        "",
    ]
    lines += ["| section | command | started | seconds | load average at start (1, 5, 15 min) |", "|---|---|---|---|---|"]
    for name in ("embed", "latency", "scale", "serving"):
        sm = (results.get(name) or {}).get("meta")
        if sm:
            lines.append(f"| {name} | `{sm.get('command')}` | {sm.get('started')} | {sm.get('seconds')} | {sm.get('machine', {}).get('load_avg_at_start')} |")
    lines.append("")
    summary = _summary(results)
    if summary:
        lines += ["## Targets", "", "| target | measured | status |", "|---|---|---|"] + summary + [""]
    lines += _embed_section(results.get("embed"), plots)
    lines += _latency_section(results.get("latency"), plots)
    lines += _scale_section(results.get("scale"), plots)
    lines += _serving_section(results.get("serving"))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _summary(results: dict) -> list[str]:
    rows = []
    embed = results.get("embed") or {}
    onnx = embed.get("engines", {}).get("onnx", {})
    torch = embed.get("engines", {}).get("torch", {})
    for name, e in (("onnx", onnx), ("torch", torch)):
        r = e.get("speed_vs_c_engine_median")
        if r is not None:
            rows.append(f"| embedding throughput ≥ C engine ({name}) | ×{r:.2f} of the C engine | {_ok(r, 1.0, True)} |")
    cos = onnx.get("cosine_vs_torch_reference", {}).get("min")
    qcos = onnx.get("query_cosine_vs_torch_reference", {}).get("min")
    if cos is not None:
        rows.append(f"| ONNX vectors cosine ≥ 0.99 vs reference (passages) | min {cos:.4f} | {_ok(cos, 0.99, True)} |")
    if qcos is not None:
        rows.append(f"| ONNX vectors cosine ≥ 0.99 vs reference (queries) | min {qcos:.4f} | {_ok(qcos, 0.99, True)} |")
    lat = results.get("latency") or {}
    for b in ("onnx", "torch"):
        warm = (lat.get(b) or {}).get("warm", {})
        ask = warm.get("ask", {}).get("p50") if isinstance(warm.get("ask"), dict) else None
        search = warm.get("search_total", {}).get("p50")
        if ask is not None:
            rows.append(f"| warm ask p50 ≤ 50 ms ({b}) | {ask:.1f} ms | {_ok(ask, 50)} |")
        elif search is not None:
            rows.append(f"| warm search p50 ≤ 50 ms ({b}; ask not available) | {search:.1f} ms | {_ok(search, 50)} |")
        cold = (lat.get(b) or {}).get("cold", {}).get("total_s")
        if cold is not None:
            rows.append(f"| cold start ≤ 5 s ({b}) | {cold:.2f} s | {_ok(cold, 5)} |")
    scale = results.get("scale") or {}
    big = (scale.get("sizes") or {}).get("1000000")
    if big and "probe" in big and "dense" in big["probe"]:
        p = big["probe"]
        rows.append(f"| 1M: dense p95 ≤ 20 ms | {p['dense']['p95']:.1f} ms ({p['dense_kind']}) | {_ok(p['dense']['p95'], 20)} |")
        rows.append(f"| 1M: recall@10 ≥ 0.95 vs exact | {p['dense_recall_at_10']:.3f} | {_ok(p['dense_recall_at_10'], 0.95, True)} |")
        worst = max(p["bm25_accented"]["p95"], p["bm25_folded"]["p95"])
        rows.append(f"| 1M: BM25 p95 ≤ 50 ms, one index (accented / folded) | {p['bm25_accented']['p95']:.1f} / {p['bm25_folded']['p95']:.1f} ms | {_ok(worst, 50)} |")
        rows.append(f"| 1M: BM25 p95, both indexes one after the other | {p['bm25_both']['p95']:.1f} ms | (reported) |")
        hybrid = p.get("hybrid_search_without_embedding")
        if hybrid:
            rows.append(f"| 1M: hybrid search as the retriever runs it (BM25 threads beside FAISS, fusion, chunk fetch; query embedding excluded) p50 / p95 | {hybrid['p50']:.1f} / {hybrid['p95']:.1f} ms | (reported) |")
        rows.append(f"| 1M: loaded index resident ≤ 2 GB | {p['index_resident_mb']:.0f} MB | {_ok(p['index_resident_mb'], 2048)} |")
        rows.append(f"| 1M: build time | {big['build']['seconds']:.0f} s | (reported) |")
    for n, inc in sorted((scale.get("incremental") or {}).items(), key=lambda kv: int(kv[0])):
        if "add_report_seconds" in inc and "full_rebuild_seconds" in inc:
            delta = inc["add_report_stages"].get("writer") == "write_delta_generation"
            rows.append(
                f"| add one report to {int(n):,} chunks without rebuilding (scales with the report) | {inc['add_report_seconds']:.2f} s "
                f"(embedding {inc['add_report_stages'].get('embed_report', 0):.2f} s) vs {inc['full_rebuild_seconds']:.1f} s full rebuild "
                f"(×{inc['full_over_add_ratio']:.0f}); amortised with merges {inc.get('amortised_add_seconds', 0):.2f} s | "
                f"{'✅ met' if delta else '❌ missed'} |"
            )
    return rows


def _embed_section(embed: dict | None, plots: dict) -> list[str]:
    if not embed:
        return []
    lines = [
        "## Embedding throughput",
        "",
        f"{embed['n_passages']} corpus chunks ({embed['n_tokens']:,} tokens, as ingest embeds them: under their title), "
        f"{embed['rounds']} rounds, engines taking turns. Ratio = C engine time / engine time per round, median.",
        "",
        "| engine | passages/s | tokens/s | × C engine (median, per round) | cosine vs torch reference, passages (min / mean) | queries (min / mean) | load s | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, e in embed["engines"].items():
        cos = e.get("cosine_vs_torch_reference", {})
        qcos = e.get("query_cosine_vs_torch_reference", {})
        mem = e.get("memory", {})
        rounds = ", ".join(f"{x:.2f}" for x in e.get("speed_vs_c_engine_rounds", []))
        lines.append(
            f"| {e['label']} | {_fmt(e['passages_per_s'], 2)} | {_fmt(e['tokens_per_s'], 0)} | "
            f"{_fmt(e.get('speed_vs_c_engine_median'), 2)} ({rounds}) | {_fmt(cos.get('min'), 4)} / {_fmt(cos.get('mean'), 4)} | "
            f"{_fmt(qcos.get('min'), 4)} / {_fmt(qcos.get('mean'), 4)} | "
            f"{_fmt(mem.get('load_s'), 1)} | {_fmt(mem.get('peak_rss_mb'), 0)} |"
        )
    if "embed" in plots:
        lines += ["", f"![embedding throughput]({plots['embed']})"]
    return lines + [""]


def _latency_section(lat: dict | None, plots: dict) -> list[str]:
    if not lat:
        return []
    lines = [
        "## Query latency on the shipped corpus",
        "",
        f"Index of corpus/ ({lat.get('chunks')} chunks); gold questions after a warm-up: "
        + ", ".join(f"{b}: {p['questions']} × {p['passes']} passes, {p['cold_runs']} cold starts" for b, p in lat.get("plan", {}).items()) + ".",
        "",
        "| backend | stage | p50 ms | p95 ms |",
        "|---|---|---|---|",
    ]
    for b in ("torch", "onnx"):
        entry = lat.get(b)
        if not isinstance(entry, dict) or "warm" not in entry:
            if entry:
                lines.append(f"| {b} | skipped: {entry.get('skipped', '')} | | |")
            continue
        warm = entry["warm"]
        for stage, s in warm["stages"].items():
            lines.append(f"| {b} | {stage} | {_fmt(s['p50'], 2)} | {_fmt(s['p95'], 2)} |")
        lines.append(f"| {b} | **search (total)** | {_fmt(warm['search_total']['p50'], 2)} | {_fmt(warm['search_total']['p95'], 2)} |")
        ask = warm.get("ask", {})
        if "p50" in ask:
            lines.append(f"| {b} | **ask (total)**, {ask.get('searches_per_ask_mean', 1):g} searches per ask | {_fmt(ask['p50'], 2)} | {_fmt(ask['p95'], 2)} |")
        else:
            lines.append(f"| {b} | ask | {ask.get('skipped') or ask.get('error')} | |")
    if "latency" in plots:
        lines += ["", f"![latency per stage]({plots['latency']})"]
    lines += _profile_lines((lat.get("onnx") or {}).get("profile") if isinstance(lat.get("onnx"), dict) else None)
    lines += ["", "### Cold start (process spawn → first answer, existing index)", "", "| backend | total s | interpreter start | import app modules | load model + index (+ their lazy imports) | first answer | runs |", "|---|---|---|---|---|---|---|"]
    for b in ("torch", "onnx"):
        cold = (lat.get(b) or {}).get("cold") if isinstance(lat.get(b), dict) else None
        if not cold or "total_s" not in cold:
            continue
        runs = ", ".join(f"{r['total_s']:.1f}" for r in cold["runs"])
        lines.append(f"| {b} ({cold['mode']}) | {cold['total_s']:.2f} | {cold['interpreter_s']:.2f} | {cold['imports_s']:.2f} | {cold['load_s']:.2f} | {cold['first_answer_s']:.2f} | {runs} |")
    for b in ("torch", "onnx"):
        cold = (lat.get(b) or {}).get("cold") if isinstance(lat.get(b), dict) else None
        if cold and cold.get("top_imports"):
            top = ", ".join(f"{t['package']} {t['seconds']:.2f} s" for t in cold["top_imports"][:8])
            lines.append(f"\nSlowest imports ({b}, `python -X importtime`, cumulative): {top}. Heavy modules loaded: {', '.join(cold.get('modules_loaded', []))}.")
    return lines + [""]


def _profile_lines(prof: dict | None) -> list[str]:
    """Where a warm ask's milliseconds go (bench.profile_ask), by stage and by function."""
    if not prof or "stages_ms" not in prof:
        return []
    lines = ["", f"### Where an ask's milliseconds go (ONNX, cProfile, {prof['questions']} questions seen for the first time, {prof['wall_ms_per_ask']:.1f} ms per ask under the profiler)", "", "| stage | ms per ask |", "|---|---|"]
    lines += [f"| {stage} | {ms:.2f} |" for stage, ms in prof["stages_ms"].items()]
    lines += ["", "| function (most own time) | own ms per ask | calls per ask |", "|---|---|---|"]
    lines += [f"| `{row['function']}` | {row['own_ms']:.2f} | {row['calls_per_ask']:g} |" for row in prof.get("top_functions", [])[:8]]
    return lines


def _scale_section(scale: dict | None, plots: dict) -> list[str]:
    if not scale or not scale.get("sizes"):
        return []
    vm = scale.get("vector_model", {})
    real, syn = scale.get("profile_real", {}), scale.get("profile_synthetic_same_sizes", {})
    lines = [
        "## Scale curve (synthetic data)",
        "",
        "Text: the corpus's sentences as templates with names, places and numbers redrawn (bench/synthetic.py). "
        f"Vectors: a two-level Gaussian (report centres, chunks around them; top-{vm.get('doc_rank')} principal components "
        f"+ isotropic noise each) fitted to {scale.get('fit_vectors')} real passage embeddings of {scale.get('fit_documents')} reports, "
        f"L2-normalised; seed {scale.get('seed')}. Queries: the gold questions' real embeddings plus noisy copies ({scale.get('queries')} in all).",
        "",
        "| statistic | real vectors | synthetic (same report sizes) |",
        "|---|---|---|",
    ]
    for k in real:
        lines.append(f"| {k} | {real[k]} | {syn.get(k)} |")
    lines += [
        "",
        "Index choice (`dense_index = auto`, rag/dense.py): exact flat below `approx_threshold` (200,000 chunks), "
        "above it IVF with 4-bit fast-scan PQ codes proposing 4,096 candidates from a third of the lists, 6-bit scalar "
        "codes keeping 64, and the exact stored vectors ordering those. The IVF column shows that index built in "
        "process at the sizes where auto keeps flat.",
        "",
        "Latencies are single queries, warm (second pass over the queries); the first pass, while the memory-mapped "
        "BM25 files are paged in, is given in brackets (p95). Resident memory: RSS of a fresh process after opening "
        "the index and running the queries, minus its RSS before.",
        "",
        "| chunks | dense kind | build s | text+vectors s | builder peak RSS MB | disk MB | loaded index resident MB | dense p50/p95 ms (first pass p95) | recall@10 | IVF p50/p95 ms (recall) | exact flat p50/p95 ms (FAISS's own threading, 2 threads) | BM25 p50/p95 ms, both indexes (first pass p95) | BM25 accented / folded p95 | hybrid search p50/p95 ms (no embedding) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n, e in sorted(((int(k), v) for k, v in scale["sizes"].items()), key=lambda kv: kv[0]):
        if "build" not in e:
            lines.append(f"| {n:,} | error: {str(e.get('error', ''))[:200]} |")
            continue
        p = e.get("probe", {})
        ivf = e.get("ivf_in_process")
        ivf_txt = f"{ivf['latency']['p50']:.2f} / {ivf['latency']['p95']:.2f} ({ivf['recall_at_10']:.3f})" if ivf else "(auto index is IVF)"
        dense = p.get("dense", {})
        lines.append(
            f"| {n:,} | {e['build']['dense_kind']} | {e['build']['seconds']:.1f} | {e['text_seconds'] + e['sample_seconds']:.1f} | "
            f"{e['build']['peak_rss_mb']:.0f} | {e['disk_mb']['total']:.0f} | {_fmt(p.get('index_resident_mb'), 0)} | "
            f"{_fmt(dense.get('p50'), 2)} / {_fmt(dense.get('p95'), 2)} ({_fmt(p.get('dense_first_pass', {}).get('p95'), 1)}) | {_fmt(p.get('dense_recall_at_10'), 3)} | {ivf_txt} | "
            f"{e['exact_flat']['p50']:.1f} / {e['exact_flat']['p95']:.1f} | "
            f"{_fmt(p.get('bm25_both', {}).get('p50'), 2)} / {_fmt(p.get('bm25_both', {}).get('p95'), 2)} ({_fmt(p.get('bm25_both_first_pass', {}).get('p95'), 1)}) | "
            f"{_fmt(p.get('bm25_accented', {}).get('p95'), 2)} / {_fmt(p.get('bm25_folded', {}).get('p95'), 2)} | "
        f"{_fmt(p.get('hybrid_search_without_embedding', {}).get('p50'), 1)} / {_fmt(p.get('hybrid_search_without_embedding', {}).get('p95'), 1)} |"
        )
    lines.append("")
    lines.append("Build stages (s): " + "; ".join(
        f"{int(n):,}: " + ", ".join(f"{k} {v}" for k, v in e["build"]["stages"].items() if k not in ("dense_updated", "bm25_cached"))
        for n, e in sorted(scale["sizes"].items(), key=lambda kv: int(kv[0])) if "build" in e
    ))
    if "scale" in plots:
        lines += ["", f"![scale curves]({plots['scale']})"]
    incs = scale.get("incremental") or {}
    if incs:
        lines += ["", "## Incremental ingest", "",
                  "One real report (corpus/004…) added to a synthetic library with `rag.ingest.ingest` (embedding included) "
                  "as a delta segment; one library document deleted (deleted ids); the report deleted; the report added again "
                  "with the merge forced (a new base segment: what each change cost before deltas); next to a from-scratch "
                  "`write_generation` of the same library. Hybrid search (query embedding excluded) on the library with its "
                  "delta and deletions, then merged, in the same process.", "",
                  "| library | dense | operation | seconds | stages (s) |", "|---|---|---|---|---|"]
        operations = [("add_report", "add one report ({report_chunks} chunks) as a delta"),
                      ("delete_base_document", "delete one library document ({deleted_base_chunks} chunks)"),
                      ("delete_report", "delete the report (out of the delta)"),
                      ("add_report_with_merge", "add the report with the merge"),
                      ("full_rebuild", "full rebuild, no reuse{note}")]
        for n, inc in sorted(incs.items(), key=lambda kv: int(kv[0])):
            if "add_report_seconds" not in inc:
                lines.append(f"| {int(n):,} | | error | {str(inc.get('error'))[:300]} | |")
                continue
            fields = {**inc, "note": f" ({inc['full_rebuild_note']})" if inc.get("full_rebuild_note") else ""}
            for key, label in operations:
                if f"{key}_seconds" in inc:
                    lines.append(f"| {int(n):,} | {inc.get('dense_kind')} | {label.format(**fields)} | {inc[f'{key}_seconds']:.2f} | {_stages(inc.get(f'{key}_stages', {}))} |")
            if "full_over_add_ratio" in inc:
                lines.append(f"| {int(n):,} | | **full rebuild / add** | ×{inc['full_over_add_ratio']:.0f} | |")
            if "hybrid_search_with_delta" in inc:
                d, m = inc["hybrid_search_with_delta"], inc["hybrid_search_merged"]
                lines.append(f"| {int(n):,} | | hybrid search p50/p95 (ms): with delta {d['p50']:.1f}/{d['p95']:.1f}, merged {m['p50']:.1f}/{m['p95']:.1f} (×{inc['hybrid_p50_delta_over_merged']:.2f}) | | |")
            if "amortised_add_seconds" in inc:
                lines.append(f"| {int(n):,} | | add one report, merge cost spread over the {inc['merge_every_chunks']:,} delta chunks that trigger it | {inc['amortised_add_seconds']:.2f} | |")
        if "incremental" in plots:
            lines += ["", f"![incremental ingest]({plots['incremental']})"]
    return lines + [""]


def _stages(stages: dict) -> str:
    def one(k, v) -> str:
        if isinstance(v, str):
            return f"{k}={v}"
        return f"{k} {v:.2f}" if isinstance(v, float) and k not in ("dense_updated", "bm25_cached") else f"{k}={v:g}"

    return ", ".join(one(k, v) for k, v in stages.items())


def _serving_questions(serving: dict) -> str:
    q = serving.get("questions")
    if not q:  # a run from before the question pool: the gold questions, cycled (their vectors cached)
        return "asking the gold questions in turn"
    return (f"each question asked once per server ({q['asked_per_server']} of a pool of {q['pool']} eval questions "
            "and their accent-less copies: every request embeds its question, none is a cache hit)")


def _serving_section(serving: dict | None) -> list[str]:
    """/api/ask under 1, 8, 32 concurrent HTTP clients, answers in the server process or in 2 worker processes
    (bench/serving_bench.py)."""
    if not serving or "configs" not in serving:
        return []
    emb = serving.get("embedding", {})
    lines = [
        "## Serving: `/api/ask` over HTTP, concurrent clients",
        "",
        f"Two `python app.py` over the corpus index (rate limit lifted), taking turns for {serving.get('rounds', 1)} rounds per level; "
        f"each client its own connection; {_serving_questions(serving)}; percentiles of the median round. "
        f"Query embedding alone in the same run: p50 {_fmt(emb.get('p50'), 1)} ms, "
        f"p95 {_fmt(emb.get('p95'), 1)} ms; load average {_fmt((serving.get('load_before') or [None])[0], 1)} before, "
        f"{_fmt((serving.get('load_after') or [None])[0], 1)} after. `in-process` = `--serve-workers 0` (answers in the "
        "server's one process), `workers` = `--serve-workers 2` (answer worker processes); memory: the server and its "
        "workers together (PSS counts the shared, memory-mapped pages once).",
        "",
        "| configuration | clients | requests | req/s | × 1 client | p50 ms | p95 ms | p99 ms | p50 / embedding p50 | errors | RSS / peak / PSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, config in serving["configs"].items():
        for lv in config["levels"]:
            ratio = lv["p50_ms"] / emb["p50"] if emb.get("p50") else None
            lines.append(
                f"| {name} | {lv['clients']} | {lv['requests']} | {lv['req_per_s']:.1f} | ×{_fmt(lv.get('throughput_vs_1_client'), 2)} | "
                f"{lv['p50_ms']:.0f} | {lv['p95_ms']:.0f} | {lv['p99_ms']:.0f} | ×{_fmt(ratio, 1)} | {lv['errors']} | "
                f"{_fmt(lv.get('rss_mb'), 0)} / {_fmt(lv.get('peak_rss_mb'), 0)} / {_fmt(lv.get('pss_mb'), 0)} |"
            )
    ratios = serving.get("workers_vs_in_process", [])
    if ratios:
        lines += ["", "Workers / in-process, same run (median of the per-round ratios): " + ", ".join(
            f"{r['clients']} clients throughput ×{r['throughput']:.2f}, p95 ×{r['p95']:.2f}" for r in ratios) + "."]
    return lines + [""]
