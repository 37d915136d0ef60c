"""The difference of two empirical CDFs over the pooled sample: the heart of KS, Wasserstein and energy.

For each column, the pooled values ``x_1 <= ... <= x_N`` (reference and current, missing dropped)
are walked in order; at each ``x_i`` we know ``F_ref(x_i) - F_cur(x_i)`` (right-continuous ECDFs,
evaluated with the same integer counts as ``scipy.stats.ks_2samp``) and the gap ``x_{i+1} - x_i``.
A gap of 0 means ``x_i`` is inside a run of ties, where the ECDFs are not yet evaluated in full; gaps
are NaN past the last value, so ``gaps > 0`` selects exactly the points where the ECDFs step.

All columns are handled at once: both sides arrive sorted (see
:mod:`weir.monitoring.tests.columns`), so a stable argsort of the two concatenated runs is a linear
merge. The caller bounds the block of columns it passes (see :func:`~weir.monitoring.tests.columns.column_blocks`).

>>> import numpy as np
>>> reference = np.array([[1.0, 2.0, 3.0]])
>>> current = np.array([[2.0, 4.0, np.nan]])
>>> diff, gaps = ecdf_difference(reference, current, np.array([3]), np.array([2]))
>>> np.where(gaps > 0, diff, 0.0).round(3)
array([[0.333, 0.   , 0.167, 0.5  , 0.   ]])
"""

from __future__ import annotations

import numpy as np

from weir.monitoring.tests.binning import IntArray
from weir.monitoring.tests.columns import FloatRows


def ecdf_difference(
    reference: FloatRows, current: FloatRows, n_reference: IntArray, n_current: IntArray
) -> tuple[FloatRows, FloatRows]:
    """``(diff, gaps)``, each of shape ``(columns, N - 1)``: ``F_ref - F_cur`` at each pooled value but the
    last, and the gap to the next pooled value (0 inside ties, NaN past the last valid value).

    Written to allocate few full-size arrays (each costs page faults): callers may overwrite ``diff``.
    """
    pooled = np.concatenate([reference, current], axis=1)
    order = np.argsort(pooled, axis=1, kind="stable")  # timsort: merges the two sorted runs in linear time
    gaps = np.diff(np.take_along_axis(pooled, order, axis=1), axis=1)
    # ECDF counts: how many reference (then current) values are at or before each pooled position
    counts = np.cumsum(order < reference.shape[1], axis=1, dtype=np.int32)
    del order, pooled
    diff = counts / np.maximum(n_reference, 1)[:, None]
    np.subtract(np.arange(1, counts.shape[1] + 1, dtype=np.int32), counts, out=counts)
    # the same integer counts over the same sizes as scipy.stats.ks_2samp, hence the same floats
    diff -= counts / np.maximum(n_current, 1)[:, None]
    return diff[:, :-1], gaps


__all__ = ["ecdf_difference"]
