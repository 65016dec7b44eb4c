"""The calibrated answer scorer: which unit answers, and how likely that answer is right.

Replaces the hand-tuned coverage floors and most vetoes of the extractive answerer with two small
logistic regressions, fitted by ``python -m eval.fit_scorer`` on the fitting questions (eval/train)
and the dev half of eval/gold.jsonl:

* the **unit model** ranks the candidate units of a question (every clause or sentence of the top
  passages) by P(this unit holds the answer), from the features of :data:`FEATURES` computed by
  :mod:`rag.answer.extractive`;
* the **answer model** gives P(the best unit's answer is right) from that unit's features, its
  unit-model probability and its margin over the runner-up (:data:`ANSWER_FEATURES`): the
  answer's confidence. The answerer abstains below ``threshold``, chosen on the fitting data for a
  stated answer precision.

Dense similarity of the question to each unit (:data:`SEMANTIC_FEATURES`) needs the embedding
model, which costs milliseconds per unit: the **pre-score model** (the unit model without those
features) picks the :data:`SEMANTIC_UNITS` best candidates, only those are embedded
(:mod:`rag.answer.similarity`), and the unit model scores every unit (the others, and every unit
when the scorer has no embed function, read the fitted mean: unknown).

The weights live in ``scorer.json`` beside this module (JSON, no pickle); inference is a few dot
products and sigmoids.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

WEIGHTS = Path(__file__).resolve().parent / "scorer.json"

# Every feature is a float in a small range; booleans are 0/1; None = unknown (the fitted mean).
# Order is the weight vector's. The pre-score model reads BASE_FEATURES.
BASE_FEATURES: tuple[str, ...] = (
    "coverage",  # idf-weighted share of the question's topic words in the unit (context counts less)
    "coverage_unit",  # the same, words of the unit itself only
    "bigram",  # share of the question's keyword bigrams found contiguous in the unit
    "passage_rr",  # 1 / rank of the passage in the fused list
    "dense_rr",  # 1 / rank of the passage in the dense list (0 when not in it)
    "similarity",  # cosine of the question and the passage (e5: 0.7–0.9; 0 when not in the dense list)
    "lexical_rr",  # 1 / best rank of the passage in the BM25 lists (0 when in neither)
    "first_passage",  # the unit is in the top passage
    "typed",  # the question asks for a typed span (quantity, person, date, place)
    "span",  # typed, and the unit has an acceptable span of that type
    "span_prev",  # typed, and the span is only in the previous sentence of its paragraph
    "span_pref",  # preference of the chosen span (unit, role, change… agreement; ≤ 0 when doubtful)
    "no_span",  # typed, and no acceptable span
    "entities",  # how many entities the question names
    "entities_in_sentence",  # how many of them the sentence itself names
    "entity_missing",  # an entity of the question is named nowhere in the unit's context
    "year_missing",  # the question's year is not stated for this unit
    "wider_scope",  # the sentence speaks of a wider scope than the named unit (toàn tỉnh…)
    "partial_period",  # a full-year question, a part-year figure
    "part_scope",  # the figure's clause opens with a part of the unit ("Khoa Nhi hiện có …"), rag/answer/qualifiers.py
    "part_of_total",  # the same, and the question asks a total ("tổng cộng")
    "shortage",  # a shortage or need before the figure ("thiếu khoảng …") the question does not ask
    "many_places",  # one district asked, the sentence speaks of several ("tại ba huyện")
    "money_missing",  # money asked ("giá bao nhiêu"), the span is no amount of money
    "plan_unasked",  # the sentence states a plan or target ("phấn đấu …", "sẽ …"), the question asks none
    "other_level",  # the question names a level ("tuyến xã"), the sentence only others ("tuyến tỉnh")
    "any_doubt",  # any of the qualifier doubts above (part_scope … other_level)
    "novelty",  # share of the unit's words that the question does not already contain
    "length",  # log of the unit's length in characters, scaled
    "kind_quantity",
    "kind_person",
    "kind_date",
    "kind_place",
    "kind_list",
    "kind_other",
    "coverage_x_span",  # interactions a linear model cannot form itself
    "coverage_x_first",
    "coverage_x_no_span",
    "coverage_x_entity_missing",
    "dense_x_lexical",
    "span_x_first",
)
SEMANTIC_FEATURES: tuple[str, ...] = (
    "unit_similarity",  # cosine of the question and the unit in its context (title + sentence)
)
FEATURES: tuple[str, ...] = (*BASE_FEATURES, *SEMANTIC_FEATURES)
SEMANTIC_UNITS = 6  # candidates embedded per question: the best by the pre-score model
# question, unit texts -> cosines (rag.answer.similarity.UnitEmbedder.bind)
EmbedFn = Callable[[str, Sequence[str]], Sequence[float]]
ANSWER_FEATURES: tuple[str, ...] = ("unit_p", "margin", *FEATURES)


@dataclass(frozen=True)
class Logistic:
    """Standardised logistic regression: P = σ(b + Σ wᵢ (xᵢ − μᵢ) / sᵢ)."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def probability(self, values: Mapping[str, float | None]) -> float:
        z = self.intercept
        for name, mu, s, w in zip(self.features, self.mean, self.scale, self.coef):
            value = values.get(name)
            if value is not None:  # an unknown feature sits at its mean: it moves nothing
                z += w * ((float(value) - mu) / s)
        return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))

    def probabilities(self, rows: Sequence[Mapping[str, float]]) -> list[float]:
        return [self.probability(r) for r in rows]

    @classmethod
    def neutral(cls, features: tuple[str, ...]) -> Logistic:
        """P = 0.5 for everything (features are still computed: what the fitting script needs)."""
        n = len(features)
        return cls(features, (0.0,) * n, (1.0,) * n, (0.0,) * n, 0.0)

    def to_json(self) -> dict[str, Any]:
        return {"features": list(self.features), "mean": list(self.mean), "scale": list(self.scale), "coef": list(self.coef), "intercept": self.intercept}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Logistic:
        names = tuple(data["features"])
        arrays = [tuple(float(x) for x in data[k]) for k in ("mean", "scale", "coef")]
        if any(len(a) != len(names) for a in arrays) or any(s <= 0 for s in arrays[1]):
            raise ValueError("scorer weights: mean, scale and coef must match the features (scale > 0)")
        return cls(names, *arrays, float(data["intercept"]))


