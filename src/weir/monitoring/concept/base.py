"""The contract every concept drift detector on a stream follows.

A :class:`StreamDetector` watches one stream of numbers, usually a model's per-prediction error (0/1
for a classifier) or a score, and says when the stream's distribution has changed. The verbs match
river's ``river.drift`` detectors, which users already know:

- ``update(x)`` feeds one value and returns :attr:`~StreamDetector.drift_detected` for convenience;
- ``drift_detected`` is ``True`` for exactly the update at which a drift was found;
- ``warning_detected`` is ``True`` while a detector with a warning zone (``has_warning``) is in it;
  detectors without one always report ``False``;
- ``reset()`` forgets everything, as if the detector had just been built.

**Reset after a drift (as river does).** After an update that returns ``True`` the flag stays readable
until the next ``update``, which first clears the detector's statistics, so the new concept is learned
from scratch. The counters :attr:`~StreamDetector.n_` (values seen since construction or ``reset()``)
and ``n_detections_`` survive that automatic reset; only ``reset()`` clears them.

**Inputs.** Values must be finite real numbers; ``NaN``, infinities, strings and ``None`` raise
:class:`~weir.errors.ValidationError`. Detectors with ``binary_input = True`` (DDM) accept only 0 and 1
(``bool`` included). ``update_many(xs)`` validates the whole batch before touching any state, then
returns the indices (0-based, within ``xs``) at which a drift was detected, exactly as repeated
``update`` calls would.

**Parameters** are keyword-only, stored unchanged under their own names and validated when the
detector is built: a bad one raises :class:`~weir.errors.ValidationError` naming it and its valid range.

>>> from weir.monitoring.concept import PageHinkley
>>> detector = PageHinkley(threshold=5.0)
>>> detector.update_many([0.0] * 100 + [1.0] * 50)
[105]
>>> detector.n_, detector.n_detections_
(150, 1)
>>> PageHinkley(threshold=-1.0)
Traceback (most recent call last):
...
weir.errors.ValidationError: PageHinkley parameter 'threshold' must be a number in (0, inf); got -1.0.
"""

from __future__ import annotations

import logging
import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar, SupportsFloat

import numpy as np

from weir.errors import ValidationError

logger = logging.getLogger(__name__)


def _interval(low: float, high: float, low_open: bool, high_open: bool) -> str:
    return f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


class StreamDetector(ABC):
    """Base of the stream (concept drift) detectors; see the module docstring for the contract."""

    name: ClassVar[str]
    """Short key of the detector in :data:`weir.monitoring.concept.DETECTORS`."""
    binary_input: ClassVar[bool] = False
    """Whether ``update`` accepts only 0 and 1 (an error indicator)."""
    has_warning: ClassVar[bool] = False
    """Whether the detector has a warning zone (``warning_detected`` can be ``True``)."""
    _param_names: ClassVar[tuple[str, ...]] = ()

    n_: int
    n_detections_: int
    _drift_detected: bool
    _warning_detected: bool

    # --- parameter checks (used by subclasses' __init__) -------------------------------------

    def _check_int(self, param: str, value: Any, minimum: int) -> None:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
            raise ValidationError(
                f"{type(self).__name__} parameter '{param}' must be an integer >= {minimum}; got {value!r}.",
                parameter=param,
                valid=f">= {minimum}",
            )

    def _check_float(
        self, param: str, value: Any, low: float, high: float, *, low_open: bool = True, high_open: bool = True
    ) -> None:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
        if ok:
            ok = (low < value if low_open else low <= value) and (value < high if high_open else value <= high)
        if not ok:
            interval = _interval(low, high, low_open, high_open)
            raise ValidationError(
                f"{type(self).__name__} parameter '{param}' must be a number in {interval}; got {value!r}.",
                parameter=param,
                valid=interval,
            )

    # --- the contract ------------------------------------------------------------------------

    @abstractmethod
    def _reset_state(self) -> None:
        """Clear the detector's statistics (called by ``reset()`` and automatically after a drift)."""

    @abstractmethod
    def _step(self, x: float) -> None:
        """Consume one validated value and set ``_drift_detected`` (and ``_warning_detected``)."""

    def reset(self) -> None:
        """Forget everything seen so far, counters included."""
        self.n_ = 0
        self.n_detections_ = 0
        self._drift_detected = False
        self._warning_detected = False
        self._reset_state()

    @property
    def drift_detected(self) -> bool:
        """``True`` when the last update detected a drift."""
        return self._drift_detected

    @property
    def warning_detected(self) -> bool:
        """``True`` while the stream is in the warning zone (always ``False`` without ``has_warning``)."""
        return self._warning_detected

    def _check_value(self, x: Any) -> float:
        kind = type(x)
        if kind is float or kind is int:  # fast path for the common case
            value = float(x)
            if math.isfinite(value) and (not self.binary_input or value == 0.0 or value == 1.0):
                return value
        try:
            if isinstance(x, str | bytes | bytearray):
                raise TypeError
            value = float(x)
        except (TypeError, ValueError):
            raise ValidationError(
                f"{type(self).__name__}.update expects a real number; got {x!r} ({type(x).__name__}).", value=repr(x)
            ) from None
        if not math.isfinite(value):
            raise ValidationError(
                f"{type(self).__name__}.update got {value}; drop or impute NaN and infinite values before updating.",
                value=repr(x),
            )
        if self.binary_input and value != 0.0 and value != 1.0:
            raise ValidationError(
                f"{type(self).__name__}.update expects 0 (correct) or 1 (error); got {x!r}. "
                "Feed a binary error indicator, or use PageHinkley or ADWIN for real-valued streams.",
                value=repr(x),
            )
        return value

    def update(self, x: SupportsFloat) -> bool:
        """Feed one value; return whether a drift was detected at this value."""
        value = self._check_value(x)
        return self._update(value)

    def _update(self, value: float) -> bool:
        if self._drift_detected:
            self._reset_state()
            self._drift_detected = False
            self._warning_detected = False
        self.n_ += 1
        self._step(value)
        if self._drift_detected:
            self.n_detections_ += 1
            logger.debug("%s detected drift at value #%d", type(self).__name__, self.n_)
        return self._drift_detected

    def update_many(self, xs: Iterable[SupportsFloat]) -> list[int]:
        """Feed values in order; return the 0-based indices in ``xs`` where a drift was detected.

        The whole batch is validated first: a bad value raises and leaves the detector unchanged.
        """
        if isinstance(xs, str | bytes):
            raise ValidationError(f"{type(self).__name__}.update_many expects a sequence of numbers; got a string.")
        if isinstance(xs, np.ndarray):
            if xs.ndim != 1:
                raise ValidationError(
                    f"{type(self).__name__}.update_many expects a one-dimensional stream; got shape {xs.shape}."
                )
            xs = xs.tolist()
        values = [self._check_value(x) for x in xs]
        update = self._update
        return [i for i, value in enumerate(values) if update(value)]

    def __repr__(self) -> str:
        params = ", ".join(f"{p}={getattr(self, p)!r}" for p in self._param_names)
        return f"{type(self).__name__}({params})"


__all__ = ["StreamDetector"]
