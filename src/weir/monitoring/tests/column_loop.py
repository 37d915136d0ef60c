"""Base of the tests scipy computes one pair of 1-D samples at a time (no ``axis`` support)."""

from __future__ import annotations

import numpy as np

from weir.monitoring.tests.base import Outcome, StatTest
from weir.monitoring.tests.binning import BoolArray, IntArray
from weir.monitoring.tests.columns import FloatRows


class ColumnLoopTest(StatTest):
    """Loops over the columns with enough data; one value on both sides means identical samples."""

    def _one(self, reference: FloatRows, current: FloatRows) -> tuple[float, float]:
        """(statistic, p-value) of one column's sorted, NaN-free samples."""
        raise NotImplementedError

    def _numeric(
        self, reference: FloatRows, current: FloatRows, n_reference: IntArray, n_current: IntArray, enough: BoolArray
    ) -> Outcome:
        statistic = np.full(reference.shape[0], np.nan)
        p_value = np.full(reference.shape[0], np.nan)
        for j in np.flatnonzero(enough):
            ref, cur = reference[j, : n_reference[j]], current[j, : n_current[j]]
            if ref[0] == ref[-1] == cur[0] == cur[-1]:  # rows are sorted: one value on both sides
                statistic[j], p_value[j] = 0.0, 1.0
            else:
                statistic[j], p_value[j] = self._one(ref, cur)
        return statistic, p_value
