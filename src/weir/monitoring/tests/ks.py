"""Two-sample Kolmogorov–Smirnov test: the largest gap between the two empirical CDFs.

- **Measures** ``D = max |F_ref(x) - F_cur(x)|``, sensitive to any change of distribution (location,
  scale, shape), most to changes near the median.
- **Returns** a p-value (two-sided), equal to ``scipy.stats.ks_2samp``'s default ``method='auto'``:
  the exact distribution when both samples have at most 10 000 values, Smirnov's asymptotic
  distribution (``scipy.stats.kstwo`` at ``round(n*m/(n+m))``) otherwise.
- **Default threshold** 0.05: drift when ``p < 0.05``.
- **Column types** numeric.

The statistic is computed for all columns at once (see :mod:`weir.monitoring.tests.ecdf`) and the
asymptotic p-value is one vectorised call to ``kstwo.sf`` (which scipy evaluates in a few milliseconds
per large column without drift). The exact distribution is a recursion per pair
of sample sizes that scipy only offers one pair at a time, so columns small enough for it are passed
to ``ks_2samp`` one by one; they are small, so this costs little. If scipy's exact computation
fails it falls back to the asymptotic one, as ``ks_2samp`` does (its warning is silenced).

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> result = KSTest().compute(rng.normal(size=500), rng.normal(loc=0.5, size=400))
>>> bool(result.drifted[0]), result.statistic.round(4), result.p_value[0] < 1e-6
(True, array([0.2155]), np.True_)
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import ks_2samp, kstwo

from weir.monitoring.tests.base import FloatArray, Outcome, StatTest
from weir.monitoring.tests.binning import BoolArray, IntArray
from weir.monitoring.tests.columns import FloatRows
from weir.monitoring.tests.ecdf import ecdf_difference

MAX_EXACT_N = 10_000
"""``ks_2samp``'s ``MAX_AUTO_N``: the exact distribution is used when both samples are at most this size."""


def largest_gap(diff: FloatRows, gaps: FloatRows) -> FloatArray:
    """``max |F_ref - F_cur|`` per row, over the points where the ECDFs step (as ``ks_2samp``)."""
    steps = gaps > 0
    above = np.max(diff, axis=1, where=steps, initial=0.0)
    below = np.min(diff, axis=1, where=steps, initial=0.0)
    return np.asarray(np.maximum(above, np.clip(-below, 0.0, 1.0)), dtype=np.float64)


class KSTest(StatTest):
    """Two-sample Kolmogorov–Smirnov test, p-values as ``scipy.stats.ks_2samp``; see the module docstring."""

    name = "ks"
    kind = "p_value"
    default_threshold = 0.05
    column_types = ("numeric",)
    min_samples = 2

    def _numeric(
        self, reference: FloatRows, current: FloatRows, n_reference: IntArray, n_current: IntArray, enough: BoolArray
    ) -> Outcome:
        statistic = largest_gap(*ecdf_difference(reference, current, n_reference, n_current))
        p_value = np.full(statistic.shape, np.nan)
        large = np.maximum(n_reference, n_current).astype(np.float64)
        small = np.minimum(n_reference, n_current).astype(np.float64)
        exact = enough & (large <= MAX_EXACT_N)
        asymptotic = enough & ~exact
        if asymptotic.any():
            m, n = large[asymptotic], small[asymptotic]
            p_value[asymptotic] = kstwo.sf(statistic[asymptotic], np.round(m * n / (m + n)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for j in np.flatnonzero(exact):
                result = ks_2samp(reference[j, : n_reference[j]], current[j, : n_current[j]])
                statistic[j], p_value[j] = result.statistic, result.pvalue
        return statistic, np.clip(p_value, 0.0, 1.0)


__all__ = ["MAX_EXACT_N", "KSTest", "largest_gap"]
