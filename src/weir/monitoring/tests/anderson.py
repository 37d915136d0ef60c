"""Anderson–Darling k-sample test (k = 2): like KS, but weighting the tails more.

- **Measures** scipy's normalised two-sample Anderson–Darling statistic, ``scipy.stats.anderson_ksamp``
  with its default midrank variant (valid for continuous and discrete data).
- **Returns** a p-value, equal to scipy's. Note that scipy interpolates it from a table and caps it to
  ``[0.001, 0.25]``: a p-value of 0.25 means "0.25 or more" and 0.001 "0.001 or less" (scipy's
  warning about the cap is silenced). When every value on both sides is the same, scipy refuses the
  data; the samples are then identical, so the statistic is 0 and the p-value 1.
- **Default threshold** 0.05: drift when ``p < 0.05``.
- **Column types** numeric.

scipy's ``anderson_ksamp`` has no ``axis`` argument, so columns are tested one at a time.

>>> import numpy as np
>>> rng = np.random.default_rng(4)
>>> result = AndersonDarlingTest().compute(rng.normal(size=300), rng.normal(loc=1.0, size=300))
>>> result.p_value, result.drifted
(array([0.001]), array([ True]))
"""

from __future__ import annotations

import inspect
import warnings

from scipy.stats import anderson_ksamp

from weir.monitoring.tests.column_loop import ColumnLoopTest
from weir.monitoring.tests.columns import FloatRows

# scipy >= 1.17 asks for the variant explicitly; 'midrank' is the long-standing default
_VARIANT = {"variant": "midrank"} if "variant" in inspect.signature(anderson_ksamp).parameters else {}


class AndersonDarlingTest(ColumnLoopTest):
    """Two-sample Anderson–Darling test, as ``scipy.stats.anderson_ksamp``; see the module docstring."""

    name = "anderson"
    kind = "p_value"
    default_threshold = 0.05
    column_types = ("numeric",)
    min_samples = 2

    def _one(self, reference: FloatRows, current: FloatRows) -> tuple[float, float]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            result = anderson_ksamp([reference, current], **_VARIANT)
        return float(result.statistic), float(result.pvalue)
