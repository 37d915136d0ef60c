"""The contract of a multivariate two-sample drift test, its result and its input checks.

A multivariate test compares whole rows, so it sees what per-column tests cannot: a change in how
features move together. It follows the detector contract (DESIGN convention 2): ``fit(reference)``
learns the reference (state ending in ``_``), ``test(current)`` returns a :class:`MultivariateResult`,
and ``test`` before ``fit`` raises a :class:`~weir.errors.ValidationError` that says to call ``fit``.

**Input.** Rows × columns of numbers: a 2-D array (a 1-D array is one column) or a DataFrame. Booleans
count as 0/1. When both sides are DataFrames the current columns are matched to the reference's by name
(order may differ; missing or unexpected names raise a ``ValidationError`` naming them); otherwise they
are matched by position and their number must agree. Non-numeric columns and infinite values raise a
``ValidationError`` naming the column.

**Missing values** are imputed with the reference column medians learned by ``fit``: dropping rows with
any NaN could throw most rows away, and a feature that starts to go missing shows up as a spike at the
median, which the tests see. ``details["missing_imputed"]`` counts them per column. A reference column
with no value at all raises a ``ValidationError``.

**Too little data.** With fewer than ``min_samples`` rows on either side the result has statistic and
p-value NaN, ``drifted`` False and ``not_enough_data`` True: a clear verdict, never a crash.

>>> result = MultivariateResult("mmd", 0.02, 0.001, 0.05, True, 500, 400)
>>> result.verdict, result.to_dict()["p_value"]
('drift', 0.001)
"""

from __future__ import annotations

import math
import numbers
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Self

import numpy as np
import numpy.typing as npt
import pandas as pd

from weir.errors import NotFittedError, ValidationError

FloatMatrix = npt.NDArray[np.float64]
Verdict = Literal["drift", "no drift", "not enough data"]


@dataclass(frozen=True)
class MultivariateResult:
    """One multivariate test of current rows against reference rows.

    ``statistic`` is the test's own (ROC AUC, MMD²); ``threshold`` is the significance level: the data
    drifted when ``p_value < threshold``. ``n_reference`` and ``n_current`` count the rows given (the
    rows actually used after subsampling are in ``details["n_used"]``).
    """

    test: str
    statistic: float
    p_value: float
    threshold: float
    drifted: bool
    n_reference: int
    n_current: int
    details: dict[str, Any] = field(default_factory=dict)
    not_enough_data: bool = False

    @property
    def verdict(self) -> Verdict:
        """``"drift"``, ``"no drift"`` or ``"not enough data"``."""
        if self.not_enough_data:
            return "not enough data"
        return "drift" if self.drifted else "no drift"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the verdict; NaN becomes ``None``."""
        body = {key: getattr(self, key) for key in self.__dataclass_fields__}
        for key in ("statistic", "p_value"):
            body[key] = None if math.isnan(body[key]) else float(body[key])
        return body | {"verdict": self.verdict}


def check_int(owner: str, name: str, value: object, minimum: int) -> None:
    """Refuse a parameter that is not an integer ``>= minimum``, naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < minimum:
        raise ValidationError(
            f"{owner} parameter '{name}' must be an integer >= {minimum}; got {value!r}.", parameter=name
        )


def check_level(owner: str, name: str, value: object) -> None:
    """Refuse a significance level outside (0, 1), naming it."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and 0.0 < float(value) < 1.0
    if not ok:
        raise ValidationError(f"{owner} parameter '{name}' must be a number in (0, 1); got {value!r}.", parameter=name)


def as_rows(data: object, side: str) -> tuple[FloatMatrix, tuple[str, ...] | None]:
    """``data`` as float64 rows × columns, and its column names when it is a DataFrame."""
    names: tuple[str, ...] | None = None
    if isinstance(data, pd.DataFrame):
        names = tuple(str(name) for name in data.columns)
        if len(set(names)) != len(names):
            raise ValidationError(f"The {side} data repeats column names {sorted(names)}; give each column one name.")
        bad = [str(name) for name in data.columns if not pd.api.types.is_numeric_dtype(data[name])]
        if bad:
            raise ValidationError(
                f"The {side} data has non-numeric column(s) {bad}; encode them as numbers or leave them out.",
                side=side,
                columns=bad,
            )
        array = data.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        raw = np.asarray(data)
        if raw.dtype.kind == "O":
            try:
                raw = np.where(pd.isna(raw), np.nan, raw).astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise ValidationError(f"The {side} data holds non-numeric values ({exc}).", side=side) from exc
        if raw.dtype.kind not in "iufb":
            raise ValidationError(f"The {side} data has dtype {raw.dtype}, not numeric; encode it as numbers.")
        array = raw.astype(np.float64).reshape(-1, 1) if raw.ndim == 1 else raw.astype(np.float64)
    if array.ndim != 2 or array.shape[1] == 0:
        raise ValidationError(f"The {side} data must be rows × columns, with columns; got shape {array.shape}.")
    infinite = np.isinf(array).any(axis=0)
    if infinite.any():
        labels = [names[i] if names else str(i) for i in np.flatnonzero(infinite)]
        raise ValidationError(
            f"Column(s) {labels} of the {side} data hold infinite values; replace them with NaN or finite values.",
            side=side,
            columns=labels,
        )
    return array, names


def align(rows: FloatMatrix, names: tuple[str, ...] | None, reference: tuple[str, ...], named: bool) -> FloatMatrix:
    """``rows`` with its columns in the reference's order; refuses missing, extra or miscounted columns."""
    if named and names is not None:
        missing = [name for name in reference if name not in names]
        extra = [name for name in names if name not in reference]
        if missing or extra:
            raise ValidationError(
                f"The current data's columns differ from the reference's: missing {missing}, unexpected {extra}; "
                "pass the columns the test was fitted on.",
                missing=missing,
                unexpected=extra,
            )
        position = {name: i for i, name in enumerate(names)}
        return rows[:, [position[name] for name in reference]]
    if rows.shape[1] != len(reference):
        raise ValidationError(
            f"The reference has {len(reference)} column(s) but the current data has {rows.shape[1]}; "
            "pass the same columns, in the same order, on both sides.",
            reference_columns=len(reference),
            current_columns=rows.shape[1],
        )
    return rows


