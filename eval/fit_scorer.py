"""Refit the extractive answerer's calibrated scorer (rag/answer/scoring.py) and write its weights.

    python -m eval.fit_scorer [--precision 0.9] [--out rag/answer/scorer.json] [--check | --cv 5]

Fitting data, never test data: the fitting set ``eval/train/gold.jsonl`` (over its own reports) and
the **dev** half of ``eval/gold.jsonl`` (:mod:`eval.split`). For every question (follow-ups
rewritten with their history, two-fact questions left out: their halves have no labels) the
top passages are retrieved by the real hybrid retriever over the real index and every candidate
unit's features computed; a unit is labelled correct when the answer drawn from it would be (:func:`_answers`), never for an
unanswerable question. Standardised logistic regressions (scikit-learn), in the order inference
needs them: the pre-score model on the units' lexical and retrieval features; with it the best
units of each question are embedded (:func:`rag.answer.extractive.add_similarity`, the
answerer's own code) and the unit model is fitted on every feature (an unknown one, as at
inference, sits at the mean of the known values); the answer model on each question's best unit
(its unit P and margin over the runner-up, label: that unit is correct); and the abstention
threshold is the one with the most right decisions among those whose answered questions of the
fitting data reach the stated precision. ``--check`` refits and fails when the result differs from the shipped file;
``--cv K`` prints K-fold cross-validated figures instead (:func:`cross_validate`): right decisions,
answered precision, coverage, abstention precision and recall at each fold's threshold, and AUC.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.gold import GoldItem, load_gold
from eval.split import split_items
from eval.metrics import contains_answer

ROOT = Path(__file__).resolve().parent.parent
FIT_SETS = (
    (ROOT / "eval" / "train" / "gold.jsonl", ROOT / "eval" / "train" / "corpus", "all"),
    (ROOT / "eval" / "gold.jsonl", ROOT / "corpus", "dev"),
)
C = 1.0  # inverse regularisation strength of the logistic regression
SEED = 0
PRECISION = 0.8  # stated answer precision on the fitting data; the threshold maximises right decisions above it


@dataclass
class Example:
    """One fitting question: its candidate units (features filled by the answerer) and labels."""

    id: str
    embedded_as: str  # the question as the retriever embedded it (accents restored)
    scored: list[Any]  # rag.answer.extractive.Scored, best first
    labels: list[int]
    vetoed: list[bool]
    answerable: bool

    def rows(self) -> list[dict[str, float | None]]:
        return [s.features for s in self.scored]


def _examples(items: Sequence[GoldItem], corpus: Path, embeddings: Any, scorer: Any) -> list[Example]:
    """The usable questions of ``items`` over an index of ``corpus``."""
    from rag.answer.compose import sub_questions
    from rag.answer.extractive import best_fact
    from rag.backend import load_retriever
    from rag.config import get_settings
    from rag.ingest.local import ingest
    from rag.query.followup import rewrite

    out = []
    with tempfile.TemporaryDirectory(prefix="hdyt-fit-") as tmp:
        settings = get_settings(index_dir=Path(tmp) / "index")
        report = ingest([corpus], settings, embeddings=embeddings)
        if report.errors:
            raise SystemExit(f"error: ingest of {corpus} failed: {report.errors}")
        retriever = load_retriever(settings)
        lookup = lambda doc_id: (r.text if (r := retriever.store.document(doc_id)) else None)  # noqa: E731
        for item in items:
            question = item.question
            if item.history:
                question = rewrite(question, [tuple(t) for t in item.history]) or question
            if len(sub_questions(question)) > 1:
                continue
            docs = retriever.invoke(question)
            _, scored = best_fact(question, docs, lookup, scorer=scorer)
            can = item.category != "unanswerable"
            labels = [int(can and _answers(s, item.must_contain)) for s in scored]
            vetoed = [s.rejected is not None for s in scored]
            out.append(Example(item.id, retriever.restore_query(question) or question, scored, labels, vetoed, can))
        retriever.store.close()
    return out


def _answers(scored: Any, must_contain: Sequence[str]) -> bool:
    """Whether the answer drawn from this unit would be right: its quoted sentence holds every
    expected string (with the previous sentence only when the span found there is one of them:
    a unit does not earn its neighbour's answer)."""
    if not must_contain:
        return False
    unit = scored.unit
    text = unit.sentence
    if scored.span_in_prev and unit.prev_start is not None:
        if not any(contains_answer(scored.span.text, m) for m in must_contain):
            return False
        text = unit.passage.text[unit.prev_start : unit.prev_end] + " " + text
    return all(contains_answer(text, m) for m in must_contain)


def _top_two(probs: list[float], vetoed: list[bool]) -> tuple[int | None, float]:
    """Index of the best open unit and the runner-up's probability."""
    order = sorted((i for i, v in enumerate(vetoed) if not v), key=lambda i: -probs[i])
    if not order:
        return None, 0.0
    return order[0], probs[order[1]] if len(order) > 1 else 0.0


def _matrix(rows: Sequence[dict[str, float | None]], names: Sequence[str]) -> np.ndarray:
    """Feature rows as an array, an unknown value (None) as NaN."""
    return np.array([[np.nan if row.get(f) is None else row[f] for f in names] for row in rows], dtype=np.float64)


def _logistic(X: np.ndarray, y: np.ndarray, names: tuple[str, ...]) -> Any:
    """A standardised logistic regression; NaN (unknown) sits at the mean of the known values, as
    :class:`~rag.answer.scoring.Logistic` reads an unknown feature."""
    from sklearn.linear_model import LogisticRegression

    from rag.answer.scoring import Logistic

    known = ~np.isnan(X)
    seen = known.any(axis=0)
    mean = np.zeros(X.shape[1])
    mean[seen] = np.nanmean(X[:, seen], axis=0)
    X = np.where(known, X, mean)
    scale = X.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=C, max_iter=5000, random_state=SEED).fit((X - mean) / scale, y)
    return Logistic(names, tuple(mean.round(6)), tuple(scale.round(6)), tuple(model.coef_[0].round(6)), round(float(model.intercept_[0]), 6))


