"""Hellinger distance between the binned reference and current distributions.

- **Measures** ``H = sqrt(sum_i (sqrt(p_i) - sqrt(q_i))**2) / sqrt(2)``, equivalently
  ``sqrt(1 - sum_i sqrt(p_i q_i))``: a symmetric metric that needs no smoothing. Numeric columns use
  10 bins at the reference's deciles (``n_bins``); categorical columns one bin per category (union of
  both sides).
- **Returns** a distance in ``[0, 1]`` (1 when the distributions share no bin).
- **Default threshold** 0.1: drift when ``H >= 0.1``.
- **Column types** numeric and categorical.

>>> result = HellingerDistance().compute(["a"] * 50 + ["b"] * 50, ["a"] * 80 + ["b"] * 20)
>>> result.statistic.round(4), result.drifted
(array([0.2265]), array([ True]))
"""

from __future__ import annotations

import numpy as np

from weir.monitoring.tests.base import FloatArray
from weir.monitoring.tests.binned import BinnedDistance
from weir.monitoring.tests.binning import BoolArray
from weir.monitoring.tests.columns import FloatRows


class HellingerDistance(BinnedDistance):
    """Hellinger distance between binned distributions; see the module docstring."""

    name = "hellinger"
    default_threshold = 0.1

    def _distance(self, reference: FloatRows, current: FloatRows, valid: BoolArray) -> FloatArray:
        squares = (np.sqrt(reference) - np.sqrt(current)) ** 2
        return np.asarray(np.sqrt(squares.sum(axis=1)) / np.sqrt(2.0), dtype=np.float64)


__all__ = ["HellingerDistance"]
