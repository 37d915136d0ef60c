r"""ADWIN, adaptive windowing (Bifet and Gavaldà 2007), with exponential-histogram buckets (ADWIN2).

ADWIN keeps a window :math:`W` of the most recent values that, as far as it can tell, come from one
distribution. Every ``clock`` updates (once the window holds more than ``grace_period`` values) it
tries every split of :math:`W` into an older part :math:`W_0` and a newer part :math:`W_1`, each at least
``min_window_length`` long, and declares a change when their means differ by more than

.. math::

    \epsilon = \sqrt{2\, m\, \sigma^2_W\, \delta'} + \tfrac{2}{3}\, \delta'\, m, \qquad
    m = \frac{1}{n_0 - \ell + 1} + \frac{1}{n_1 - \ell + 1}, \qquad \delta' = \ln\frac{2 \ln |W|}{\delta},

where :math:`\sigma^2_W` is the variance of the window and :math:`\ell` is ``min_window_length``. On a
change it drops the oldest bucket and tests again, until no split is significant; the window has
then shrunk to the values after the change.

The window is never stored: it is summarised by an exponential histogram, rows of at most
``max_buckets`` buckets of 1, 2, 4, ... values, each bucket holding only its sum and variance. When a
row overflows its two oldest buckets are merged into the next row, so memory and the cost of one
check are :math:`O(\text{max\_buckets} \cdot \log |W|)`, and an update is :math:`O(1)` amortised plus
one check every ``clock`` updates. This is river's ``river.drift.ADWIN`` (same parameters, defaults,
bound and bucket scheme), except that every bucket boundary is a candidate split, as in MOA and the
paper, where river's loop skips the newest bucket of each row (river issue #1539); river's documented
outputs are reproduced all the same.

Parameters (keyword-only)
-------------------------
delta : float, default 0.002
    Significance of the test, in (0, 1): smaller means fewer false alarms and later detections.
clock : int, default 32
    Check for a change every ``clock`` updates; >= 1. Larger is faster, but detects later.
max_buckets : int, default 5
    Buckets of each size kept before two are merged; >= 1. Larger is finer and slower.
min_window_length : int, default 5
    Minimum length of each of :math:`W_0` and :math:`W_1`; >= 1.
grace_period : int, default 10
    No check until the window holds more than this many values; >= 0.

After a drift ``width_`` shows the shrunken window; the next update then restarts from an empty
window, as river does (see :mod:`weir.monitoring.concept.base`).

>>> import numpy as np
>>> rng = np.random.default_rng(12345)
>>> stream = np.concatenate([rng.integers(0, 2, 1000), rng.integers(4, 8, 1000)])
>>> adwin = ADWIN()
>>> adwin.update_many(stream[:1000]), adwin.width_
([], 1000)
>>> adwin.update_many(stream[1000:])
[23]
>>> adwin.n_buckets_ <= (adwin.max_buckets + 1) * 11
True

Reference: A. Bifet, R. Gavaldà (2007), Learning from time-changing data with adaptive windowing,
SIAM International Conference on Data Mining, 443–448.
"""

from __future__ import annotations

import logging
import math
from typing import ClassVar

from weir.monitoring.concept.base import StreamDetector

logger = logging.getLogger(__name__)


