"""Multiple-testing correction of the p-values of many columns tested at once.

Testing 25 columns at ``alpha = 0.05`` flags about one column a run on data that did not move at all.
:func:`adjust` turns raw p-values into adjusted ones, compared with ``alpha`` as before:

- ``"bonferroni"``: ``min(1, m * p)``; controls the family-wise error rate (the chance of any false
  alarm) at ``alpha``, under any dependence between columns, at the price of power.
- ``"bh"`` (Benjamini–Hochberg, **the default**): with ``p_(1) <= ... <= p_(m)``, the adjusted value
  of ``p_(i)`` is ``min(1, min_{k >= i} m * p_(k) / k)``, exactly statsmodels'
  ``multipletests(method="fdr_bh")``. It controls the false discovery rate, the expected share of
  false alarms among the flagged columns, at ``alpha`` (for independent or positively dependent
  tests); when no column moved it also bounds the chance of any alarm by ``alpha``.
- ``"none"``: the raw p-values.

**Why BH by default.** Drift monitoring asks "which columns moved?", and the answer feeds a share of
drifted columns. Bonferroni's guard against a single false alarm makes every column's test ``m`` times
stricter, so with many columns real but moderate shifts go unseen; BH keeps the null-data guarantee
that matters (data that did not move raises an alarm at most ``alpha`` of the time) and loses much less
power when several columns move together, which is what drift usually looks like.

``m`` is the number of p-values present: NaN entries (columns without enough data) are not tests and
stay NaN. **Distances (PSI, Wasserstein, Jensen–Shannon, ...) are not corrected**: they are effect
sizes compared with a fixed threshold, not probabilities, and adding columns does not make a distance
cross its threshold by chance more often in the sense a p-value would.

>>> adjust([0.01, 0.04, 0.03, 0.005], "bh")
array([0.02, 0.04, 0.04, 0.02])
>>> adjust([0.01, 0.04, float("nan")], "bonferroni")
array([0.02, 0.08,  nan])
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from weir.errors import ValidationError

Correction = Literal["bh", "bonferroni", "none"]
CORRECTIONS: tuple[Correction, ...] = get_args(Correction)
DEFAULT_CORRECTION: Correction = "bh"
FloatArray = npt.NDArray[np.float64]


def check_correction(method: object) -> Correction:
    """``method`` if it names a correction; a :class:`ValidationError` listing them otherwise."""
    if not isinstance(method, str) or method not in CORRECTIONS:
        raise ValidationError(f"Unknown correction {method!r}; choose one of: {', '.join(CORRECTIONS)}.")
    return method


def _benjamini_hochberg(p: FloatArray) -> FloatArray:
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    stepped = np.minimum.accumulate(scaled[::-1])[::-1]  # min over k >= i, as statsmodels
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def adjust(p_values: npt.ArrayLike, method: str = DEFAULT_CORRECTION) -> FloatArray:
    """Adjusted p-values, same shape and order as ``p_values`` (1-D); NaN stays NaN and is not counted."""
    method = check_correction(method)
    p = np.array(p_values, dtype=np.float64, ndmin=1)
    if p.ndim != 1:
        raise ValidationError(f"p-values must be one-dimensional; got shape {p.shape}.")
    present = ~np.isnan(p)
    if ((p[present] < 0.0) | (p[present] > 1.0)).any():
        raise ValidationError(f"p-values must lie in [0, 1]; got {p[present & ((p < 0.0) | (p > 1.0))][:5]}.")
    if method == "none" or not present.any():
        return p
    values = p[present]
    if method == "bonferroni":
        p[present] = np.minimum(values * values.size, 1.0)
    else:
        p[present] = _benjamini_hochberg(values)
    return p


__all__ = ["CORRECTIONS", "DEFAULT_CORRECTION", "Correction", "adjust", "check_correction"]
