"""Population Stability Index: the credit-risk industry's measure of a shifted distribution.

- **Measures** ``PSI = sum_i (q_i - p_i) * ln(q_i / p_i)`` over bins, with ``p`` the reference and
  ``q`` the current proportions: a symmetrised KL divergence. Numeric columns use 10 bins at the
  reference's deciles (``n_bins``), shared by the current data, with open outer bins; categorical
  columns use one bin per category (union of both sides). An empty bin's proportion is replaced by
  ``epsilon`` = 1e-4 (as Evidently does) so the logarithm stays finite; proportions are not
  renormalised afterwards.
- **Returns** a distance (0 for identical binned distributions, unbounded above).
- **Default threshold** 0.1: drift when ``PSI >= 0.1``, Evidently's default. The usual reading is
  below 0.1 stable, 0.1 to 0.25 a moderate shift, above 0.25 a major one. Sampling noise alone gives
  about ``(bins - 1) * (1/n_ref + 1/n_cur)``, so keep both samples well above a few hundred values.
- **Column types** numeric and categorical.

>>> import numpy as np
>>> rng = np.random.default_rng(2)
>>> reference, current = rng.normal(size=5000), rng.normal(loc=1.0, size=5000)
>>> PSI().compute(reference, current).drifted, PSI().compute(reference, reference[::-1]).statistic
(array([ True]), array([0.]))
"""

from __future__ import annotations

import numpy as np

from weir.monitoring.tests.base import FloatArray
from weir.monitoring.tests.binned import BinnedDistance, check_epsilon, smooth
from weir.monitoring.tests.binning import BoolArray
from weir.monitoring.tests.columns import FloatRows


class PSI(BinnedDistance):
    """Population Stability Index over reference-quantile bins or categories; see the module docstring."""

    name = "psi"
    default_threshold = 0.1

    def __init__(self, *, n_bins: int = 10, epsilon: float = 1e-4) -> None:
        super().__init__(n_bins=n_bins)
        check_epsilon("PSI", epsilon)
        self.epsilon = epsilon

    def _distance(self, reference: FloatRows, current: FloatRows, valid: BoolArray) -> FloatArray:
        p = smooth(reference, valid, float(self.epsilon))
        q = smooth(current, valid, float(self.epsilon))
        terms = np.where(valid, (q - p) * np.log(np.where(valid, q / np.where(valid, p, 1.0), 1.0)), 0.0)
        return np.asarray(terms.sum(axis=1), dtype=np.float64)


__all__ = ["PSI"]
