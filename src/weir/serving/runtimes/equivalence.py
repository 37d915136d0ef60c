"""The check that lets onnxruntime serve a version: both runtimes predict the same on a sample.

The sample is the version's input example plus rows synthesised from it (each column resampled
independently, seed 0: :func:`weir.edge.convert.check_sample`), so a five-row example still reaches
many branches of a tree model. It
passes when the predicted labels agree on every row and no probability differs by more than
``atol``; for regression values the bound is ``atol + 1e-6 * |y|``.

>>> import numpy as np
>>> from weir.serving.runtimes.base import Prediction
>>> reference = Prediction(np.array([0, 1]), np.array([[0.9, 0.1], [0.3, 0.7]]), (0, 1))
>>> candidate = Prediction(np.array([0, 1]), np.array([[0.9, 0.1], [0.3, 0.70000002]]), (0, 1))
>>> result = compare(reference, candidate, atol=1e-5)
>>> result.passed, result.summary()
(True, 'max |Δ| 2e-08 on 2 rows, labels agree 100%')
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from weir.types import JSONDict

if TYPE_CHECKING:
    from weir.serving.runtimes.base import ModelRuntime, Prediction

logger = logging.getLogger(__name__)

RELATIVE = 1e-6
"""Regression values may also differ by this fraction of their size (float32 sums of many trees)."""


@dataclass(frozen=True)
class Equivalence:
    """The figures of one check: how far the candidate runtime is from the reference on ``rows`` rows."""

    rows: int
    max_abs_diff: float | None
    """Largest |Δ| of probabilities (classifiers) or values (regressors); ``None`` when none were compared."""
    label_agreement: float | None
    """Fraction of rows whose predicted labels agree (classifiers only)."""
    rows_beyond_tolerance: int
    """Rows whose labels differ or whose probabilities or values differ by more than the tolerance."""
    atol: float
    problem: str | None = None
    """What stopped a comparison (an error, different output shapes), if anything did."""

    @property
    def passed(self) -> bool:
        return self.problem is None and self.rows_beyond_tolerance == 0

    def summary(self) -> str:
        """The figures in words, for a runtime's ``reason``."""
        if self.problem is not None:
            return f"{self.problem} (on {self.rows} rows)"
        parts = []
        if self.max_abs_diff is not None:
            bound = "" if self.passed else f" > atol {self.atol:g}"
            parts.append(f"max |Δ| {self.max_abs_diff:.2g}{bound} on {self.rows} rows")
        else:
            parts.append(f"{self.rows} rows")
        if self.label_agreement is not None:
            disagree = round((1.0 - self.label_agreement) * self.rows)
            agree = f"labels agree {_percent(self.label_agreement)}"
            parts.append(agree if disagree == 0 else f"{agree} ({disagree} of {self.rows} rows disagree)")
        if self.rows_beyond_tolerance:
            parts.append(f"{self.rows_beyond_tolerance} of {self.rows} rows beyond tolerance")
        return ", ".join(parts)

    def to_dict(self) -> JSONDict:
        diff = self.max_abs_diff
        return {
            "rows": self.rows,
            "max_abs_diff": diff if diff is None or math.isfinite(diff) else None,
            "label_agreement": self.label_agreement,
            "rows_beyond_tolerance": self.rows_beyond_tolerance,
            "atol": self.atol,
            "passed": self.passed,
            "problem": self.problem,
        }


def _percent(fraction: float) -> str:
    if fraction == 1.0:
        return "100%"
    return f"{min(fraction * 100, 99.99):.4g}%"


def check(
    expected: Prediction, candidate: ModelRuntime, sample: pd.DataFrame | np.ndarray[Any, Any], *, atol: float
) -> Equivalence:
    """Compare ``candidate``'s predictions on ``sample`` with ``expected`` (the model's own); never raises."""
    try:
        got = candidate.predict(sample)
    except Exception as exc:
        return _failed(len(sample), atol, f"{candidate.name} fails on the check sample: {_line(exc)}")
    return compare(expected, got, atol=atol)


def compare(reference: Prediction, candidate: Prediction, *, atol: float) -> Equivalence:
    """How far ``candidate`` is from ``reference``; labels compare exactly when classes are known."""
    expected = np.asarray(reference.predictions)
    got = np.asarray(candidate.predictions)
    rows = len(expected)
    if expected.shape != got.shape:
        return _failed(rows, atol, f"output shapes differ: {list(expected.shape)} (model) vs {list(got.shape)}")
    classifier = reference.classes is not None or reference.probabilities is not None
    bad = np.zeros(rows, dtype=bool)
    label_agreement: float | None = None
    max_abs_diff: float | None = None
    if classifier:
        same = _equal(expected, got)
        label_agreement = float(same.mean()) if rows else 1.0
        bad |= ~same
        if reference.probabilities is not None:
            if candidate.probabilities is None or candidate.probabilities.shape != reference.probabilities.shape:
                shape = None if candidate.probabilities is None else list(candidate.probabilities.shape)
                return _failed(
                    rows, atol, f"probability shapes differ: {list(reference.probabilities.shape)} (model) vs {shape}"
                )
            if reference.classes != candidate.classes:
                return _failed(rows, atol, f"class order differs: {reference.classes} (model) vs {candidate.classes}")
            diff = _abs_diff(reference.probabilities, candidate.probabilities)
            max_abs_diff = float(diff.max()) if diff.size else 0.0
            bad |= (diff > atol).reshape(rows, -1).any(axis=1)
    else:
        try:
            values = expected.astype(np.float64)
        except (ValueError, TypeError):
            same = _equal(expected, got)
            bad |= ~same.reshape(rows, -1).all(axis=1) if rows else bad
        else:
            diff = _abs_diff(values, got.astype(np.float64))
            max_abs_diff = float(diff.max()) if diff.size else 0.0
            tolerance = atol + RELATIVE * np.abs(np.nan_to_num(values))
            bad |= (diff > tolerance).reshape(rows, -1).any(axis=1)
    return Equivalence(
        rows=rows,
        max_abs_diff=max_abs_diff,
        label_agreement=label_agreement,
        rows_beyond_tolerance=int(bad.sum()),
        atol=atol,
    )


def _equal(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    same = np.asarray(a == b, dtype=bool)
    if a.dtype.kind == "f" and b.dtype.kind == "f":
        same |= np.isnan(a) & np.isnan(b)
    return same if same.shape == a.shape else np.zeros(a.shape, dtype=bool)


def _abs_diff(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """|a - b|, with 0 where both are NaN and infinity where only one is."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        diff: np.ndarray[Any, Any] = np.abs(a - b)
    diff[(a == b) | (np.isnan(a) & np.isnan(b))] = 0.0
    diff[np.isnan(diff)] = np.inf
    return diff


def _failed(rows: int, atol: float, problem: str) -> Equivalence:
    return Equivalence(
        rows=rows, max_abs_diff=None, label_agreement=None, rows_beyond_tolerance=rows, atol=atol, problem=problem
    )


def _line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    message = lines[0] if lines else type(exc).__name__
    return message if len(message) <= 300 else message[:297] + "..."
