"""Diacritic restoration, measured: syllable accuracy on folded questions and hit@5 before/after.

Usage::

    python -m eval.restoration [--set gold --set train] [--extra] [--no-retrieval] [--json OUT]

For each set (``gold``: eval/gold.jsonl over corpus/; ``train``: eval/train/gold.jsonl over its
corpus; ``extra``: eval/extra, a test set, only with ``--extra`` and only for the final figure)
the corpus is ingested into a temporary index, and the restorer is the one that index loads
(``store.restorer``: what the app uses). Then:

* **accuracy**: every question written with diacritics is folded, restored, and compared with
  the original syllable by syllable (questions typed without accents have no reference);
* **retrieval**: hit@5 of the folded copy of every answerable, self-contained question (not
  follow-ups, not English) with restoration off (dense embeds the folded question) and on
  (dense embeds the restored one); BM25 sees the folded question both times.

eval/gold.jsonl is split in halves by :mod:`eval.split` (alternately by id within each category,
the first to ``dev``); eval/train is all ``dev``, eval/extra all ``test``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is local; never try the hub

from eval import metrics as M
from eval.gold import GoldItem, load_gold
from eval.split import SPLITS, split_items

ROOT = Path(__file__).resolve().parent.parent
SETS = {
    "gold": (ROOT / "eval" / "gold.jsonl", ROOT / "corpus"),
    "train": (ROOT / "eval" / "train" / "gold.jsonl", ROOT / "eval" / "train" / "corpus"),
    "extra": (ROOT / "eval" / "extra" / "gold.jsonl", ROOT / "eval" / "extra" / "corpus"),
}
SYLLABLE = re.compile(r"[^\W\d_]+")
K = 5


def halves(name: str, items: list[GoldItem]) -> dict[str, str]:
    """Item id → "dev" or "test": eval/gold.jsonl by :func:`eval.split.split_items`, the others whole."""
    if name != "gold":
        return {item.id: "dev" if name == "train" else "test" for item in items}
    return {item.id: split for split in SPLITS for item in split_items(items, split)}


def syllable_accuracy(restorer: Any, questions: list[str]) -> dict[str, Any]:
    """Restore the folded copy of each question; count syllables restored exactly as written."""
    from rag.text import fold

    total = right = whole = 0
    seconds = 0.0
    for question in questions:
        t = time.perf_counter()
        restored = restorer.restore(fold(question))
        seconds += time.perf_counter() - t
        want, got = SYLLABLE.findall(question), SYLLABLE.findall(restored)
        hits = sum(a == b for a, b in zip(want, got))
        total, right, whole = total + len(want), right + hits, whole + (hits == len(want))
    n = len(questions)
    return {
        "questions": n,
        "syllables": total,
        "accuracy": M.safe_ratio(right, total),
        "questions_exact": M.safe_ratio(whole, n),
        "ms_per_question": seconds * 1000.0 / n if n else None,
    }


def folded_hit_rate(retriever: Any, items: list[GoldItem], restore: bool) -> float | None:
    """hit@5 of the folded questions, dense on the restored question or on the folded one."""
    from rag.text import fold

    retriever.restore = restore
    hits = [M.hit_at_k([h.chunk.text for h in retriever.search(fold(item.question), k=K).hits], item.evidence, K) for item in items]
    return M.mean(hits)


def evaluate_set(name: str, retrieval: bool) -> dict[str, Any]:
    """Accuracy (and hit@5 before/after) of one gold set, by half."""
    from rag.config import get_settings
    from rag.embeddings import get_embeddings
    from rag.index.faiss.store import open_index
    from rag.ingest.local import ingest
    from rag.retrieval.hybrid import HybridRetriever
    from rag.lang.english import looks_english
    from rag.text import has_diacritics

    gold_path, corpus = SETS[name]
    items = load_gold(gold_path)
    half = halves(name, items)
    with tempfile.TemporaryDirectory(prefix="restore-eval-") as tmp:
        settings = get_settings(index_dir=Path(tmp) / "index", uploads_dir=Path(tmp) / "uploads")
        embeddings = get_embeddings(settings.model, backend=settings.embed_backend)
        report = ingest([corpus], settings, embeddings=embeddings)
        if report.errors:
            raise SystemExit(f"ingest of {corpus} failed: {report.errors}")
        store = open_index(settings.index_dir, model_id=embeddings.model_id)
        t = time.perf_counter()
        restorer = store.restorer
        out: dict[str, Any] = {"restorer_load_s": time.perf_counter() - t, "syllable_forms": len(restorer.vocab)}
        retriever = HybridRetriever.over(store, embeddings, settings)
        for part in sorted(set(half.values())):
            mine = [i for i in items if half[i.id] == part]
            row = syllable_accuracy(restorer, [i.question for i in mine if has_diacritics(i.question)])
            if retrieval:
                asked = [i for i in mine if i.evidence and i.category != "follow_up" and not looks_english(i.question)]
                row["retrieval_questions"] = len(asked)
                row["hit@5_folded_before"] = folded_hit_rate(retriever, asked, restore=False)
                row["hit@5_folded_after"] = folded_hit_rate(retriever, asked, restore=True)
            out[part] = row
        store.close()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.restoration", description=__doc__.splitlines()[0])
    p.add_argument("--set", dest="sets", action="append", choices=["gold", "train"], help="default: gold and train")
    p.add_argument("--extra", action="store_true", help="also eval/extra (a test set: final figures only)")
    p.add_argument("--no-retrieval", action="store_true", help="accuracy only")
    p.add_argument("--json", type=Path, help="write the figures here")
    args = p.parse_args(argv)
    names = (args.sets or ["gold", "train"]) + (["extra"] if args.extra else [])
    results = {name: evaluate_set(name, not args.no_retrieval) for name in names}
    for name, result in results.items():
        for part in ("dev", "test"):
            if part in result:
                row = result[part]
                figures = "  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
                print(f"{name:5} {part:4} {figures}")
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
