"""Two-proportion Z-test: has the share of the reference's most frequent category changed?

- **Measures** ``z = (p_ref - p_cur) / sqrt(p (1 - p) (1/n_ref + 1/n_cur))`` where ``p_ref`` and
  ``p_cur`` are the shares of one category and ``p`` is the pooled share. The category is the most
  frequent one in the reference (the first seen among equals): for a binary column either category
  gives the same p-value; for more categories, use chi2 to see every category. The statistic
  reported is ``z`` (positive when the category became rarer).
- **Returns** a two-sided p-value, ``2 * norm.sf(|z|)``. When the pooled share is 1 (every value on
  both sides is that category) the samples are identical: ``z = 0``, p-value 1.
- **Default threshold** 0.05: drift when ``p < 0.05``.
- **Column types** categorical, meant for binary ones (numbers are treated as category labels).

Fully vectorised over columns.

>>> result = ZTest().compute([1] * 60 + [0] * 40, [1] * 40 + [0] * 60)
>>> result.statistic.round(3), result.p_value.round(4), result.drifted
(array([2.828]), array([0.0047]), array([ True]))
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from weir.monitoring.tests.base import Outcome, StatTest
from weir.monitoring.tests.binning import BoolArray, Counts


class ZTest(StatTest):
    """Two-proportion Z-test on the reference's most frequent category; see the module docstring."""

    name = "ztest"
    kind = "p_value"
    default_threshold = 0.05
    column_types = ("categorical",)
    min_samples = 2

    def _categorical(self, counts: Counts, enough: BoolArray) -> Outcome:
        n_ref = counts.reference.sum(axis=1).astype(np.float64)
        n_cur = counts.current.sum(axis=1).astype(np.float64)
        if counts.reference.shape[1] == 0:
            return np.zeros(n_ref.shape), np.ones(n_ref.shape)
        top = np.argmax(counts.reference, axis=1)[:, None]
        p_ref = np.take_along_axis(counts.reference, top, axis=1)[:, 0] / n_ref
        p_cur = np.take_along_axis(counts.current, top, axis=1)[:, 0] / n_cur
        pooled = (p_ref * n_ref + p_cur * n_cur) / (n_ref + n_cur)
        spread = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n_ref + 1.0 / n_cur))
        z = np.where(spread > 0, (p_ref - p_cur) / np.where(spread > 0, spread, 1.0), 0.0)
        return z, 2.0 * np.asarray(norm.sf(np.abs(z)), dtype=np.float64)


__all__ = ["ZTest"]
