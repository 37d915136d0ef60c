"""Cramér–von Mises two-sample test: the mean squared gap between the two empirical CDFs.

- **Measures** scipy's two-sample Cramér–von Mises criterion ``T``
  (``scipy.stats.cramervonmises_2samp``), more sensitive than KS to differences spread over the whole
  distribution.
- **Returns** a p-value, equal to scipy's default ``method='auto'`` (exact for small samples,
  asymptotic otherwise). scipy's rank formula assumes continuous data: with ties and unequal sample
  sizes it overstates ``T`` (two equal constants of sizes 200 and 150 give p = 1e-6). Samples that are
  one and the same value on both sides therefore get statistic 0 and p-value 1 here; for discrete
  columns with many ties prefer ``ks`` or ``anderson`` (midrank), which handle ties.
- **Default threshold** 0.05: drift when ``p < 0.05``.
- **Column types** numeric.

scipy computes it per pair of 1-D samples once missing values differ by column, so columns are tested
one at a time.

>>> import numpy as np
>>> rng = np.random.default_rng(5)
>>> result = CramerVonMisesTest().compute(rng.normal(size=300), rng.normal(loc=1.0, size=300))
>>> bool(result.drifted[0]), bool(result.p_value[0] < 1e-6)
(True, True)
"""

from __future__ import annotations

from scipy.stats import cramervonmises_2samp

from weir.monitoring.tests.column_loop import ColumnLoopTest
from weir.monitoring.tests.columns import FloatRows


class CramerVonMisesTest(ColumnLoopTest):
    """Two-sample Cramér–von Mises test, as ``scipy.stats.cramervonmises_2samp``; see the module docstring."""

    name = "cramer_von_mises"
    kind = "p_value"
    default_threshold = 0.05
    column_types = ("numeric",)
    min_samples = 2

    def _one(self, reference: FloatRows, current: FloatRows) -> tuple[float, float]:
        result = cramervonmises_2samp(reference, current)
        return float(result.statistic), float(result.pvalue)
