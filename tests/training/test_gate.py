"""The validation gate: its statistics against exact formulas, its rules, slices, budgets and policies."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier

import weir
from weir.errors import ValidationError
from weir.training import Gate, Rule, Scores, signatures_compatible
from weir.training.paired import mcnemar_p, paired_bootstrap


def models(n: int, right_old: float, right_new: float, seed: int = 0) -> tuple[np.ndarray, Scores, Scores]:
    """Binary labels and two models right on (about) the given shares of rows, with probabilities."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)

    def model(share: float) -> Scores:
        right = rng.random(n) < share
        predictions = np.where(right, y, 1 - y)
        confidence = rng.uniform(0.6, 1.0, n)
        return Scores(predictions, np.where(predictions == 1, confidence, 1 - confidence), (0, 1))

    return y, model(right_old), model(right_new)


def test_mcnemar_equals_the_exact_binomial_tail() -> None:
    y, old, new = models(300, 0.8, 0.85, seed=1)
    a, b = old.predictions == y, new.predictions == y
    only_new, only_old = int(np.sum(b & ~a)), int(np.sum(a & ~b))
    n = only_new + only_old
    exact = sum(math.comb(n, k) for k in range(only_new, n + 1)) / 2**n
    assert mcnemar_p(y, old, new) == pytest.approx(exact, rel=1e-12)
    assert mcnemar_p(y, old, old) == 1.0


def test_the_paired_bootstrap_interval_matches_the_normal_one_on_a_large_holdout() -> None:
    y, old, new = models(20_000, 0.80, 0.82, seed=2)
    d = (new.predictions == y).astype(float) - (old.predictions == y).astype(float)
    half = 1.644854 * d.std(ddof=1) / math.sqrt(len(d))  # one-sided bounds at 95 %
    diff = paired_bootstrap("accuracy", y, old, new, resamples=2000, confidence=0.95, seed=0)
    assert diff.improvement == pytest.approx(d.mean(), abs=1e-12)
    assert diff.low == pytest.approx(d.mean() - half, abs=0.0015)
    assert diff.high == pytest.approx(d.mean() + half, abs=0.0015)


def test_a_better_challenger_passes_and_an_equal_one_does_not() -> None:
    y, old, new = models(2000, 0.80, 0.90, seed=3)
    gate = Gate([Rule.better("accuracy", 0.02), Rule.better("roc_auc"), Rule.better("log_loss")], resamples=200)
    result = gate.evaluate(y, new, champion=old)
    assert result.passed, result.failures()
    accuracy = result.checks[0]
    assert accuracy.evidence["ci_low"] > 0.02 and accuracy.evidence["mcnemar_p"] < 0.05
    same = Gate([Rule.better("accuracy")], resamples=200).evaluate(y, old, champion=old)
    assert not same.passed and "not >" in same.checks[0].reason
    tolerant = Gate([Rule.non_inferior("accuracy", 0.02)], resamples=200).evaluate(y, old, champion=old)
    assert tolerant.passed


def test_non_inferiority_fails_a_clearly_worse_challenger() -> None:
    y, old, new = models(2000, 0.90, 0.84, seed=4)
    result = Gate([Rule.non_inferior("accuracy", 0.02)], resamples=200).evaluate(y, new, champion=old)
    assert not result.passed and result.checks[0].evidence["ci_high"] < 0


def test_regression_metrics_lower_is_better() -> None:
    rng = np.random.default_rng(5)
    y = rng.normal(size=1000)
    old, new = Scores(y + rng.normal(scale=1.0, size=1000)), Scores(y + rng.normal(scale=0.5, size=1000))
    gate = Gate([Rule.better("mae", 0.1), Rule.better("rmse"), Rule.minimum("rmse", 0.6)], resamples=200)
    result = gate.evaluate(y, new, champion=old)
    assert result.passed, result.failures()
    assert result.checks[0].evidence["improvement"] > 0.3  # old MAE ~0.8, new ~0.4


def test_slices_are_checked_with_bonferroni_and_minimum_support() -> None:
    y, old, new = models(1200, 0.80, 0.92, seed=6)
    regions = np.array(["north"] * 600 + ["south"] * 580 + ["tiny"] * 20)
    data = pd.DataFrame({"region": regions})
    gate = Gate([Rule.better("accuracy")], slices=["region"], min_slice_support=50, resamples=200)
    result = gate.evaluate(y, new, champion=old, slice_data=data)
    by_slice = {c.slice: c for c in result.checks}
    assert set(by_slice) == {None, "region=north", "region=south", "region=tiny"}
    assert by_slice["region=north"].evidence["confidence"] == pytest.approx(1 - 0.05 / 2)
    assert "skipped: 20 rows" in by_slice["region=tiny"].reason
    missing = gate.evaluate(y, new, champion=old, slice_data=pd.DataFrame({"other": regions}))
    assert not missing.passed and "slice column is missing" in missing.failures()[0].reason


