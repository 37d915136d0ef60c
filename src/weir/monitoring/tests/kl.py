"""Kullback–Leibler divergence of the current distribution from the reference, smoothed.

- **Measures** ``KL(ref || cur) = sum_i p_i * ln(p_i / q_i)`` over bins (natural log), with ``p`` the
  reference and ``q`` the current proportions: the information lost when the current distribution is
  used in place of the reference. Numeric columns use 10 bins at the reference's deciles
  (``n_bins``); categorical columns one bin per category (union of both sides). **Smoothing:** an
  empty bin's proportion is replaced by ``epsilon`` = 1e-4 and both distributions are renormalised to
  sum to 1, which is ``scipy.stats.entropy(p, q)`` on the smoothed proportions (and Evidently's
  ``kl_div``). Without it a category unseen in the current data would make KL infinite.
- **Returns** a distance (a divergence: 0 for identical binned distributions, not symmetric,
  unbounded above).
- **Default threshold** 0.1: drift when ``KL >= 0.1``.
- **Column types** numeric and categorical.

>>> result = KLDivergence().compute(["a"] * 50 + ["b"] * 50, ["a"] * 80 + ["b"] * 20)
>>> result.statistic.round(4), result.drifted
(array([0.2231]), array([ True]))
"""

from __future__ import annotations

import numpy as np

from weir.monitoring.tests.base import FloatArray
from weir.monitoring.tests.binned import BinnedDistance, check_epsilon, smooth
from weir.monitoring.tests.binning import BoolArray
from weir.monitoring.tests.columns import FloatRows


class KLDivergence(BinnedDistance):
    """Smoothed KL divergence ``KL(reference || current)``; see the module docstring."""

    name = "kl"
    default_threshold = 0.1

    def __init__(self, *, n_bins: int = 10, epsilon: float = 1e-4) -> None:
        super().__init__(n_bins=n_bins)
        check_epsilon("KLDivergence", epsilon)
        self.epsilon = epsilon

    def _distance(self, reference: FloatRows, current: FloatRows, valid: BoolArray) -> FloatArray:
        p = smooth(reference, valid, float(self.epsilon))
        q = smooth(current, valid, float(self.epsilon))
        p = p / p.sum(axis=1, keepdims=True)
        q = q / q.sum(axis=1, keepdims=True)
        terms = np.where(valid, p * np.log(np.where(valid, p / np.where(valid, q, 1.0), 1.0)), 0.0)
        return np.asarray(terms.sum(axis=1), dtype=np.float64)


__all__ = ["KLDivergence"]
