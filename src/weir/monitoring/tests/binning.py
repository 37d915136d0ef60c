"""Counts per bin or category: what the binned distances and the categorical tests compare.

**Numeric columns** are cut at the reference's quantiles (``n_bins`` bins of equal reference mass,
numpy's default linear interpolation, as ``np.quantile``), shared by the current data. Bins are
right-closed, ``(e[i-1], e[i]]``, and the outer bins are open-ended, so current values outside the
reference's range land in the first or last bin instead of being lost. Tied reference values can make
edges coincide; the bins between them are empty on both sides and add nothing to any distance.

**Categorical columns** are counted over the union of the categories seen on either side, so a
category unseen in the reference is a bin of its own (count 0 in the reference), never dropped. A
table of columns with different numbers of categories is padded; ``valid`` marks the real bins.

>>> import numpy as np
>>> counts = category_counts(np.array([["a"], ["a"], ["b"]]), np.array([["a"], ["c"]]))
>>> counts.reference, counts.current
(array([[2, 1, 0]]), array([[1, 0, 1]]))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from weir.monitoring.tests.columns import FloatRows, Table, reject_infinite

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class Counts:
    """Per-column counts, shape ``(columns, bins)``; ``valid`` marks real bins (padding is ``False``)."""

    reference: IntArray
    current: IntArray
    valid: BoolArray


def reference_quantiles(rows: FloatRows, n_valid: IntArray, n_bins: int) -> FloatRows:
    """The inner bin edges, shape ``(columns, n_bins - 1)``: ``np.quantile`` of each row's valid values."""
    q = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    if rows.shape[1] == 0:
        return np.full((rows.shape[0], q.size), np.nan)
    last = np.maximum(n_valid, 1)[:, None] - 1
    virtual = last * q[None, :]  # numpy's 'linear' method: (n - 1) * q
    below = np.floor(virtual).astype(np.int64)
    above = np.minimum(below + 1, last)
    gamma = virtual - below
    a = np.take_along_axis(rows, below, axis=1)
    b = np.take_along_axis(rows, above, axis=1)
    step = b - a
    # numpy's _lerp: interpolate from the nearer end for accuracy, bit for bit as np.quantile
    return np.where(gamma >= 0.5, b - step * (1.0 - gamma), a + step * gamma)


def _counts_between(rows: FloatRows, n_valid: IntArray, edges: FloatRows) -> IntArray:
    n_columns, n_edges = edges.shape
    at_or_below = np.empty((n_columns, n_edges + 2), dtype=np.int64)
    at_or_below[:, 0] = 0
    at_or_below[:, -1] = n_valid
    # numpy's searchsorted has no axis argument: one call per column, each only n_edges binary searches
    for j in range(n_columns):
        at_or_below[j, 1:-1] = np.searchsorted(rows[j, : n_valid[j]], edges[j], side="right")
    return np.diff(at_or_below, axis=1)


def quantile_counts(
    reference: FloatRows, current: FloatRows, n_reference: IntArray, n_current: IntArray, n_bins: int
) -> Counts:
    """Counts in ``n_bins`` reference-quantile bins of sorted rows (see :mod:`weir.monitoring.tests.columns`)."""
    edges = reference_quantiles(reference, n_reference, n_bins)
    ref = _counts_between(reference, n_reference, edges)
    cur = _counts_between(current, n_current, edges)
    return Counts(ref, cur, np.ones(ref.shape, dtype=np.bool_))


def category_counts(reference: Table, current: Table) -> Counts:
    """Counts per category over the union of categories seen in each column; missing values are dropped."""
    reject_infinite(reference, "reference")
    reject_infinite(current, "current")
    n_columns, n_ref = reference.shape[1], reference.shape[0]
    per_column: list[tuple[IntArray, IntArray]] = []
    # numpy has no per-column factorise; pandas.factorize is one hash pass per column (None/NaN/NA -> -1)
    for j in range(n_columns):
        codes, uniques = pd.factorize(np.concatenate([reference[:, j], current[:, j]]))
        size = len(uniques)
        ref_codes, cur_codes = codes[:n_ref], codes[n_ref:]
        ref_counts = np.bincount(ref_codes[ref_codes >= 0], minlength=size)
        per_column.append((ref_counts, np.bincount(cur_codes[cur_codes >= 0], minlength=size)))
    width = max((len(r) for r, _ in per_column), default=0)
    ref = np.zeros((n_columns, width), dtype=np.int64)
    cur = np.zeros((n_columns, width), dtype=np.int64)
    valid = np.zeros((n_columns, width), dtype=np.bool_)
    for j, (r, c) in enumerate(per_column):
        ref[j, : len(r)], cur[j, : len(c)], valid[j, : len(r)] = r, c, True
    return Counts(ref, cur, valid)


__all__ = ["BoolArray", "Counts", "IntArray", "category_counts", "quantile_counts", "reference_quantiles"]
