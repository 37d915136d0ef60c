"""Chi-square test of homogeneity on the two-sample contingency table of category counts.

- **Measures** whether the category proportions differ between reference and current, from the
  2 × K table (rows: reference, current; columns: the union of categories seen on either side, so a
  category new in the current data is a column of its own). This is the two-sample test, not
  "reference proportions as expected counts", which ignores the reference's own sampling noise and
  raises false alarms.
- **Returns** a p-value, equal to ``scipy.stats.chi2_contingency(table)`` with its defaults: with
  ``correction=True`` scipy applies Yates' continuity correction when the table has one degree of
  freedom (exactly two categories), and so does this test; pass ``correction=False`` to turn it off.
  A column with a single category on both sides has no degree of freedom: statistic 0, p-value 1.
- **Default threshold** 0.05: drift when ``p < 0.05``.
- **Column types** categorical (numbers are treated as category labels).

Vectorised over columns: the tables of all columns are padded to the widest and computed at once.

>>> reference = ["a"] * 50 + ["b"] * 50
>>> current = ["a"] * 80 + ["b"] * 20
>>> result = Chi2Test().compute(reference, current)
>>> result.statistic.round(3), result.p_value.round(6), result.drifted
(array([18.484]), array([1.7e-05]), array([ True]))
"""

from __future__ import annotations

import numpy as np
from scipy.stats import chi2

from weir.errors import ValidationError
from weir.monitoring.tests.base import Outcome, StatTest
from weir.monitoring.tests.binning import BoolArray, Counts


class Chi2Test(StatTest):
    """Two-sample chi-square test on category counts; see the module docstring."""

    name = "chi2"
    kind = "p_value"
    default_threshold = 0.05
    column_types = ("categorical",)
    min_samples = 2

    def __init__(self, *, correction: bool = True) -> None:
        if not isinstance(correction, bool):
            raise ValidationError(f"Chi2Test parameter 'correction' must be True or False; got {correction!r}.")
        self.correction = correction

    def _categorical(self, counts: Counts, enough: BoolArray) -> Outcome:
        observed = np.stack([counts.reference, counts.current], axis=1).astype(np.float64)  # (columns, 2, K)
        valid = counts.valid[:, None, :]
        row_sums = observed.sum(axis=2, keepdims=True)
        column_sums = observed.sum(axis=1, keepdims=True)
        total = row_sums.sum(axis=1, keepdims=True)
        expected = row_sums * column_sums / total  # as scipy.stats.contingency.expected_freq
        dof = counts.valid.sum(axis=1) - 1
        if self.correction:
            diff = expected - observed
            corrected = observed + np.minimum(0.5, np.abs(diff)) * np.sign(diff)
            observed = np.where((dof == 1)[:, None, None], corrected, observed)
        terms = np.where(valid, (observed - expected) ** 2 / np.where(valid, expected, 1.0), 0.0)
        statistic = terms.sum(axis=(1, 2))
        p_value = np.asarray(chi2.sf(statistic, np.maximum(dof, 1)), dtype=np.float64)
        statistic = np.where(dof == 0, 0.0, statistic)
        p_value = np.where(dof == 0, 1.0, p_value)
        return statistic, p_value


__all__ = ["Chi2Test"]
