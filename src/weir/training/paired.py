"""Paired comparisons of two models on the same labelled rows: metrics, a paired bootstrap interval of
their difference, and McNemar's exact test for accuracy.

>>> import numpy as np
>>> y = np.array([0, 1, 1, 0, 1, 1, 0, 1])
>>> a = Scores(np.array([0, 1, 0, 0, 1, 0, 0, 1]))
>>> b = Scores(np.array([0, 1, 1, 0, 1, 1, 0, 1]))
>>> metric_value("accuracy", y, b) - metric_value("accuracy", y, a)
0.25
>>> round(mcnemar_p(y, a, b), 4)  # b right where a is wrong twice, never the reverse: one-sided exact
0.25
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import binomtest
from sklearn.metrics import f1_score, log_loss, roc_auc_score

from weir.errors import ValidationError

Array = np.ndarray[Any, Any]

HIGHER_IS_BETTER = {"accuracy": True, "f1": True, "roc_auc": True, "log_loss": False, "mae": False, "rmse": False}


@dataclass(frozen=True)
class Scores:
    """One model's outputs on the holdout: predicted labels (or values), and for classifiers the
    probability of the positive class (binary) or a probability matrix (columns in ``classes`` order)."""

    predictions: Array
    probabilities: Array | None = None
    classes: tuple[Any, ...] | None = None


def _per_row(metric: str, y: Array, s: Scores) -> Array | None:
    """A per-row quantity whose mean is the metric (or its square for RMSE), when there is one."""
    if metric == "accuracy":
        right: Array = np.asarray(s.predictions == y, dtype=np.float64)
        return right
    if metric == "mae":
        return np.abs(s.predictions.astype(np.float64) - y.astype(np.float64))
    if metric == "rmse":
        squared: Array = (s.predictions.astype(np.float64) - y.astype(np.float64)) ** 2
        return squared
    if metric == "log_loss" and s.probabilities is not None:
        p = _positive(s) if s.probabilities.ndim == 1 else None
        if p is not None:
            positive = _positive_label(y, s)
            p = np.clip(p, 1e-15, 1 - 1e-15)
            losses: Array = -np.where(y == positive, np.log(p), np.log(1 - p))
            return losses
    return None


def _positive(s: Scores) -> Array:
    assert s.probabilities is not None
    return s.probabilities.astype(np.float64)


def _positive_label(y: Array, s: Scores) -> Any:
    """The class whose probability a 1-D score is: the last of ``classes`` (``Gate.evaluate`` fills them
    from the whole holdout, so a slice or resample holding one class still scores the same class)."""
    if s.classes is not None:
        return s.classes[-1]
    values = np.unique(y)
    return values[-1] if len(values) else 1


def metric_value(metric: str, y: Array, s: Scores) -> float:
    """The metric of one model on rows ``y``."""
    if metric not in HIGHER_IS_BETTER:
        raise ValidationError(f"Unknown metric {metric!r}; the gate knows {', '.join(HIGHER_IS_BETTER)}.")
    rows = _per_row(metric, y, s)
    if rows is not None:
        value = float(rows.mean()) if len(rows) else math.nan
        return math.sqrt(value) if metric == "rmse" else value
    if metric in ("roc_auc", "log_loss") and s.probabilities is None:
        raise ValidationError(f"Metric {metric!r} needs the models' probabilities.")
    if metric == "f1":
        labels = np.unique(np.concatenate([y, s.predictions]))
        average = "binary" if len(labels) == 2 else "macro"
        kwargs = {"pos_label": _positive_label(y, s)} if average == "binary" else {}
        return float(f1_score(y, s.predictions, average=average, zero_division=0, **kwargs))
    if len(np.unique(y)) < 2:
        return math.nan  # AUC and multi-class log loss are undefined on one class
    if metric == "roc_auc":
        if s.probabilities is not None and s.probabilities.ndim == 2:
            return float(roc_auc_score(y, s.probabilities, multi_class="ovr", labels=list(s.classes or ())))
        return float(roc_auc_score(y == _positive_label(y, s), _positive(s)))
    assert s.probabilities is not None
    return float(log_loss(y, s.probabilities, labels=list(s.classes or ())))


@dataclass(frozen=True)
class PairedDifference:
    champion: float
    challenger: float
    improvement: float  # challenger - champion, signed so that positive is better
    low: float  # confidence interval of the improvement
    high: float
    resamples: int


def paired_bootstrap(
    metric: str, y: Array, champion: Scores, challenger: Scores, *, resamples: int, confidence: float, seed: int
) -> PairedDifference:
    """Resample the rows (the same rows for both models) and take the percentile bounds of the
    improvement: ``low`` is its one-sided lower bound at ``confidence``, ``high`` the upper one. Per-row
    metrics are vectorised; the others are recomputed per resample."""
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    first, second = metric_value(metric, y, champion), metric_value(metric, y, challenger)
    n = len(y)
    rng = np.random.default_rng(seed)
    a_rows, b_rows = _per_row(metric, y, champion), _per_row(metric, y, challenger)
    diffs = np.empty(resamples)
    done = 0
    while done < resamples:
        count = min(256, resamples - done)
        index = rng.integers(0, n, size=(count, n))
        if a_rows is not None and b_rows is not None:
            a, b = a_rows[index].mean(axis=1), b_rows[index].mean(axis=1)
            if metric == "rmse":
                a, b = np.sqrt(a), np.sqrt(b)
            diffs[done : done + count] = sign * (b - a)
        else:
            for j, i in enumerate(index):
                diffs[done + j] = sign * (
                    metric_value(metric, y[i], subset(challenger, i)) - metric_value(metric, y[i], subset(champion, i))
                )
        done += count
    finite = diffs[np.isfinite(diffs)]
    # One-sided bounds at ``confidence`` (the gate asks "is it better?", one-sided, as McNemar's test does).
    low, high = np.quantile(finite, [1 - confidence, confidence]) if len(finite) else (math.nan, math.nan)
    return PairedDifference(first, second, sign * (second - first), float(low), float(high), len(finite))


def subset(s: Scores, index: Array) -> Scores:
    """The scores of some rows."""
    return Scores(s.predictions[index], None if s.probabilities is None else s.probabilities[index], s.classes)


def with_classes(s: Scores, classes: tuple[Any, ...]) -> Scores:
    """``s`` with its classes set (if it has probabilities and none yet)."""
    if s.probabilities is None or s.classes is not None:
        return s
    return Scores(s.predictions, s.probabilities, classes)


def mcnemar_p(y: Array, champion: Scores, challenger: Scores) -> float:
    """One-sided exact McNemar test that the challenger is right more often than the champion, on the
    rows where exactly one of them is right."""
    a_right, b_right = champion.predictions == y, challenger.predictions == y
    only_b = int(np.sum(b_right & ~a_right))
    only_a = int(np.sum(a_right & ~b_right))
    if only_a + only_b == 0:
        return 1.0
    return float(binomtest(only_b, only_a + only_b, 0.5, alternative="greater").pvalue)
