"""The blueprint's KS drift detector, with exactly its interface.

``PredictiveDriftDetector(baseline_distribution, warning_threshold=0.05)`` compares a current
sample with the baseline by the two-sample Kolmogorov–Smirnov test (``scipy.stats.ks_2samp``,
default method). ``evaluate_model_integrity`` returns ``False`` when the p-value is below the
threshold; instead of the blueprint's ``print`` it logs a warning and emits a
:class:`~weir.events.DriftDetected` event, which continuous training turns into a retrain.

Where the blueprint would silently pass (NaN p-value from empty or all-NaN input) this raises a
clear :class:`~weir.errors.ValidationError`; NaNs are dropped before testing.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> detector = PredictiveDriftDetector(rng.normal(size=2000))
>>> detector.evaluate_model_integrity(rng.normal(size=2000))
True
>>> detector.evaluate_model_integrity(rng.normal(loc=0.5, size=2000))
False
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from scipy.stats import ks_2samp

from weir.errors import ValidationError
from weir.events import DriftDetected, EventBus

logger = logging.getLogger(__name__)

MIN_SAMPLES = 2


def _sample(values: Any, what: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"The {what} must be numeric: {exc}. Encode categories before testing.") from exc
    if array.ndim != 1:
        raise ValidationError(f"The {what} must be one-dimensional (one feature or score); got shape {array.shape}.")
    if np.isinf(array).any():
        raise ValidationError(f"The {what} contains infinite values; replace or drop them before testing.")
    array = array[~np.isnan(array)]
    if array.size < MIN_SAMPLES:
        raise ValidationError(
            f"The {what} has {array.size} usable value(s) after dropping NaN; the KS test needs at least {MIN_SAMPLES}."
        )
    return array


class PredictiveDriftDetector:
    """KS-test drift detector of the original blueprint (``print`` replaced by a log line and an event)."""

    def __init__(
        self,
        baseline_distribution: np.ndarray[Any, Any],
        warning_threshold: float = 0.05,
        *,
        bus: EventBus | None = None,
        name: str = "PredictiveDriftDetector",
    ) -> None:
        if not 0.0 < float(warning_threshold) < 1.0:
            raise ValidationError(f"warning_threshold must be a p-value between 0 and 1; got {warning_threshold}.")
        self.baseline = _sample(baseline_distribution, "baseline distribution")
        self.threshold = float(warning_threshold)
        self.bus = bus
        self.name = name

    def calculate_p_value_drift(self, current_distribution: np.ndarray[Any, Any]) -> float:
        """The two-sample KS p-value of the current sample against the baseline."""
        result = ks_2samp(self.baseline, _sample(current_distribution, "current distribution"))
        return float(result.pvalue)

    def evaluate_model_integrity(self, current_data: np.ndarray[Any, Any]) -> bool:
        """``True`` while the data looks like the baseline; ``False`` (and an event) when p < threshold."""
        current = _sample(current_data, "current data")
        result = ks_2samp(self.baseline, current)
        p_value = float(result.pvalue)
        if p_value < self.threshold:
            logger.warning(
                "CRITICAL: Concept drift detected (p=%.4f < %.4f, KS statistic %.4f). Retraining trigger initiated.",
                p_value,
                self.threshold,
                float(result.statistic),
            )
            if self.bus is not None:
                self.bus.emit(
                    DriftDetected(
                        source=self.name,
                        statistic=float(result.statistic),
                        p_value=p_value,
                        threshold=self.threshold,
                        details={"test": "ks", "n_baseline": int(self.baseline.size), "n_current": int(current.size)},
                    )
                )
            return False
        return True
