"""The shipped scorer weights are what the refit script produces from the fitting data (never test data)."""

from __future__ import annotations

import numpy as np
import pytest

from eval.fit_scorer import FIT_SETS, fit
from eval.gold import load_gold
from eval.split import split_items
from rag.answer.scoring import Scorer


def test_fitting_data_holds_no_test_question():
    gold = next(g for g, _, part in FIT_SETS if part == "dev")
    items = load_gold(gold)
    dev, test = split_items(items, "dev"), split_items(items, "test")
    assert {i.id for i in dev}.isdisjoint(i.id for i in test)
    assert all("eval/extra" not in str(g) and "viquad" not in str(g) for g, _, _ in FIT_SETS)


@pytest.mark.slow
def test_shipped_weights_match_a_refit():
    shipped = Scorer.load()
    refit = fit(shipped.meta["target_precision"])
    for a, b in ((shipped.unit, refit.unit), (shipped.answer, refit.answer), (shipped.prescore, refit.prescore)):
        assert a.features == b.features
        # ONNX on a CPU is deterministic up to float rounding: weights agree to a few hundredths
        assert np.allclose(a.coef, b.coef, atol=0.05), np.abs(np.array(a.coef) - np.array(b.coef)).max()
    assert abs(shipped.threshold - refit.threshold) < 0.05
    assert shipped.meta["questions"] == refit.meta["questions"]