def _threshold(confidence: list[float], correct: list[bool], answerable: list[bool], precision: float) -> tuple[float, dict[str, float]]:
    """The threshold with the most right decisions (right answers + abstentions on unanswerable
    questions) among those whose answered questions reach ``precision``; what it gives there."""
    n_answerable = sum(answerable) or 1
    n_unanswerable = (len(answerable) - sum(answerable)) or 1
    best: tuple[int, float] | None = None
    stats: dict[str, float] = {}
    for t in sorted(set(confidence)):
        answered = [ok for c, ok in zip(confidence, correct) if c >= t]
        if not answered or sum(answered) / len(answered) < precision:
            continue
        abstained_right = sum(1 for c, a in zip(confidence, answerable) if c < t and not a)
        score = sum(answered) + abstained_right
        if best is None or score > best[0]:
            best = (score, t)
            stats = {
                "precision": round(sum(answered) / len(answered), 4),
                "coverage": round(len(answered) / len(confidence), 4),
                "accuracy_answerable": round(sum(answered) / n_answerable, 4),
                "abstention_recall": round(abstained_right / n_unanswerable, 4),
            }
    return (best[1] if best else 1.0), stats


def collect() -> list[Example]:
    """Every fitting question with its candidates' features (without the semantic ones)."""
    from rag.answer.scoring import Scorer
    from rag.embeddings import get_embeddings

    embeddings = get_embeddings()
    examples: list[Example] = []
    for gold, corpus, part in FIT_SETS:
        items = load_gold(gold)
        if part == "dev":
            items = split_items(items, "dev")
        examples.extend(_examples(items, corpus, embeddings, Scorer.neutral()))
    return [e for e in examples if e.scored]


def _embed_units(examples: Sequence[Example], prescore: Any, embedder: Any) -> None:
    """Fill the semantic features of each example's best units by ``prescore`` (others unknown)."""
    from rag.answer.extractive import add_similarity
    from rag.answer.scoring import SEMANTIC_FEATURES

    for e in examples:
        for s in e.scored:
            s.features.update(dict.fromkeys(SEMANTIC_FEATURES))
        add_similarity(e.embedded_as, e.scored, embedder.similarities, prescore)


def fit(precision: float = PRECISION, examples: list[Example] | None = None, embedder: Any = None) -> Any:
    """Fit on the fitting sets (or on ``examples`` from :func:`collect`) and return the
    :class:`~rag.answer.scoring.Scorer`."""
    from rag.answer.scoring import ANSWER_FEATURES, BASE_FEATURES, FEATURES, Scorer
    from rag.answer.similarity import embedder_for
    from rag.embeddings import get_embeddings

    examples = collect() if examples is None else examples
    y = np.array([label for e in examples for label in e.labels])
    prescore = _logistic(_matrix([r for e in examples for r in e.rows()], BASE_FEATURES), y, BASE_FEATURES)
    embedder = embedder or embedder_for(get_embeddings())
    _embed_units(examples, prescore, embedder)
    unit = _logistic(_matrix([r for e in examples for r in e.rows()], FEATURES), y, FEATURES)
    # the answer model: one row per question, the best open unit by the unit model
    rows, correct, answerable = [], [], []
    for e in examples:
        probs = unit.probabilities(e.rows())
        best, runner_up = _top_two(probs, e.vetoed)
        if best is None:
            continue
        rows.append({**e.scored[best].features, "unit_p": probs[best], "margin": probs[best] - runner_up})
        correct.append(bool(e.labels[best]))
        answerable.append(e.answerable)
    answer = _logistic(_matrix(rows, ANSWER_FEATURES), np.array(correct, dtype=int), ANSWER_FEATURES)
    confidence = [answer.probability(r) for r in rows]
    threshold, stats = _threshold(confidence, correct, answerable, precision)
    meta = {
        "fitted_on": ["eval/train/gold.jsonl", "eval/gold.jsonl (dev half)"],
        "questions": len(examples),
        "units": int(len(y)),
        "positive_units": int(y.sum()),
        "target_precision": precision,
        "at_threshold": stats,
        "C": C,
    }
    return Scorer(unit, answer, round(threshold, 4), meta, prescore)


