"""Energy distance between the reference and current samples.

- **Measures** ``sqrt(2 * integral (F_ref - F_cur)**2 dx)``, which is ``scipy.stats.energy_distance``:
  ``sqrt(2 E|X - Y| - E|X - X'| - E|Y - Y'|)``, zero only when the distributions are equal. It is in
  the column's own units (not normed), so the threshold suits standardised columns; scale columns, or
  pass a threshold, for others.
- **Returns** a distance (0 for identical samples, unbounded above).
- **Default threshold** 0.1: drift when the distance ``>= 0.1`` (Evidently's default).
- **Column types** numeric.

Vectorised over columns (see :mod:`weir.monitoring.tests.ecdf`).

>>> import numpy as np
>>> result = EnergyDistance().compute(np.array([0.0, 1.0, 2.0]), np.array([1.0, 2.0, 3.0]))
>>> result.statistic.round(4), result.drifted
(array([0.8165]), array([ True]))
"""

from __future__ import annotations

import numpy as np

from weir.monitoring.tests.base import FloatArray, Outcome, StatTest
from weir.monitoring.tests.binning import BoolArray, IntArray
from weir.monitoring.tests.columns import FloatRows
from weir.monitoring.tests.ecdf import ecdf_difference


def _squared_area(diff: FloatRows, gaps: FloatRows) -> FloatArray:
    diff *= diff
    diff *= gaps
    return np.asarray(np.sum(diff, axis=1, where=gaps > 0), dtype=np.float64)


class EnergyDistance(StatTest):
    """Energy distance, as ``scipy.stats.energy_distance``; see the module docstring."""

    name = "energy"
    kind = "distance"
    default_threshold = 0.1
    column_types = ("numeric",)
    min_samples = 2

    def _numeric(
        self, reference: FloatRows, current: FloatRows, n_reference: IntArray, n_current: IntArray, enough: BoolArray
    ) -> Outcome:
        return np.sqrt(2.0 * _squared_area(*ecdf_difference(reference, current, n_reference, n_current))), None


__all__ = ["EnergyDistance"]