def test_policies_for_the_corner_cases() -> None:
    y, old, new = models(500, 0.8, 0.9, seed=7)
    with pytest.raises(ValidationError, match="at least one rule"):
        Gate([])
    first = Gate([Rule.minimum("accuracy", 0.85), Rule.better("accuracy")], resamples=100).evaluate(y, new)
    assert first.passed and "no champion" in first.checks[1].reason and first.policy["champion"] is False
    refuse = Gate([Rule.better("accuracy")], first_model="refuse", resamples=100).evaluate(y, new)
    assert not refuse.passed
    no_scores = Gate([Rule.better("roc_auc")], resamples=100).evaluate(y, Scores(new.predictions), champion=old)
    assert not no_scores.passed and "needs the models' probabilities" in no_scores.checks[0].reason
    perfect = Scores(y.astype(float))
    zero = Gate([Rule.better("mae", 0.1, relative=True)], resamples=100).evaluate(y, perfect, champion=perfect)
    assert not zero.passed and "relative change is undefined" in zero.checks[0].reason
    with pytest.raises(ValidationError, match="no labelled rows"):
        Gate([Rule.minimum("accuracy", 0.5)], resamples=100).evaluate([], Scores(np.array([])))
    with pytest.raises(ValidationError, match="3 predictions for 500"):
        Gate([Rule.minimum("accuracy", 0.5)], resamples=100).evaluate(y, Scores(np.zeros(3)))
    with pytest.raises(ValidationError, match="not one of"):
        Rule.better("precision")


def test_budgets_and_signatures() -> None:
    y, old, new = models(300, 0.8, 0.9, seed=8)
    gate = Gate([Rule.minimum("accuracy", 0.5)], latency_budget_ms=1.0, size_budget_bytes=1000, resamples=100)
    result = gate.evaluate(y, new, champion=old, challenger_latency_ms=2.5, challenger_size_bytes=500,
                           signature_compatible=False)  # fmt: skip
    assert [(c.name, c.passed) for c in result.checks] == [
        ("minimum accuracy 0.5", True), ("latency budget", False), ("size budget", True), ("signature", False)
    ]  # fmt: skip
    inputs = {"inputs": [{"name": "x", "type": "double"}]}
    assert signatures_compatible(inputs, dict(inputs)) and not signatures_compatible(inputs, {"inputs": []})
    assert signatures_compatible(None, None)


def test_the_result_is_stored_as_a_validation_record(tmp_path: Path) -> None:
    y, old, new = models(400, 0.8, 0.95, seed=9)
    result = Gate([Rule.better("accuracy", 0.05)], resamples=100).evaluate(y, new, champion=old)
    with weir.connect(home=tmp_path) as ws:
        version = ws.models.register("m", DummyClassifier().fit([[0.0]], [0]), input_example=[[0.0]], code_path=None)
        ws.models.add_validation(version.ref, "gate", passed=result.passed, evidence=result.to_dict())
        (record,) = ws.models.validations(version.ref)
    assert record.passed and record.evidence["checks"][0]["evidence"]["mcnemar_p"] < 0.05
    assert record.evidence["policy"]["rules"] == ["better accuracy 0.05"]


def test_a_slice_with_one_class_still_scores_the_positive_class() -> None:
    from sklearn.metrics import log_loss

    y = np.array([0] * 100 + [1] * 100)
    p = np.where(y == 1, 0.9, 0.05)
    model = Scores((p > 0.5).astype(int), p)  # no classes given: the gate takes them from the whole holdout
    data = pd.DataFrame({"part": ["negatives"] * 100 + ["mixed"] * 100})
    data.loc[150:, "part"] = "negatives-too"
    gate = Gate([Rule.minimum("log_loss", 0.1)], slices=["part"], min_slice_support=10, resamples=100)
    result = gate.evaluate(y, model, slice_data=data)
    negatives = next(c for c in result.checks if c.slice == "part=negatives")
    assert negatives.evidence["challenger"] == pytest.approx(log_loss(y[:100], p[:100], labels=[0, 1]))
    assert negatives.passed  # 0.051, not the 2.996 of scoring the wrong class
