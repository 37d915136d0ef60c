"""CBPE: estimated performance tracks the realised one on a seeded stream whose decay is known."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from weir.errors import NotFittedError, ValidationError
from weir.monitoring.cbpe import CBPE, expected

W = np.array([1.5, -1.0])
CHUNK = 1000
# 10 chunks like the reference, then covariate shift toward the decision boundary (P(y|x) is fixed).
SIGMAS = [2.0] * 10 + list(np.linspace(1.6, 0.3, 10))


def _draw(rng: np.random.Generator, n: int, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Features x ~ N(0, sigma² I); true P(y=1|x) = sigmoid(w·x); an over-confident but monotone model score."""
    logit = rng.normal(0.0, sigma, size=(n, 2)) @ W
    labels = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return 1 / (1 + np.exp(-1.8 * logit)), labels


def _realised(metric: str, labels: np.ndarray, scores: np.ndarray) -> float:
    predictions = (scores >= 0.5).astype(int)
    if metric == "accuracy":
        return float(accuracy_score(labels, predictions))
    if metric == "f1":
        return float(f1_score(labels, predictions))
    return float(roc_auc_score(labels, scores))


@pytest.fixture(scope="module")
def decay() -> tuple[pd.DataFrame, CBPE]:
    rng = np.random.default_rng(0)
    cbpe = CBPE(chunk_size=CHUNK, n_bootstrap=200).fit(*_draw(rng, 20_000, 2.0))
    chunks = [_draw(rng, CHUNK, sigma) for sigma in SIGMAS]
    scores = np.concatenate([s for s, _ in chunks])
    result = cbpe.estimate(scores)
    realised = [
        _realised(m, chunks[c][1], chunks[c][0]) for c, m in zip(result["chunk"], result["metric"], strict=True)
    ]
    return result.assign(realised=realised), cbpe


@pytest.mark.parametrize(("metric", "within"), [("accuracy", 19), ("f1", 19), ("roc_auc", 17)])
def test_estimate_tracks_realised_within_the_band(decay: tuple[pd.DataFrame, CBPE], metric: str, within: int) -> None:
    result = decay[0][lambda r: r.metric == metric]
    assert len(result) == 20
    inside = (result["realised"] - result["estimate"]).abs() <= 3 * result["standard_error"]
    assert inside.sum() >= within
    assert (result["realised"] - result["estimate"]).abs().max() < 0.05


@pytest.mark.parametrize("metric", ["accuracy", "f1", "roc_auc"])
def test_decay_is_alerted_in_shifted_chunks_only(decay: tuple[pd.DataFrame, CBPE], metric: str) -> None:
    result = decay[0][lambda r: r.metric == metric].set_index("chunk")
    assert not result.loc[0:9, "alert"].any()
    assert result.loc[12:19, "alert"].all()
    assert result.loc[19, "realised"] < result.loc[0:9, "realised"].mean() - 0.15
    assert result.loc[19, "estimate"] < result.loc[0:9, "estimate"].mean() - 0.15


def test_fitted_state_and_result_shape(decay: tuple[pd.DataFrame, CBPE]) -> None:
    result, cbpe = decay
    assert set(cbpe.thresholds_) == {"accuracy", "roc_auc", "f1"}
    for metric, (lower, upper) in cbpe.thresholds_.items():
        mean, se = cbpe.reference_mean_[metric], cbpe.standard_error_[metric]
        assert lower == pytest.approx(mean - 3 * se) and upper == pytest.approx(mean + 3 * se)
        assert 0.0 < se < 0.05
    assert (result["lower"] < result["estimate"]).all() and (result["estimate"] < result["upper"]).all()
    assert result[["start", "stop", "n"]].iloc[0].tolist() == [0, CHUNK, CHUNK]


def test_expected_metrics_with_certain_labels_are_the_realised_ones() -> None:
    rng = np.random.default_rng(4)
    scores = rng.uniform(size=300)
    labels = (rng.uniform(size=300) < scores).astype(float)
    predictions = (scores >= 0.5).astype(float)
    assert expected("accuracy", labels, predictions, scores) == pytest.approx(accuracy_score(labels, predictions))
    assert expected("f1", labels, predictions, scores) == pytest.approx(f1_score(labels, predictions))
    assert expected("roc_auc", labels, predictions, scores) == pytest.approx(roc_auc_score(labels, scores))


def test_without_calibration_scores_are_used_as_probabilities() -> None:
    rng = np.random.default_rng(5)
    scores = rng.uniform(size=2000)
    labels = (rng.uniform(size=2000) < scores).astype(int)
    cbpe = CBPE(metrics=("accuracy",), calibrate=False, chunk_size=100, n_bootstrap=20).fit(scores, labels)
    result = cbpe.estimate(np.array([0.9] * 150))
    assert result["estimate"].tolist() == pytest.approx([0.9, 0.9])
    assert result["n"].tolist() == [100, 50]
    assert result["standard_error"].iloc[1] == pytest.approx(result["standard_error"].iloc[0] * np.sqrt(2))


def test_alert_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(6)
    scores = rng.uniform(size=2000)
    cbpe = CBPE(metrics=("accuracy",), chunk_size=200, n_bootstrap=20).fit(scores, (rng.uniform(size=2000) < scores))
    with caplog.at_level(logging.WARNING, logger="weir.monitoring.cbpe"):
        assert cbpe.estimate(np.full(200, 0.5))["alert"].all()
    assert "estimated accuracy" in caplog.text


def test_not_fitted_and_bad_input() -> None:
    with pytest.raises(NotFittedError, match="fit"):
        CBPE().estimate([0.1, 0.2])
    cbpe = CBPE(n_bootstrap=10, chunk_size=10)
    with pytest.raises(ValidationError, match="align"):
        cbpe.fit([0.1, 0.2], [0])
    with pytest.raises(ValidationError, match="0/1"):
        cbpe.fit([0.1, 0.2], [0, 2])
    with pytest.raises(ValidationError, match="0/1"):
        cbpe.fit([0.1, 0.2], [0, np.nan])
    with pytest.raises(ValidationError, match="one class"):
        cbpe.fit([0.1, 0.2], [1, 1])
    with pytest.raises(ValidationError, match="NaN"):
        cbpe.fit([0.1, np.nan], [0, 1])
    with pytest.raises(ValidationError, match="Unknown"):
        CBPE(metrics=("precision",)).fit([0.1, 0.9], [0, 1])
    with pytest.raises(ValidationError, match="threshold"):
        CBPE(threshold=1.5).fit([0.1, 0.9], [0, 1])
    fitted = cbpe.fit([0.1, 0.9, 0.2, 0.8], [0, 1, 0, 1])
    with pytest.raises(ValidationError, match="empty"):
        fitted.estimate([])
    with pytest.raises(ValidationError, match="1-D"):
        fitted.estimate([[0.1, 0.2]])
