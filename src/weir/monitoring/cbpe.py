r"""CBPE: performance of a binary classifier estimated without labels, from its calibrated scores.

Confidence-based performance estimation (NannyML's CBPE). On a labelled reference, ``fit`` learns an
isotonic calibration map :math:`s \mapsto \hat p = P(y=1 \mid s)` (scikit-learn's
``IsotonicRegression``, as NannyML). On later, unlabelled chunks each row's predicted class is
:math:`\hat y = 1[s \ge \text{threshold}]` and its label is treated as a Bernoulli(:math:`\hat p`) draw:

- **accuracy**: :math:`\frac1n\sum_i \hat p_i \hat y_i + (1-\hat p_i)(1-\hat y_i)`;
- **f1**: from the expected confusion matrix, :math:`TP=\sum \hat p\hat y`, :math:`FP=\sum(1-\hat p)\hat y`,
  :math:`FN=\sum \hat p(1-\hat y)`, :math:`F_1 = 2TP/(2TP+FP+FN)`;
- **roc_auc**: the area under the *expected* ROC curve (NannyML's formula): at each score threshold the
  TPR and FPR are built from expected true and false positives, which is the same as scikit-learn's
  ``roc_auc_score`` on every row counted once as a positive with weight :math:`\hat p` and once as a
  negative with weight :math:`1-\hat p`. Deterministic; no Monte Carlo.

**Uncertainty band** (``lower``/``upper``): estimate ± 3 standard errors, where the standard error is the
sampling spread of the *realised* metric at this chunk size, measured at ``fit`` by ``n_bootstrap``
resamples of ``chunk_size`` reference rows (scaled by :math:`\sqrt{\text{chunk\_size}/n}` for a shorter
last chunk). The **thresholds** are that bootstrap distribution's mean ± 3 standard deviations (clipped to
[0, 1]); ``alert`` is set when an estimate leaves them.

**Assumption: no concept drift.** CBPE assumes :math:`P(y \mid x)` (hence the calibration map) is the same as
on the reference; it estimates the decay caused by covariate shift (data moving to regions where the
model is less sure). If the relation between features and labels changes, the estimate is wrong and only
realised performance (:mod:`weir.monitoring.performance`) will show it.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> scores = rng.uniform(size=2000)
>>> labels = (rng.uniform(size=2000) < scores).astype(int)
>>> cbpe = CBPE(metrics=("accuracy",), chunk_size=500, n_bootstrap=50).fit(scores, labels)
>>> result = cbpe.estimate(rng.uniform(0.4, 0.6, size=1000))
>>> result[["chunk", "n", "metric", "alert"]].values.tolist()
[[0, 500, 'accuracy', True], [1, 500, 'accuracy', True]]
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score

from weir.errors import NotFittedError, ValidationError

logger = logging.getLogger(__name__)

Array = np.ndarray[Any, np.dtype[np.float64]]
SUPPORTED_METRICS = ("accuracy", "f1", "roc_auc")


def _scores(values: Any, what: str) -> Array:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"The {what} must be numeric probabilities: {exc}.") from exc
    if array.ndim != 1:
        raise ValidationError(f"The {what} must be 1-D (the positive-class score); got shape {array.shape}.")
    if array.size == 0:
        raise ValidationError(f"The {what} are empty; CBPE needs at least one score.")
    if not np.isfinite(array).all():
        raise ValidationError(f"The {what} contain NaN or infinite values; drop those rows first.")
    return array


def realised(metric: str, labels: Array, predictions: Array, scores: Array) -> float:
    """The realised metric from true 0/1 labels (NaN where undefined, e.g. one class for ROC AUC)."""
    return expected(metric, labels, predictions, scores)


def expected(metric: str, p: Array, predictions: Array, scores: Array) -> float:
    """The metric expected when each label is Bernoulli(``p``); with 0/1 ``p`` it is the realised metric."""
    if metric == "accuracy":
        return float(np.mean(p * predictions + (1.0 - p) * (1.0 - predictions)))
    if metric == "f1":
        tp = float(np.sum(p * predictions))
        wrong = float(np.sum((1.0 - p) * predictions) + np.sum(p * (1.0 - predictions)))
        return 2 * tp / (2 * tp + wrong) if 2 * tp + wrong > 0 else math.nan
    positives = float(p.sum())
    if positives <= 0 or positives >= p.size:
        return math.nan
    both = np.concatenate([scores, scores])
    truth = np.concatenate([np.ones_like(p), np.zeros_like(p)])
    return float(roc_auc_score(truth, both, sample_weight=np.concatenate([p, 1.0 - p])))


class CBPE:
    """Estimate accuracy, F1 and ROC AUC of a binary classifier from its scores alone (see the module doc).

    Parameters (keyword-only): ``metrics`` (a subset of ``accuracy``, ``f1``, ``roc_auc``), ``chunk_size``
    (rows per chunk), ``calibrate`` (isotonic calibration on the reference; ``False`` trusts the scores as
    probabilities), ``threshold`` (score at or above which the model predicts 1), ``n_bootstrap``
    (reference resamples for the standard error and thresholds), ``random_state``.

    Learned state: ``calibrator_``, ``reference_performance_`` (realised on the whole reference),
    ``reference_mean_``, ``standard_error_`` (at ``chunk_size``), ``thresholds_`` (lower, upper).
    """

    def __init__(
        self,
        *,
        metrics: Sequence[str] = ("accuracy", "roc_auc", "f1"),
        chunk_size: int = 500,
        calibrate: bool = True,
        threshold: float = 0.5,
        n_bootstrap: int = 200,
        random_state: int | None = 0,
    ) -> None:
        self.metrics = metrics
        self.chunk_size = chunk_size
        self.calibrate = calibrate
        self.threshold = threshold
        self.n_bootstrap = n_bootstrap
        self.random_state = random_state

    def _check_params(self) -> tuple[str, ...]:
        metrics = tuple(self.metrics)
        unknown = [m for m in metrics if m not in SUPPORTED_METRICS]
        if unknown or not metrics:
            raise ValidationError(f"Unknown or no metrics {unknown or metrics}; choose from {SUPPORTED_METRICS}.")
        if int(self.chunk_size) < 1:
            raise ValidationError(f"chunk_size must be at least 1; got {self.chunk_size}.")
        if int(self.n_bootstrap) < 2:
            raise ValidationError(f"n_bootstrap must be at least 2; got {self.n_bootstrap}.")
        if not 0.0 < float(self.threshold) < 1.0:
            raise ValidationError(f"threshold must lie strictly between 0 and 1; got {self.threshold}.")
        return metrics

    def _calibrated(self, scores: Array) -> Array:
        if self.calibrator_ is None:
            return np.clip(scores, 0.0, 1.0)
        return np.asarray(self.calibrator_.predict(scores), dtype=np.float64)

    def fit(self, reference_scores: Any, reference_labels: Any) -> CBPE:
        """Calibrate on the labelled reference and record its performance and chunk-level spread."""
        metrics = self._check_params()
        scores = _scores(reference_scores, "reference scores")
        labels = np.asarray(reference_labels)
        if labels.shape != scores.shape:
            raise ValidationError(f"{scores.size} reference scores but labels of shape {labels.shape}; align them.")
        if pd.isna(labels).any() or not set(np.unique(labels).tolist()) <= {0, 1}:
            raise ValidationError("Reference labels must be 0/1 (or False/True) without missing values.")
        y = labels.astype(np.float64)
        if len(np.unique(y)) < 2:
            raise ValidationError("The reference holds one class only; CBPE needs both to calibrate and compare.")
        if not self.calibrate and (scores.min() < 0 or scores.max() > 1):
            raise ValidationError("With calibrate=False the scores must be probabilities in [0, 1].")
        self.calibrator_: IsotonicRegression | None = None
        if self.calibrate:
            self.calibrator_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, y)
        predictions = (scores >= self.threshold).astype(np.float64)
        self.reference_performance_ = {m: realised(m, y, predictions, scores) for m in metrics}
        rng = np.random.default_rng(self.random_state)
        draws = rng.integers(0, scores.size, size=(int(self.n_bootstrap), int(self.chunk_size)))
        self.reference_mean_: dict[str, float] = {}
        self.standard_error_: dict[str, float] = {}
        self.thresholds_: dict[str, tuple[float, float]] = {}
        for m in metrics:
            values = np.array([realised(m, y[d], predictions[d], scores[d]) for d in draws])
            mean, std = float(np.nanmean(values)), float(np.nanstd(values, ddof=1))
            self.reference_mean_[m], self.standard_error_[m] = mean, std
            self.thresholds_[m] = (max(0.0, mean - 3 * std), min(1.0, mean + 3 * std))
        return self

    def estimate(self, scores: Any) -> pd.DataFrame:
        """One row per chunk and metric: estimate, standard error, band, thresholds and ``alert``."""
        if not hasattr(self, "thresholds_"):
            raise NotFittedError("This CBPE is not fitted yet; call fit(reference_scores, reference_labels) first.")
        values = _scores(scores, "scores")
        p = self._calibrated(values)
        predictions = (values >= self.threshold).astype(np.float64)
        size = int(self.chunk_size)
        rows: list[dict[str, Any]] = []
        for chunk, start in enumerate(range(0, values.size, size)):
            stop = min(start + size, values.size)
            part = slice(start, stop)
            n = stop - start
            for m in self.thresholds_:
                value = expected(m, p[part], predictions[part], values[part])
                se = self.standard_error_[m] * math.sqrt(size / n)
                lower, upper = self.thresholds_[m]
                alert = bool(not math.isnan(value) and not lower <= value <= upper)
                rows.append(
                    {
                        "chunk": chunk,
                        "start": start,
                        "stop": stop,
                        "n": n,
                        "metric": m,
                        "estimate": value,
                        "standard_error": se,
                        "lower": value - 3 * se,
                        "upper": value + 3 * se,
                        "reference": self.reference_performance_[m],
                        "lower_threshold": lower,
                        "upper_threshold": upper,
                        "alert": alert,
                    }
                )
                if alert:
                    logger.warning(
                        "CBPE: estimated %s %.3f in chunk %d leaves [%.3f, %.3f]", m, value, chunk, lower, upper
                    )
        return pd.DataFrame(rows)