def impute(rows: FloatMatrix, medians: FloatMatrix, columns: tuple[str, ...]) -> tuple[FloatMatrix, dict[str, int]]:
    """``rows`` with NaN replaced by ``medians``, and the count replaced per column (only those > 0)."""
    missing = np.isnan(rows)
    counts = missing.sum(axis=0)
    filled = np.where(missing, medians, rows) if counts.any() else rows
    return filled, {columns[i]: int(counts[i]) for i in np.flatnonzero(counts)}


def subsample(rows: FloatMatrix, limit: int, rng: np.random.Generator) -> FloatMatrix:
    """At most ``limit`` rows drawn without replacement (all rows, in order, when there are few enough)."""
    if rows.shape[0] <= limit:
        return rows
    return rows[np.sort(rng.choice(rows.shape[0], size=limit, replace=False))]


class MultivariateDriftTest(ABC):
    """Base of the multivariate tests: input handling, imputation and the not-enough-data verdict."""

    name: ClassVar[str]
    alpha: float
    max_samples: int
    min_samples: int
    random_state: int | None

    columns_: tuple[str, ...]
    medians_: FloatMatrix
    n_reference_: int
    reference_missing_: dict[str, int]
    _named: bool

    def fit(self, reference: object) -> Self:
        """Learn the reference rows (subsampled to ``max_samples``), their column medians and names."""
        rows, names = as_rows(reference, "reference")
        columns = names if names is not None else tuple(str(i) for i in range(rows.shape[1]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns are refused just below
            medians = np.nanmedian(rows, axis=0) if rows.shape[0] else np.zeros(rows.shape[1])
        empty = [columns[i] for i in np.flatnonzero(np.isnan(medians))]
        if empty:
            raise ValidationError(f"Reference column(s) {empty} hold no values (all missing); drop or fill them.")
        filled, missing = impute(rows, medians, columns)
        self.columns_, self.medians_, self._named = columns, medians, names is not None
        self.n_reference_, self.reference_missing_ = rows.shape[0], missing
        if self.n_reference_ >= self.min_samples:
            self._fit(filled, self._rng(0))
        return self

    def test(self, current: object) -> MultivariateResult:
        """Test ``current`` rows against the fitted reference; see the class docstring for the method."""
        if not hasattr(self, "columns_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit(reference) before test(current).")
        rows, names = as_rows(current, "current")
        rows = align(rows, names, self.columns_, self._named)
        short = min(self.n_reference_, rows.shape[0]) < self.min_samples
        if short:
            statistic, p_value = math.nan, math.nan
            details: dict[str, Any] = {"reason": f"fewer than min_samples={self.min_samples} rows on a side"}
        else:
            filled, missing = impute(rows, self.medians_, self.columns_)
            statistic, p_value, details = self._test(filled, self._rng(1))
            details["missing_imputed"] = {"reference": self.reference_missing_, "current": missing}
        return MultivariateResult(
            self.name,
            float(statistic),
            float(p_value),
            float(self.alpha),
            drifted=bool(p_value < self.alpha),  # False for NaN
            n_reference=self.n_reference_,
            n_current=rows.shape[0],
            details=details,
            not_enough_data=short,
        )

    def _rng(self, stream: int) -> np.random.Generator:
        """A generator seeded by ``random_state`` and ``stream``: the same call gives the same answer."""
        seed = None if self.random_state is None else [int(self.random_state), stream]
        return np.random.default_rng(seed)

    @abstractmethod
    def _fit(self, reference: FloatMatrix, rng: np.random.Generator) -> None:
        """Learn from imputed reference rows (called only with at least ``min_samples`` of them)."""

    @abstractmethod
    def _test(self, current: FloatMatrix, rng: np.random.Generator) -> tuple[float, float, dict[str, Any]]:
        """Statistic, p-value and JSON-ready details for imputed current rows (at least ``min_samples``)."""

    def __repr__(self) -> str:
        params = {key: value for key, value in vars(self).items() if not key.startswith("_") and not key.endswith("_")}
        return f"{type(self).__name__}({', '.join(f'{key}={value!r}' for key, value in params.items())})"


__all__ = ["FloatMatrix", "MultivariateDriftTest", "MultivariateResult", "Verdict", "as_rows", "subsample"]
