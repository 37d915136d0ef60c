"""The blueprint detector: same interface and KS behaviour, a log line and an event instead of print."""

from __future__ import annotations

import inspect
import logging

import numpy as np
import pytest
from scipy.stats import ks_2samp

from weir.errors import ValidationError
from weir.events import DriftDetected, EventBus
from weir.monitoring.predictive import PredictiveDriftDetector


def test_interface_matches_the_blueprint() -> None:
    init = inspect.signature(PredictiveDriftDetector.__init__).parameters
    assert list(init)[:3] == ["self", "baseline_distribution", "warning_threshold"]
    assert init["warning_threshold"].default == 0.05
    assert list(inspect.signature(PredictiveDriftDetector.calculate_p_value_drift).parameters) == [
        "self",
        "current_distribution",
    ]
    assert list(inspect.signature(PredictiveDriftDetector.evaluate_model_integrity).parameters) == [
        "self",
        "current_data",
    ]


@pytest.mark.parametrize("seed", range(20))
def test_p_value_is_scipys_ks_2samp(seed: int) -> None:
    rng = np.random.default_rng(seed)
    baseline = rng.normal(size=rng.integers(5, 3000))
    current = rng.normal(loc=rng.uniform(-0.3, 0.3), size=rng.integers(5, 3000))
    detector = PredictiveDriftDetector(baseline)
    expected = ks_2samp(baseline, current).pvalue
    assert detector.calculate_p_value_drift(current) == expected
    assert detector.evaluate_model_integrity(current) is (not expected < 0.05)


def test_drift_logs_and_emits_an_event(caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(1)
    bus = EventBus()
    events: list[DriftDetected] = []
    bus.subscribe(DriftDetected, events.append)
    detector = PredictiveDriftDetector(rng.normal(size=1000), warning_threshold=0.01, bus=bus, name="churn/score")
    with caplog.at_level(logging.WARNING, logger="weir.monitoring.predictive"):
        assert detector.evaluate_model_integrity(rng.normal(size=1000)) is True
        assert not events and not caplog.records
        assert detector.evaluate_model_integrity(rng.normal(loc=1.0, size=1000)) is False
    assert len(events) == 1
    event = events[0]
    assert event.source == "churn/score" and event.threshold == 0.01
    assert event.p_value is not None and event.p_value < 0.01 and event.statistic > 0.3
    assert "Concept drift detected" in caplog.records[0].getMessage()


def test_threshold_is_strict_less_than() -> None:
    baseline = np.arange(10.0)
    current = np.arange(10.0) + 3
    p = ks_2samp(baseline, current).pvalue
    assert PredictiveDriftDetector(baseline, warning_threshold=p).evaluate_model_integrity(current) is True
    assert (
        PredictiveDriftDetector(baseline, warning_threshold=np.nextafter(p, 1)).evaluate_model_integrity(current)
        is False
    )


def test_nans_are_dropped_not_silently_passed() -> None:
    rng = np.random.default_rng(2)
    baseline = rng.normal(size=500)
    current = np.concatenate([rng.normal(loc=2, size=500), [np.nan] * 10])
    assert PredictiveDriftDetector(baseline).evaluate_model_integrity(current) is False


@pytest.mark.parametrize(
    ("current", "needle"),
    [
        ([], "0 usable value"),
        ([np.nan, np.nan, np.nan], "0 usable value"),
        ([1.0, np.inf], "infinite"),
        (np.ones((3, 2)), "one-dimensional"),
        (["a", "b"], "must be numeric"),
    ],
)
def test_bad_input_is_a_clear_error(current: object, needle: str) -> None:
    detector = PredictiveDriftDetector(np.arange(10.0))
    with pytest.raises(ValidationError, match=needle):
        detector.evaluate_model_integrity(current)  # type: ignore[arg-type]


@pytest.mark.parametrize("threshold", [0, 1, -0.1, 1.5])
def test_threshold_must_be_a_probability(threshold: float) -> None:
    with pytest.raises(ValidationError, match="warning_threshold"):
        PredictiveDriftDetector(np.arange(10.0), warning_threshold=threshold)
