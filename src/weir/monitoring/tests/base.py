"""The contract of a univariate two-sample statistic, and its result.

A :class:`StatTest` compares a reference sample with a current sample, column by column, in one
vectorised call. Each test declares what it returns (``kind``: ``"p_value"`` or ``"distance"``), its
``default_threshold`` (a p-value drifts when ``p < threshold``, a distance when ``distance >=
threshold``), the ``column_types`` it applies to and its ``min_samples``.

**Input.** ``reference`` and ``current`` are rows × columns (a 1-D array is one column) with the same
columns. Numeric columns are numbers; categorical columns may be strings or any objects.
``categorical=None`` treats numeric dtypes as numeric and everything else (strings, objects,
booleans) as categories, for tests that apply to both; pass ``True``/``False`` to decide.

**Missing values** (NaN, ``None``) are dropped per column before testing; ``n_reference`` and
``n_current`` report what was used. A column left with fewer than ``min_samples`` values on either side
gets statistic and p-value NaN, ``drifted`` False and ``not_enough_data`` True: never a crash, never a
silent pass. **Infinite values** raise :class:`~weir.errors.ValidationError` naming the column.

>>> import numpy as np
>>> from weir.monitoring.tests import get
>>> rng = np.random.default_rng(0)
>>> reference = rng.normal(size=(1000, 2))
>>> current = np.column_stack([rng.normal(size=1000), rng.normal(loc=1.0, size=1000)])
>>> get("ks").compute(reference, current).drifted
array([False,  True])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt

from weir.errors import ValidationError
from weir.monitoring.tests import columns as cols
from weir.monitoring.tests.binning import BoolArray, Counts, IntArray, category_counts
from weir.monitoring.tests.columns import FloatRows, Table

Kind = Literal["p_value", "distance"]
ColumnType = Literal["numeric", "categorical"]
FloatArray = npt.NDArray[np.float64]
Outcome = tuple[FloatArray, FloatArray | None]
"""What a test's hook returns: the statistic per column and, for p-value tests, the p-value per column."""
Measured = tuple[FloatArray, FloatArray | None, IntArray, IntArray, BoolArray]
"""Statistic, p-value, ``n_reference``, ``n_current`` and enough-data flag per column."""


