"""Normed Wasserstein distance: how far, in reference standard deviations, the distribution moved.

- **Measures** the first Wasserstein (earth mover's) distance ``W1 = integral |F_ref - F_cur| dx``
  (``scipy.stats.wasserstein_distance``) divided by the reference's standard deviation (ddof 0),
  floored at 0.001 so a constant reference does not divide by zero: exactly Evidently's
  ``wasserstein`` test. A mean shift of ``k`` standard deviations scores about ``k``.
- **Returns** a distance (0 for identical samples, unbounded above).
- **Default threshold** 0.1: drift when the normed distance ``>= 0.1`` (Evidently's default).
- **Column types** numeric.

Vectorised over columns (see :mod:`weir.monitoring.tests.ecdf`).

>>> import numpy as np
>>> rng = np.random.default_rng(3)
>>> reference = rng.normal(size=20_000)
>>> result = WassersteinDistance().compute(reference, reference + 0.5)
>>> result.statistic.round(2), result.drifted
(array([0.5]), array([ True]))
"""

from __future__ import annotations

import numpy as np

from weir.monitoring.tests.base import FloatArray, Outcome, StatTest
from weir.monitoring.tests.binning import BoolArray, IntArray
from weir.monitoring.tests.columns import FloatRows
from weir.monitoring.tests.ecdf import ecdf_difference

STD_FLOOR = 0.001
"""The smallest reference standard deviation divided by (Evidently's)."""


def _area(diff: FloatRows, gaps: FloatRows) -> FloatArray:
    np.abs(diff, out=diff)
    diff *= gaps
    return np.asarray(np.sum(diff, axis=1, where=gaps > 0), dtype=np.float64)


def reference_std(rows: FloatRows, n_valid: IntArray) -> FloatArray:
    """Population standard deviation (ddof 0) of each row's non-missing values, as ``np.std``."""
    present = ~np.isnan(rows)
    n = np.maximum(n_valid, 1)
    mean = np.where(present, rows, 0.0).sum(axis=1) / n
    deviations = np.where(present, rows - mean[:, None], 0.0)
    return np.asarray(np.sqrt((deviations * deviations).sum(axis=1) / n), dtype=np.float64)


class WassersteinDistance(StatTest):
    """Wasserstein-1 distance divided by the reference's standard deviation; see the module docstring."""

    name = "wasserstein"
    kind = "distance"
    default_threshold = 0.1
    column_types = ("numeric",)
    min_samples = 2

    def _numeric(
        self, reference: FloatRows, current: FloatRows, n_reference: IntArray, n_current: IntArray, enough: BoolArray
    ) -> Outcome:
        distance = _area(*ecdf_difference(reference, current, n_reference, n_current))
        return distance / np.maximum(reference_std(reference, n_reference), STD_FLOOR), None


__all__ = ["STD_FLOOR", "WassersteinDistance", "reference_std"]
