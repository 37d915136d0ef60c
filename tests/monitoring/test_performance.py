"""Realised performance: equal to scikit-learn, per window and version, and every bad input handled."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, log_loss, mean_absolute_error, mean_squared_error, roc_auc_score

from weir.errors import ValidationError
from weir.monitoring.performance import performance, performance_by_window


@pytest.mark.parametrize("seed", range(5))
def test_binary_metrics_equal_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    score = rng.uniform(size=400)
    y = (rng.uniform(size=400) < score).astype(int)
    pred = (score >= 0.5).astype(int)
    result = performance(y, pred, score)
    assert result["n"] == 400
    assert result["reason"] == ""
    assert result["accuracy"] == pytest.approx(accuracy_score(y, pred), abs=1e-12)
    assert result["f1"] == pytest.approx(f1_score(y, pred), abs=1e-12)
    assert result["roc_auc"] == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert result["log_loss"] == pytest.approx(log_loss(y, score), abs=1e-12)
    assert performance(y, y_score=score)["accuracy"] == result["accuracy"]


def test_multiclass_metrics_equal_scikit_learn() -> None:
    rng = np.random.default_rng(1)
    proba = rng.dirichlet(np.ones(3), size=600)
    y = np.array([rng.choice(3, p=row) for row in proba])
    pred = proba.argmax(1)
    result = performance(y, pred, proba)
    assert result["accuracy"] == pytest.approx(accuracy_score(y, pred), abs=1e-12)
    assert result["f1"] == pytest.approx(f1_score(y, pred, average="macro"), abs=1e-12)
    assert result["roc_auc"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr", average="macro"), abs=1e-12)
    assert result["log_loss"] == pytest.approx(log_loss(y, proba), abs=1e-12)


def test_regression_metrics_equal_scikit_learn() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(size=300)
    pred = y + rng.normal(scale=0.3, size=300)
    result = performance(y, pred, task="regression")
    assert result["mae"] == pytest.approx(mean_absolute_error(y, pred), abs=1e-12)
    assert result["rmse"] == pytest.approx(math.sqrt(mean_squared_error(y, pred)), abs=1e-12)
    assert set(result) == {"n", "n_unlabelled", "mae", "rmse", "reason"}


def test_missing_labels_are_dropped_and_counted() -> None:
    result = performance([1, None, 0, float("nan")], [1, 1, 0, 0], [0.9, 0.8, 0.1, 0.3])
    assert (result["n"], result["n_unlabelled"], result["accuracy"], result["roc_auc"]) == (2, 2, 1.0, 1.0)
    nothing = performance([None, None], [1, 0], [0.2, 0.7])
    assert nothing["n"] == 0 and nothing["reason"] == "no labels" and math.isnan(nothing["accuracy"])


def test_single_class_gives_nan_auc_with_a_reason() -> None:
    result = performance([1, 1, 1], [1, 0, 1], [0.9, 0.4, 0.8])
    assert math.isnan(result["roc_auc"])
    assert "roc_auc: only one class" in result["reason"]
    assert result["accuracy"] == pytest.approx(2 / 3)
    assert np.isfinite(result["log_loss"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y_true": [0, 1, 1], "y_pred": [0, 1]}, "3 rows"),
        ({"y_true": [0, 1], "y_score": [0.1, 0.2, 0.3]}, "3"),
        ({"y_true": [0, 1]}, "needs y_pred, y_score"),
        ({"y_true": [0, 1], "y_pred": [0, None]}, "missing values"),
        ({"y_true": [0, 1], "y_score": [0.1, float("nan")]}, "NaN or infinite"),
        ({"y_true": [0, 1], "y_pred": [0, 1], "task": "ranking"}, "Unknown task"),
        ({"y_true": [0.5, 1.0], "task": "regression"}, "needs y_pred"),
        ({"y_true": [0, 1, 2], "y_score": np.full((3, 2), 0.5)}, "pass labels="),
    ],
)
def test_bad_input_raises_a_clear_validation_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        performance(**kwargs)  # type: ignore[arg-type]


def _log(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 600
    score = rng.uniform(size=n)
    label = (rng.uniform(size=n) < score).astype(float)
    label[rng.uniform(size=n) < 0.2] = np.nan
    times = pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.uniform(0, 3 * 86400, size=n), unit="s")
    return pd.DataFrame(
        {
            "ts": times,
            "version": rng.choice([1, 2], size=n),
            "label": label,
            "prediction": (score >= 0.5) * 1,
            "p": score,
        }
    )


def test_time_windows_per_version_match_direct_computation() -> None:
    log = _log()
    table = performance_by_window(log, time_column="ts", window="1D", score_columns="p")
    assert len(table) == 6
    assert list(table.columns[:5]) == ["version", "window_start", "window_end", "n_predictions", "n"]
    assert table["n_predictions"].sum() == len(log)
    for row in table.itertuples():
        part = log[(log.version == row.version) & (log.ts.dt.floor("1D") == row.window_start)].dropna(subset=["label"])
        assert row.n == len(part)
        assert row.accuracy == pytest.approx(accuracy_score(part.label, part.prediction))
        assert row.roc_auc == pytest.approx(roc_auc_score(part.label, part.p))
        assert row.window_end - row.window_start == pd.Timedelta("1D")


def test_row_count_windows_without_groups() -> None:
    log = _log()
    table = performance_by_window(log, time_column="ts", window=250, group_by=(), score_columns="p")
    assert table["n_predictions"].tolist() == [250, 250, 100]
    ordered = log.sort_values("ts", kind="stable").iloc[:250].dropna(subset=["label"])
    assert table["f1"].iloc[0] == pytest.approx(f1_score(ordered.label, ordered.prediction))


def test_windows_without_labels_or_with_one_class_are_nan_with_reasons() -> None:
    log = pd.DataFrame(
        {
            "ts": pd.to_datetime(["2024-01-01 01:00", "2024-01-01 02:00", "2024-01-02 01:00", "2024-01-02 02:00"]),
            "version": ["a"] * 4,
            "label": [1, 1, None, None],
            "prediction": [1, 0, 1, 0],
            "p": [0.9, 0.4, 0.8, 0.3],
        }
    )
    table = performance_by_window(log, time_column="ts", window="1D", score_columns=["p"])
    first, second = table.to_dict("records")
    assert first["accuracy"] == 0.5 and math.isnan(first["roc_auc"]) and "only one class" in first["reason"]
    assert second["n"] == 0 and second["reason"] == "no labels" and math.isnan(second["accuracy"])


def test_window_bad_input_raises() -> None:
    log = _log()
    with pytest.raises(ValidationError, match="not in the frame"):
        performance_by_window(log, time_column="ts", score_columns="missing")
    with pytest.raises(ValidationError, match="at least 1"):
        performance_by_window(log, time_column="ts", window=0)
    with pytest.raises(ValidationError, match="Cannot cut"):
        performance_by_window(log, time_column="ts", window="1ME")