@dataclass(frozen=True, eq=False)
class StatResult:
    """One statistic over many columns: every array has one entry per column."""

    test: str
    kind: Kind
    threshold: float
    statistic: FloatArray
    p_value: FloatArray | None
    drifted: BoolArray
    n_reference: IntArray
    n_current: IntArray
    not_enough_data: BoolArray

    @property
    def score(self) -> FloatArray:
        """The number compared with the threshold: the p-value for p-value tests, else the distance."""
        return self.p_value if self.p_value is not None else self.statistic

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: lists of per-column values, NaN as ``None``."""

        def floats(values: FloatArray | None) -> list[float | None] | None:
            return None if values is None else [None if np.isnan(v) else float(v) for v in values]

        body: dict[str, Any] = {"test": self.test, "kind": self.kind, "threshold": self.threshold}
        body.update(statistic=floats(self.statistic), p_value=floats(self.p_value))
        body.update({key: getattr(self, key).tolist() for key in ("drifted", "n_reference", "n_current")})
        return body | {"not_enough_data": self.not_enough_data.tolist()}


class StatTest:
    """Base of the two-sample statistics; subclasses implement ``_numeric`` and/or ``_categorical``."""

    name: ClassVar[str]
    kind: ClassVar[Kind]
    default_threshold: ClassVar[float]
    column_types: ClassVar[tuple[ColumnType, ...]]
    min_samples: ClassVar[int] = 2

    def __repr__(self) -> str:
        params = ", ".join(f"{key}={value!r}" for key, value in vars(self).items())
        return f"{type(self).__name__}({params})"

    def compute(
        self, reference: object, current: object, *, threshold: float | None = None, categorical: bool | None = None
    ) -> StatResult:
        """Test every column of ``current`` against the same column of ``reference``.

        ``threshold`` overrides :attr:`default_threshold`; ``categorical`` decides how columns are read
        (``None``: by dtype, see the module docstring). Raises :class:`~weir.errors.ValidationError` on
        mismatched columns, infinities, non-numeric data for a numeric test, or a bad threshold.
        """
        limit = self._threshold(threshold)
        ref, cur = cols.as_table(reference, "reference"), cols.as_table(current, "current")
        cols.check_same_columns(ref, cur)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self._as_categorical(ref, cur, categorical):
                counts = category_counts(ref, cur)
                n_ref, n_cur = counts.reference.sum(axis=1), counts.current.sum(axis=1)
                enough = (n_ref >= self.min_samples) & (n_cur >= self.min_samples)
                statistic, p_value = self._categorical(counts, enough)
            else:
                statistic, p_value, n_ref, n_cur, enough = self._numeric_blocks(ref, cur)
        statistic = np.where(enough, statistic, np.nan)
        if self.kind == "p_value":
            if p_value is None:
                raise TypeError(f"{type(self).__name__} is a p-value test but returned no p-value.")
            p_value = np.where(enough, p_value, np.nan)
            drifted = enough & (p_value < limit)
        else:
            p_value = None
            drifted = enough & (statistic >= limit)
        return StatResult(
            test=self.name,
            kind=self.kind,
            threshold=limit,
            statistic=statistic.astype(np.float64),
            p_value=None if p_value is None else p_value.astype(np.float64),
            drifted=np.asarray(drifted, dtype=np.bool_),
            n_reference=n_ref.astype(np.int64),
            n_current=n_cur.astype(np.int64),
            not_enough_data=~enough,
        )

    def _numeric_blocks(self, reference: Table, current: Table) -> Measured:
        ref = cols.numeric_table(reference, "reference", self.name)
        cur = cols.numeric_table(current, "current", self.name)
        n_columns = ref.shape[1]
        statistic, p_value = np.full(n_columns, np.nan), np.full(n_columns, np.nan)
        n_ref, n_cur = np.zeros(n_columns, dtype=np.int64), np.zeros(n_columns, dtype=np.int64)
        enough = np.zeros(n_columns, dtype=np.bool_)
        for block in cols.column_blocks(ref.shape[0] + cur.shape[0], n_columns):
            ref_rows, cur_rows = cols.sorted_rows(ref[:, block]), cols.sorted_rows(cur[:, block])
            n_ref[block], n_cur[block] = cols.count_valid(ref_rows), cols.count_valid(cur_rows)
            enough[block] = (n_ref[block] >= self.min_samples) & (n_cur[block] >= self.min_samples)
            stat, p = self._numeric(ref_rows, cur_rows, n_ref[block], n_cur[block], enough[block])
            statistic[block] = stat
            if p is not None:
                p_value[block] = p
        return statistic, p_value, n_ref, n_cur, enough

    def _numeric(
        self, reference: FloatRows, current: FloatRows, n_reference: IntArray, n_current: IntArray, enough: BoolArray
    ) -> Outcome:
        """Statistic (and p-value) per row of sorted, NaN-last rows with ``n_*`` valid values each.

        Rows where ``enough`` is False are discarded afterwards: compute them or not, but do not fail.
        """
        raise NotImplementedError(f"{type(self).__name__} does not handle numeric columns.")

    def _categorical(self, counts: Counts, enough: BoolArray) -> Outcome:
        """Statistic (and p-value) per column of category counts; see :class:`Counts`."""
        raise NotImplementedError(f"{type(self).__name__} does not handle categorical columns.")

    def _threshold(self, threshold: float | None) -> float:
        if threshold is None:
            return float(self.default_threshold)
        try:
            value = float(threshold)
        except (TypeError, ValueError):
            raise ValidationError(f"The {self.name!r} test's threshold must be a number; got {threshold!r}.") from None
        if self.kind == "p_value" and not 0.0 < value < 1.0:
            raise ValidationError(f"The {self.name!r} test's threshold is a p-value in (0, 1); got {threshold!r}.")
        if self.kind == "distance" and not (np.isfinite(value) and value > 0.0):
            raise ValidationError(f"The {self.name!r} distance's threshold must be a positive number; got {value!r}.")
        return value

    def _as_categorical(self, reference: npt.NDArray[Any], current: npt.NDArray[Any], categorical: bool | None) -> bool:
        if categorical is None:
            if "numeric" not in self.column_types:
                return True
            if "categorical" not in self.column_types:
                return False
            return not (cols.is_numeric(reference) and cols.is_numeric(current))
        wanted: ColumnType = "categorical" if categorical else "numeric"
        if wanted not in self.column_types:
            raise ValidationError(
                f"The {self.name!r} test applies to {' and '.join(self.column_types)} columns, not {wanted} ones; "
                f"choose a test for {wanted} columns.",
                test=self.name,
            )
        return bool(categorical)


__all__ = ["ColumnType", "FloatArray", "Kind", "Outcome", "StatResult", "StatTest"]
