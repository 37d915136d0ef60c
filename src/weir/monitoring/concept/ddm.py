r"""DDM, the Drift Detection Method of Gama et al. (2004), on a stream of prediction errors.

Each value is 1 when the model was wrong and 0 when it was right. While the concept is stable a
learner's error rate :math:`p_i` (the share of 1s since the last reset) should not grow. With
:math:`s_i = \sqrt{p_i (1 - p_i) / i}` its binomial standard deviation, DDM remembers the point where
:math:`p_i + s_i` was smallest (:math:`p_{min}, s_{min}`) and, once more than ``warm_start`` values
have been seen, signals

- a **warning** while :math:`p_i + s_i > p_{min} + w \cdot s_{min}` (``warning_threshold`` :math:`w = 2`,
  about 95% confidence), and
- a **drift** when :math:`p_i + s_i > p_{min} + d \cdot s_{min}` (``drift_threshold`` :math:`d = 3`,
  about 99% confidence); the warning flag is cleared at that update.

It only watches for the error rate going *up*. This is river's ``river.drift.binary.DDM`` (same
parameters, defaults and update rule). A consequence of the rule that river shares: if the first
``warm_start`` + 1 values are all 0, then :math:`p_{min} = s_{min} = 0` and the first error is a drift.

Parameters (keyword-only)
-------------------------
warm_start : int, default 30
    Values needed (since the last reset) before the minimum is tracked and a warning or drift
    can be signalled; >= 1.
warning_threshold : float, default 2.0
    Multiplier of :math:`s_{min}` for the warning zone; > 0.
drift_threshold : float, default 3.0
    Multiplier of :math:`s_{min}` for a drift; >= ``warning_threshold``.

After a drift the next update restarts the error rate and minimum from scratch (see
:mod:`weir.monitoring.concept.base`). ``update`` accepts only 0 and 1 (or ``False``/``True``).

>>> import numpy as np
>>> rng = np.random.default_rng(42)
>>> errors = np.concatenate([rng.random(1000) < 0.1, rng.random(1000) < 0.5]).astype(int)
>>> ddm = DDM()
>>> warning_at = drift_at = None
>>> for i, error in enumerate(errors):
...     drift = ddm.update(error)
...     if i >= 1000 and ddm.warning_detected and warning_at is None:
...         warning_at = i
...     if drift:
...         drift_at = i
...         break
>>> warning_at, drift_at
(1029, 1109)

Reference: J. Gama, P. Medas, G. Castillo, P. Rodrigues (2004), Learning with drift detection,
SBIA 2004, LNCS 3171, 286–295.
"""

from __future__ import annotations

import logging
import math
from typing import ClassVar

from weir.errors import ValidationError
from weir.monitoring.concept.base import StreamDetector

logger = logging.getLogger(__name__)


class DDM(StreamDetector):
    """Drift Detection Method on a 0/1 error stream, with a warning zone (river's defaults)."""

    name: ClassVar[str] = "ddm"
    binary_input: ClassVar[bool] = True
    has_warning: ClassVar[bool] = True
    _param_names: ClassVar[tuple[str, ...]] = ("warm_start", "warning_threshold", "drift_threshold")

    def __init__(self, *, warm_start: int = 30, warning_threshold: float = 2.0, drift_threshold: float = 3.0) -> None:
        self.warm_start = warm_start
        self.warning_threshold = warning_threshold
        self.drift_threshold = drift_threshold
        self._check_int("warm_start", warm_start, 1)
        self._check_float("warning_threshold", warning_threshold, 0.0, float("inf"))
        self._check_float("drift_threshold", drift_threshold, 0.0, float("inf"))
        if drift_threshold < warning_threshold:
            raise ValidationError(
                f"DDM parameter 'drift_threshold' must be >= {warning_threshold!r} (the warning_threshold); "
                f"got {drift_threshold!r}.",
                parameter="drift_threshold",
                valid=f">= {warning_threshold!r}",
            )
        self.reset()

    def _reset_state(self) -> None:
        self._count = 0
        self._errors = 0.0
        self._p_min = float("inf")
        self._s_min = float("inf")
        self._ps_min = float("inf")

    @property
    def error_rate_(self) -> float:
        """Error rate since the last reset (0.0 before any value)."""
        return self._errors / self._count if self._count else 0.0

    @property
    def p_min_(self) -> float:
        """Error rate at the recorded minimum of p + s (``inf`` until past ``warm_start``)."""
        return self._p_min

    @property
    def s_min_(self) -> float:
        """Standard deviation at the recorded minimum of p + s (``inf`` until past ``warm_start``)."""
        return self._s_min

    def _step(self, x: float) -> None:
        self._count = n = self._count + 1
        self._errors += x
        if n <= self.warm_start:
            return
        p = self._errors / n
        s = math.sqrt(p * (1.0 - p) / n)
        ps = p + s
        if ps <= self._ps_min:
            self._p_min = p
            self._s_min = s
            self._ps_min = ps
        if ps > self._p_min + self.drift_threshold * self._s_min:
            self._drift_detected = True
            self._warning_detected = False
        else:
            self._warning_detected = ps > self._p_min + self.warning_threshold * self._s_min


__all__ = ["DDM"]