class ADWIN(StreamDetector):
    """Adaptive-window change detector for the mean of a real-valued stream (river's defaults)."""

    name: ClassVar[str] = "adwin"
    _param_names: ClassVar[tuple[str, ...]] = ("delta", "clock", "max_buckets", "min_window_length", "grace_period")

    def __init__(
        self,
        *,
        delta: float = 0.002,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
    ) -> None:
        self.delta = delta
        self.clock = clock
        self.max_buckets = max_buckets
        self.min_window_length = min_window_length
        self.grace_period = grace_period
        self._check_float("delta", delta, 0.0, 1.0)
        self._check_int("clock", clock, 1)
        self._check_int("max_buckets", max_buckets, 1)
        self._check_int("min_window_length", min_window_length, 1)
        self._check_int("grace_period", grace_period, 0)
        self.reset()

    def _reset_state(self) -> None:
        # Row i holds the sums and variances (sum of squared deviations) of buckets of 2**i values,
        # oldest first; higher rows are older.
        self._totals: list[list[float]] = [[]]
        self._variances: list[list[float]] = [[]]
        self._width = 0
        self._total = 0.0
        self._variance = 0.0
        self._tick = 0

    # --- learned state, read-only --------------------------------------------------------------

    @property
    def width_(self) -> int:
        """Number of values in the current window."""
        return self._width

    @property
    def total_(self) -> float:
        """Sum of the values in the current window."""
        return self._total

    @property
    def estimation_(self) -> float:
        """Mean of the current window (0.0 when empty)."""
        return self._total / self._width if self._width else 0.0

    @property
    def variance_(self) -> float:
        """Population variance of the current window (0.0 when empty)."""
        return max(self._variance, 0.0) / self._width if self._width else 0.0

    @property
    def n_buckets_(self) -> int:
        """Number of buckets that summarise the window: the detector's memory, O(log width_)."""
        return sum(len(row) for row in self._totals)

    # --- the algorithm -------------------------------------------------------------------------

    def _step(self, x: float) -> None:
        self._insert(x)
        self._tick += 1
        if self._tick % self.clock == 0 and self._width > self.grace_period:
            while self._width > 1 and self._significant_cut():
                self._drift_detected = True
                self._drop_oldest()

    def _insert(self, x: float) -> None:
        width = self._width
        if width:
            d = x - self._total / width
            self._variance += width * d * d / (width + 1)
        self._width = width + 1
        self._total += x
        totals, variances = self._totals, self._variances
        totals[0].append(x)
        variances[0].append(0.0)
        row = 0
        limit = self.max_buckets
        while len(totals[row]) > limit:
            if row + 1 == len(totals):
                totals.append([])
                variances.append([])
            a, b = totals[row][0], totals[row][1]
            size = float(1 << row)
            d = (a - b) / size
            merged_variance = variances[row][0] + variances[row][1] + size * d * d / 2.0
            del totals[row][:2]
            del variances[row][:2]
            totals[row + 1].append(a + b)
            variances[row + 1].append(merged_variance)
            row += 1

    def _drop_oldest(self) -> None:
        totals, variances = self._totals, self._variances
        row = len(totals) - 1
        n = float(1 << row)
        u = totals[row].pop(0)
        v = variances[row].pop(0)
        self._width -= 1 << row
        self._total -= u
        if self._width:
            d = u / n - self._total / self._width
            self._variance -= v + n * self._width * d * d / (n + self._width)
        else:
            self._total = self._variance = 0.0
        while len(totals) > 1 and not totals[-1]:
            totals.pop()
            variances.pop()

    def _significant_cut(self) -> bool:
        width = self._width
        mwl = self.min_window_length
        if width < 2 * mwl:
            return False
        variance = max(self._variance, 0.0) / width
        log_term = math.log(2.0 * math.log(width) / self.delta)
        sqrt = math.sqrt
        n0, u0 = 0, 0.0
        n1, u1 = width, self._total
        totals = self._totals
        for row in range(len(totals) - 1, -1, -1):
            size = 1 << row
            for total in totals[row]:
                n0 += size
                n1 -= size
                if n1 < mwl:
                    return False
                u0 += total
                u1 -= total
                if n0 >= mwl:
                    m = 1.0 / (n0 - mwl + 1) + 1.0 / (n1 - mwl + 1)
                    epsilon = sqrt(2.0 * m * variance * log_term) + 2.0 / 3.0 * log_term * m
                    if abs(u0 / n0 - u1 / n1) > epsilon:
                        return True
        return False


__all__ = ["ADWIN"]
