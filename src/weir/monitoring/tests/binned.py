"""Distances between binned distributions: the shared half of PSI, Jensen–Shannon, Hellinger and KL.

A :class:`BinnedDistance` turns both samples into counts, reference-quantile bins for numeric columns
and categories for categorical ones (see :mod:`weir.monitoring.tests.binning`), and hands the counts
to the subclass's :meth:`~BinnedDistance._distance`. Proportions are ``count / n`` on real bins and
0 on padding. Numeric columns use ``n_bins`` bins (default 10).

>>> from weir.monitoring.tests.psi import PSI
>>> PSI(n_bins=5).compute([1.0, 2.0, 3.0, 4.0, 5.0] * 20, [1.0, 2.0, 3.0, 4.0, 5.0] * 20).statistic
array([0.])
"""

from __future__ import annotations

import numpy as np

from weir.errors import ValidationError
from weir.monitoring.tests.base import FloatArray, Outcome, StatTest
from weir.monitoring.tests.binning import BoolArray, Counts, IntArray, quantile_counts
from weir.monitoring.tests.columns import FloatRows


def check_n_bins(owner: str, n_bins: object) -> None:
    """Refuse a bin count that is not an integer of at least 2."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 2:
        raise ValidationError(f"{owner} parameter 'n_bins' must be an integer of at least 2; got {n_bins!r}.")


def check_epsilon(owner: str, epsilon: object) -> None:
    """Refuse a smoothing constant outside (0, 1)."""
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float) or not 0.0 < float(epsilon) < 1.0:
        raise ValidationError(f"{owner} parameter 'epsilon' must be a number in (0, 1); got {epsilon!r}.")


class BinnedDistance(StatTest):
    """A distance between the binned (numeric) or per-category (categorical) distributions."""

    kind = "distance"
    column_types = ("numeric", "categorical")
    min_samples = 2

    def __init__(self, *, n_bins: int = 10) -> None:
        check_n_bins(type(self).__name__, n_bins)
        self.n_bins = n_bins

    def _numeric(
        self, reference: FloatRows, current: FloatRows, n_reference: IntArray, n_current: IntArray, enough: BoolArray
    ) -> Outcome:
        return self._categorical(quantile_counts(reference, current, n_reference, n_current, int(self.n_bins)), enough)

    def _categorical(self, counts: Counts, enough: BoolArray) -> Outcome:
        n_ref = np.maximum(counts.reference.sum(axis=1), 1)[:, None]
        n_cur = np.maximum(counts.current.sum(axis=1), 1)[:, None]
        return self._distance(counts.reference / n_ref, counts.current / n_cur, counts.valid), None

    def _distance(self, reference: FloatRows, current: FloatRows, valid: BoolArray) -> FloatArray:
        """The distance per row of proportions (shape ``(columns, bins)``; ``valid`` marks real bins)."""
        raise NotImplementedError


def smooth(proportions: FloatRows, valid: BoolArray, epsilon: float) -> FloatRows:
    """Empty real bins get ``epsilon`` instead of 0 (padding stays 0)."""
    return np.where(valid & (proportions == 0.0), epsilon, proportions)


__all__ = ["BinnedDistance", "check_epsilon", "check_n_bins", "smooth"]
