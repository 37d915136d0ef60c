"""Jensen–Shannon distance between the binned reference and current distributions.

- **Measures** ``sqrt((KL(p || m) + KL(q || m)) / 2)`` with ``m = (p + q) / 2`` and natural
  logarithms, which is ``scipy.spatial.distance.jensenshannon(p, q)``: a symmetric, bounded metric
  that needs no smoothing (``0 * ln 0 = 0``). Numeric columns use 10 bins at the reference's deciles
  (``n_bins``); categorical columns one bin per category (union of both sides).
- **Returns** a distance in ``[0, sqrt(ln 2)]`` (about 0.833).
- **Default threshold** 0.1: drift when the distance ``>= 0.1`` (Evidently's default for it).
- **Column types** numeric and categorical.

>>> result = JensenShannonDistance().compute(["a"] * 50 + ["b"] * 50, ["a"] * 80 + ["b"] * 20)
>>> result.statistic.round(4), result.drifted
(array([0.2251]), array([ True]))
"""

from __future__ import annotations

import numpy as np

from weir.monitoring.tests.base import FloatArray
from weir.monitoring.tests.binned import BinnedDistance
from weir.monitoring.tests.binning import BoolArray
from weir.monitoring.tests.columns import FloatRows


def _relative_entropy(x: FloatRows, y: FloatRows) -> FloatRows:
    # x * ln(x / y), 0 where x is 0 (scipy.special.rel_entr); y > 0 wherever x > 0 here
    return np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0) / np.where(x > 0, y, 1.0)), 0.0)


class JensenShannonDistance(BinnedDistance):
    """Jensen–Shannon distance (natural log) between binned distributions; see the module docstring."""

    name = "jensen_shannon"
    default_threshold = 0.1

    def _distance(self, reference: FloatRows, current: FloatRows, valid: BoolArray) -> FloatArray:
        middle = (reference + current) / 2.0
        divergence = (_relative_entropy(reference, middle) + _relative_entropy(current, middle)).sum(axis=1) / 2.0
        return np.asarray(np.sqrt(np.maximum(divergence, 0.0)), dtype=np.float64)


__all__ = ["JensenShannonDistance"]
