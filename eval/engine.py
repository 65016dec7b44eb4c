"""Running the systems under evaluation and turning each answer into a per-question record.

:func:`run_ours` asks the answer chain every question and ranks the query it searched with;
:func:`run_baseline` runs the LangChain tutorial pipeline; :func:`build_index` and
:func:`make_chain` build what they run on. A record holds everything the metrics of
:mod:`eval.aggregate` pool: retrieval ranks, the answer, abstention, citations, the lead of the
answer, whether its numbers are in the cited passages, the answer's ``confidence`` when it has
one, and the latency.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval import metrics as M
from eval.gold import GoldItem
from rag.text import fold

log = logging.getLogger("eval.run")

RANK_CUTOFF = 10  # MRR@10, and how many passages each retriever returns for the ranking metrics


@dataclass
class SystemRun:
    """One evaluated system: its per-question records and what building it cost."""

    name: str
    records: list[dict[str, Any]]
    build_seconds: float | None = None
    latency_kind: str = "answer"  # "answer" (whole pipeline) or "retrieval" (search only)
    answers: bool = True  # False: a retrieval-only row, answer metrics not applicable
    info: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- per-question records


def _field(obj: Any, key: str, default: Any = None) -> Any:
    """Read ``key`` from a dict or an object (answers and citations may be either)."""
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def retrieval_fields(passages: Sequence[str], item: GoldItem, k: int) -> dict[str, Any]:
    """Ranking metrics of one question from its ranked passage texts (None for unanswerable items)."""
    keys = ("evidence_rank", "all_evidence_rank", "evidence_ranks", "hit@1", f"hit@{k}", f"evidence_recall@{k}", "rr@10")
    if not item.evidences:
        return dict.fromkeys(keys)
    first = M.first_evidence_rank(passages[:RANK_CUTOFF], item.evidences)
    return {
        "evidence_rank": first,
        "all_evidence_rank": M.all_evidence_rank(passages[:RANK_CUTOFF], item.evidences),
        "evidence_ranks": M.evidence_ranks(passages[:RANK_CUTOFF], item.evidences),
        "hit@1": M.hit_at_k(passages, item.evidences, 1),
        f"hit@{k}": M.hit_at_k(passages, item.evidences, k),
        f"evidence_recall@{k}": M.evidence_recall_at_k(passages, item.evidences, k),
        "rr@10": M.reciprocal_rank(first, RANK_CUTOFF),
    }


def answer_fields(
    item: GoldItem, answer: str, abstained: bool, cited: Sequence[str], computed: Sequence[str] = ()
) -> dict[str, Any]:
    """Answer, abstention, citation, lead and number-faithfulness terms of one question.

    ``computed`` are the answer's lines marked as computations ("a − b = c"); their results
    count as supported when the operands are cited and the arithmetic holds.
    """
    answerable = bool(item.evidences)
    lead = M.lead_spans(answer) if not abstained else []
    out: dict[str, Any] = {
        "correct": M.answer_correct(answer, item.must_contain, abstained, answerable=answerable),
        "must_contain_found": {needle: M.contains_answer(answer, needle) for needle in item.must_contain},
        "abstention_correct": abstained == (not answerable),
        "lead": lead,
        "lead_correct": M.lead_correct(answer, item.must_contain) if answerable and not abstained else None,
        "unsupported_numbers": None if abstained else M.unsupported_numbers(answer, cited, computed),
    }
    out["numbers_faithful"] = None if abstained else not out["unsupported_numbers"]
    if answerable:
        rel, tot = M.citation_precision(cited, item.evidences)
        cov, n_ev = M.citation_recall(cited, item.evidences)
        out.update(citation_relevant=rel, citation_total=tot, evidence_cited=cov, evidence_total=n_ev)
    else:
        out.update(citation_relevant=None, citation_total=len(cited), evidence_cited=None, evidence_total=None)
    return out


_LINE_KEYS = ("text", "line", "expression", "formula")


def _computed_entries(value: Any, owner: dict[str, Any]) -> list[str]:
    """Lines from one ``computed`` mark: a string, a list, a mapping with a text key, or ``True``
    on a part (the part's own text is the computation)."""
    if value is True:
        return [str(owner.get("text") or "")]
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [str(value[key]) for key in _LINE_KEYS if isinstance(value.get(key), str)][:1]
    if isinstance(value, (list, tuple)):
        return [line for entry in value for line in _computed_entries(entry, owner)]
    return []


def answer_extras(ans: Any) -> dict[str, Any]:
    """What the answer JSON may carry beyond the contract: ``confidence`` and computed lines.

    ``confidence`` (a float, higher = surer) orders the risk–coverage curve; computed lines
    come from a top-level ``computed`` list or ``parts[i].computed``.
    """
    dump = ans.model_dump() if hasattr(ans, "model_dump") else dict(ans) if isinstance(ans, dict) else {}
    confidence = dump.get("confidence")
    computed = _computed_entries(dump.get("computed"), dump)
    for part in dump.get("parts") or []:
        if isinstance(part, dict) and part.get("computed"):
            computed += _computed_entries(part["computed"], part)
    return {
        "confidence": float(confidence) if isinstance(confidence, (int, float)) and not isinstance(confidence, bool) else None,
        "computed_lines": [line for line in computed if line],
    }


def fold_questions(items: Sequence[GoldItem]) -> list[GoldItem]:
    """Copies of ``items`` whose questions (and earlier user turns) lost their diacritics."""
    return [
        item.model_copy(update={"question": fold(item.question), "history": [(fold(q), a) for q, a in item.history]})
        for item in items
    ]


def base_record(item: GoldItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "category": item.category,
        "question": item.question,
        "history": [list(turn) for turn in item.history],
        "answerable": bool(item.evidences),
        "expected": list(item.must_contain),
        "reference_answer": item.answer,
        "doc": item.docs,
        "evidence": item.evidences,
    }


def _passage_summary(rank: int, doc_id: Any, start: Any, end: Any, text: str, item: GoldItem) -> dict[str, Any]:
    return {
        "rank": rank,
        "doc_id": doc_id,
        "start": start,
        "end": end,
        "has_evidence": M.passage_has_evidence(text, item.evidences) if item.evidences else None,
    }


def _citation_summary(c: Any, item: GoldItem) -> dict[str, Any]:
    text = _field(c, "text") or ""
    return {
        "n": _field(c, "n"),
        "doc_id": _field(c, "doc_id"),
        "start": _field(c, "start"),
        "end": _field(c, "end"),
        "quote": _field(c, "quote"),
        "has_evidence": M.passage_has_evidence(text, item.evidences) if item.evidences else None,
    }


# --------------------------------------------------------------------------- running the systems


def _timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``fn(*args, **kwargs)`` and its wall time in milliseconds."""
    t0 = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, (time.perf_counter() - t0) * 1000.0


def run_ours(
    items: Sequence[GoldItem],
    chain: Any,
    retriever: Any,
    k: int,
    ablations: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[SystemRun, dict[str, SystemRun]]:
    """Ask ``chain`` every question, then rank the query it searched with, with each retriever.

    Returns our run and one retrieval-only run per ablation retriever (``ablation_hybrid`` is
    ``retriever`` itself, carrying our answer terms).
    """
    ablations = dict(ablations or {})
    records: list[dict[str, Any]] = []
    abl_records: dict[str, list[dict[str, Any]]] = {name: [] for name in [*ablations, "ablation_hybrid"]}
    if items:  # warm-up (not timed): first calls pay for lazy loading and allocator growth
        try:
            chain.answer(items[0].question, [])
        except Exception:  # noqa: BLE001 - the timed call reports the error
            pass
    for i, item in enumerate(items, start=1):
        rec = base_record(item)
        history = [tuple(turn) for turn in item.history]
        error = None
        try:
            ans, latency = _timed(chain.answer, item.question, history)
            text = _field(ans, "answer") or ""
            abstained = bool(_field(ans, "abstained", False))
            citations = list(_field(ans, "citations", []) or [])
            query = _field(ans, "rewritten_query") or item.question
            extras = answer_extras(ans)
        except Exception as exc:  # a crash on one question must not stop the evaluation
            log.exception("question %s failed", item.id)
            error, text, abstained, citations, query, latency = f"{type(exc).__name__}: {exc}", "", False, [], item.question, None
            extras = answer_extras({})
        cited = [_field(c, "text") or "" for c in citations]
        rec.update(
            got=text,
            abstained=abstained,
            citations=[_citation_summary(c, item) for c in citations],
            retrieval_query=query,
            latency_ms=latency,
            error=error,
            **extras,
        )
        rec.update(answer_fields(item, text, abstained, cited, extras["computed_lines"]))
        result, search_ms = _timed(retriever.search, query, k=max(RANK_CUTOFF, k))
        hits = result.hits
        passages = [h.chunk.text for h in hits]
        rec.update(retrieval_fields(passages, item, k))
        rec["retrieved"] = [
            _passage_summary(h.rank, h.chunk.doc_id, h.chunk.start, h.chunk.end, h.chunk.text, item) for h in hits
        ]
        abl_records["ablation_hybrid"].append(
            {**base_record(item), **retrieval_fields(passages, item, k), **_answer_terms(rec), "latency_ms": search_ms}
        )
        rec["ablation_ranks"] = {}
        for name, other in ablations.items():
            o_result, o_ms = _timed(other.search, query, k=max(RANK_CUTOFF, k))
            o_hits = o_result.hits
            fields = retrieval_fields([h.chunk.text for h in o_hits], item, k)
            abl_records[name].append({**base_record(item), **fields, "latency_ms": o_ms})
            rec["ablation_ranks"][name] = fields["evidence_rank"]
        records.append(rec)
        if progress:
            progress(f"[ours {i}/{len(items)}] {item.id} {'ok' if rec['correct'] else 'WRONG'}")
    extra = {
        name: SystemRun(name, recs, latency_kind="retrieval", answers=(name == "ablation_hybrid"))
        for name, recs in abl_records.items()
    }
    return SystemRun("ours", records), extra


_ANSWER_KEYS = (
    "got", "abstained", "correct", "must_contain_found", "abstention_correct", "citation_relevant",
    "citation_total", "evidence_cited", "evidence_total", "error", "lead", "lead_correct",
    "numbers_faithful", "unsupported_numbers", "confidence",
)


def _answer_terms(rec: dict[str, Any]) -> dict[str, Any]:
    return {key: rec.get(key) for key in _ANSWER_KEYS}


def run_baseline(items: Sequence[GoldItem], baseline: Any, k: int, progress: Callable[[str], None] | None = None) -> SystemRun:
    """Evaluate the tutorial pipeline: answer = its top-4 search, ranking = its top 10."""
    records: list[dict[str, Any]] = []
    if items:
        baseline.answer(items[0].question)  # warm-up, not timed
    for i, item in enumerate(items, start=1):
        rec = base_record(item)
        ans, latency = _timed(baseline.answer, item.question)
        rec.update(
            got=ans.answer,
            abstained=ans.abstained,
            citations=[_citation_summary(c, item) for c in ans.citations],
            retrieval_query=item.question,
            latency_ms=latency,
            error=None,
        )
        rec.update(answer_fields(item, ans.answer, ans.abstained, [c["text"] for c in ans.citations]))
        docs = baseline.retrieve(item.question, max(RANK_CUTOFF, k))
        rec.update(retrieval_fields([d.page_content for d in docs], item, k))
        rec["retrieved"] = [
            _passage_summary(
                r, d.metadata.get("doc_id"), d.metadata.get("start_index"),
                None if d.metadata.get("start_index") is None else d.metadata["start_index"] + len(d.page_content),
                d.page_content, item,
            )
            for r, d in enumerate(docs, start=1)
        ]
        records.append(rec)
        if progress:
            progress(f"[baseline {i}/{len(items)}] {item.id} {'ok' if rec['correct'] else 'WRONG'}")
    return SystemRun("baseline", records, build_seconds=baseline.build_seconds, latency_kind="answer")


# --------------------------------------------------------------------------- building indexes


def build_index(corpus: Path, settings: Any, embeddings: Any) -> float:
    """Ingest ``corpus`` into ``settings.index_dir``; returns the build time in seconds."""
    from rag.ingest.local import ingest

    report = ingest([corpus], settings, rebuild=True, embeddings=embeddings)
    if report.errors:
        raise SystemExit(f"error: ingest failed: {report.errors}")
    if not report.n_chunks:
        raise SystemExit(f"error: no documents could be indexed from {corpus}")
    return report.seconds


def make_chain(settings: Any) -> Any:
    """The assistant's answer chain over ``settings.index_dir`` (with the configured answer backend)."""
    from rag.answer.chain import build_answer_chain

    return build_answer_chain(settings)


def save_outputs(summary: dict[str, Any], records: dict[str, Any], json_path: Path | None, report_dir: Path | None, write_report: Callable[..., Any], say: Callable[[str], None]) -> None:
    """Write the summary JSON and the report folder when asked (``--json``, ``--report``)."""
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if report_dir:
        write_report(summary, records, report_dir)
        say(f"report written to {report_dir}")