@dataclass(frozen=True)
class Scorer:
    """The unit model, the answer model, the abstention threshold, and what the semantic
    features need: the pre-score model and an optional embed function (not serialised)."""

    unit: Logistic
    answer: Logistic
    threshold: float  # answer when the answer model's P is at least this
    meta: dict[str, Any] = field(default_factory=dict)
    prescore: Logistic | None = None  # the unit model without SEMANTIC_FEATURES: which units to embed
    embed: EmbedFn | None = field(default=None, compare=False, repr=False)

    def with_embedder(self, embed: EmbedFn | None) -> Scorer:
        """This scorer computing the semantic features with ``embed`` (None: without them)."""
        return replace(self, embed=embed)

    def probability(self, values: Mapping[str, float]) -> float:
        """P(this unit holds the answer)."""
        return self.unit.probability(values)

    def confidence(self, best: Mapping[str, float], best_p: float, runner_up_p: float) -> float:
        """P(the answer drawn from the best unit is right)."""
        return self.answer.probability({**best, "unit_p": best_p, "margin": best_p - runner_up_p})

    @classmethod
    def neutral(cls) -> Scorer:
        return cls(Logistic.neutral(FEATURES), Logistic.neutral(ANSWER_FEATURES), 0.0)

    def to_json(self) -> dict[str, Any]:
        out = {"unit": self.unit.to_json(), "answer": self.answer.to_json(), "threshold": self.threshold, "meta": self.meta}
        if self.prescore is not None:
            out["prescore"] = self.prescore.to_json()
        return out

    def save(self, path: Path = WEIGHTS) -> None:
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Scorer:
        prescore = Logistic.from_json(data["prescore"]) if "prescore" in data else None
        return cls(Logistic.from_json(data["unit"]), Logistic.from_json(data["answer"]), float(data["threshold"]), dict(data.get("meta", {})), prescore)

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> Scorer:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def default_scorer() -> Scorer:
    """The shipped weights (``scorer.json``), loaded once."""
    return Scorer.load(WEIGHTS)


__all__ = [
    "ANSWER_FEATURES",
    "BASE_FEATURES",
    "EmbedFn",
    "FEATURES",
    "Logistic",
    "SEMANTIC_FEATURES",
    "SEMANTIC_UNITS",
    "Scorer",
    "WEIGHTS",
    "default_scorer",
]
