r"""Page–Hinkley test: a cumulative-sum detector of a change in a stream's mean.

The detector keeps the running mean :math:`\bar x_t` of the values seen since the last reset and two
cumulative sums of the deviations from it, faded by ``alpha``:

.. math::

    m^{+}_t = \alpha\, m^{+}_{t-1} + (x_t - \bar x_t - \delta), \qquad
    m^{-}_t = \alpha\, m^{-}_{t-1} + (x_t - \bar x_t + \delta).

An increase of the mean is flagged when :math:`m^{+}_t - \min_{s \le t} m^{+}_s > \lambda`, a decrease
when :math:`\max_{s \le t} m^{-}_s - m^{-}_t > \lambda`. ``delta`` is the magnitude of change that is
tolerated, ``threshold`` (:math:`\lambda`) trades detection delay against false alarms and is in the
units of the data (it is a sum of deviations: scale it with the stream's spread). This is river's
``river.drift.PageHinkley`` (same parameters, defaults and update rule); it has no warning zone.

Parameters (keyword-only)
-------------------------
min_instances : int, default 30
    Values needed (since the last reset) before a drift can be signalled; >= 1.
delta : float, default 0.005
    Tolerated change of the mean; >= 0.
threshold : float, default 50.0
    The detection threshold :math:`\lambda`; > 0.
alpha : float, default 0.9999
    Forgetting factor of the cumulative sums; in (0, 1].
mode : {"both", "up", "down"}, default "both"
    Flag increases of the mean, decreases, or both.

After a drift the next update restarts the mean and sums from scratch (see
:mod:`weir.monitoring.concept.base`).

>>> import numpy as np
>>> rng = np.random.default_rng(7)
>>> errors = np.concatenate([rng.normal(0.0, 0.1, 1000), rng.normal(1.0, 0.1, 500)])
>>> PageHinkley(threshold=20.0).update_many(errors)
[1016]
>>> falling = np.concatenate([rng.normal(1.0, 0.1, 1000), rng.normal(0.0, 0.1, 500)])
>>> PageHinkley(threshold=20.0, mode="up").update_many(falling)
[]
>>> PageHinkley(threshold=20.0, mode="down").update_many(falling)
[1020]

References: E. S. Page (1954), Continuous inspection schemes, Biometrika 41, 100–115.
"""

from __future__ import annotations

import logging
from typing import ClassVar, Literal

from weir.errors import ValidationError
from weir.monitoring.concept.base import StreamDetector

logger = logging.getLogger(__name__)

Mode = Literal["both", "up", "down"]
MODES: tuple[Mode, ...] = ("both", "up", "down")


class PageHinkley(StreamDetector):
    """Page–Hinkley change detector for the mean of a real-valued stream (river's defaults)."""

    name: ClassVar[str] = "page_hinkley"
    _param_names: ClassVar[tuple[str, ...]] = ("min_instances", "delta", "threshold", "alpha", "mode")

    def __init__(
        self,
        *,
        min_instances: int = 30,
        delta: float = 0.005,
        threshold: float = 50.0,
        alpha: float = 1 - 0.0001,
        mode: Mode = "both",
    ) -> None:
        self.min_instances = min_instances
        self.delta = delta
        self.threshold = threshold
        self.alpha = alpha
        self.mode = mode
        self._check_int("min_instances", min_instances, 1)
        self._check_float("delta", delta, 0.0, float("inf"), low_open=False)
        self._check_float("threshold", threshold, 0.0, float("inf"))
        self._check_float("alpha", alpha, 0.0, 1.0, high_open=False)
        if mode not in MODES:
            raise ValidationError(
                f"PageHinkley parameter 'mode' must be one of {', '.join(map(repr, MODES))}; got {mode!r}.",
                parameter="mode",
                valid=list(MODES),
            )
        self.reset()

    def _reset_state(self) -> None:
        self._up = self.mode in ("both", "up")
        self._down = self.mode in ("both", "down")
        self._count = 0
        self._mean = 0.0
        self._sum_increase = 0.0
        self._sum_decrease = 0.0
        self._min_increase = float("inf")
        self._max_decrease = float("-inf")

    @property
    def mean_(self) -> float:
        """Running mean of the values seen since the last reset (0.0 before any)."""
        return self._mean

    @property
    def statistic_(self) -> float:
        """Current test statistic: the largest monitored excursion, compared with ``threshold``."""
        if self._count == 0:
            return 0.0
        up = self._sum_increase - self._min_increase if self._up else 0.0
        down = self._max_decrease - self._sum_decrease if self._down else 0.0
        return max(up, down)

    def _step(self, x: float) -> None:
        self._count += 1
        self._mean += (x - self._mean) / self._count
        dev = x - self._mean
        alpha = self.alpha
        self._sum_increase = inc = alpha * self._sum_increase + dev - self.delta
        self._sum_decrease = dec = alpha * self._sum_decrease + dev + self.delta
        if inc < self._min_increase:
            self._min_increase = inc
        if dec > self._max_decrease:
            self._max_decrease = dec
        if self._count >= self.min_instances:
            threshold = self.threshold
            self._drift_detected = (self._up and inc - self._min_increase > threshold) or (
                self._down and self._max_decrease - dec > threshold
            )


__all__ = ["MODES", "Mode", "PageHinkley"]