def cross_validate(k: int = 5, precision: float = PRECISION, examples: list[Example] | None = None) -> dict[str, float]:
    """``k``-fold cross-validation grouped by question (each question's units in one fold): the
    answer model's AUC on held-out best units and, at each fold's own threshold, the held-out
    decisions (:func:`decision_stats`)."""
    from sklearn.metrics import roc_auc_score

    from rag.answer.similarity import embedder_for
    from rag.embeddings import get_embeddings

    examples = collect() if examples is None else examples
    embedder = embedder_for(get_embeddings())
    order = np.random.default_rng(SEED).permutation(len(examples))
    decisions: list[tuple[bool, bool, bool]] = []  # (answered, answered right, answerable) per question
    confidence: list[float] = []
    correct: list[int] = []
    for fold in range(k):
        held = {int(i) for i in order[fold::k]}
        scorer = fit(precision, [e for i, e in enumerate(examples) if i not in held], embedder)
        test = [e for i, e in enumerate(examples) if i in held]
        _embed_units(test, scorer.prescore, embedder)
        for e in test:
            probs = scorer.unit.probabilities(e.rows())
            best, runner_up = _top_two(probs, e.vetoed)
            if best is None:
                decisions.append((False, False, e.answerable))
                continue
            c = scorer.confidence(e.scored[best].features, probs[best], runner_up)
            ok = bool(e.labels[best])
            confidence.append(c)
            correct.append(int(ok))
            answered = c >= scorer.threshold
            decisions.append((answered, answered and ok, e.answerable))
    return {"questions": len(examples), **decision_stats(decisions), "answer_auc": round(float(roc_auc_score(correct, confidence)), 4)}


def decision_stats(decisions: Sequence[tuple[bool, bool, bool]]) -> dict[str, float]:
    """What (answered, answered right, answerable) decisions give: right decisions (right answers
    + abstentions on unanswerable questions, over all questions), answered precision, coverage
    (share answered), and abstention precision (abstentions that were on unanswerable questions)
    and recall (unanswerable questions abstained on)."""
    n = max(1, len(decisions))
    answered = [d for d in decisions if d[0]]
    abstained = [d for d in decisions if not d[0]]
    abstained_right = sum(1 for d in abstained if not d[2])
    unanswerable = sum(1 for d in decisions if not d[2])
    return {
        "right_decisions": round((sum(d[1] for d in answered) + abstained_right) / n, 4),
        "answered_precision": round(sum(d[1] for d in answered) / max(1, len(answered)), 4),
        "coverage": round(len(answered) / n, 4),
        "abstention_precision": round(abstained_right / max(1, len(abstained)), 4),
        "abstention_recall": round(abstained_right / max(1, unanswerable), 4),
    }


def main(argv: Sequence[str] | None = None) -> int:
    from rag.answer.scoring import WEIGHTS, Scorer

    p = argparse.ArgumentParser(prog="python -m eval.fit_scorer", description=__doc__.splitlines()[0])
    p.add_argument("--precision", type=float, default=PRECISION, help="answer precision the threshold must reach on the fitting data")
    p.add_argument("--out", type=Path, default=WEIGHTS, help=f"where to write the weights (default {WEIGHTS})")
    p.add_argument("--check", action="store_true", help="refit and compare with --out instead of writing it")
    p.add_argument("--cv", type=int, metavar="K", help="print K-fold cross-validated figures (grouped by question) and exit")
    args = p.parse_args(argv)
    if args.cv:
        print(json.dumps(cross_validate(args.cv, args.precision), indent=1))
        return 0
    scorer = fit(args.precision)
    if args.check:
        shipped = Scorer.load(args.out)
        same = (
            all(
                a is not None and b is not None and a.features == b.features and np.allclose(a.coef, b.coef, atol=1e-3)
                for a, b in ((shipped.unit, scorer.unit), (shipped.answer, scorer.answer), (shipped.prescore, scorer.prescore))
            )
            and abs(shipped.threshold - scorer.threshold) < 1e-3
        )
        print("weights match the refit" if same else "weights differ from the refit", file=sys.stderr)
        return 0 if same else 1
    scorer.save(args.out)
    print(json.dumps(scorer.meta, ensure_ascii=False, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
