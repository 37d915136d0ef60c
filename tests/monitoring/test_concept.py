"""Concept drift detectors: one conformance suite over DETECTORS, then each method's own behaviour.

Conformance streams are seeded 0/1 error indicators (readable by every detector, DDM included): a
stationary error rate of 0.1, and an abrupt change from 0.1 to 0.5. Bounds below are measured, with margin.
"""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest

from weir.errors import ValidationError
from weir.monitoring.concept import ADWIN, DDM, DETECTORS, PageHinkley, StreamDetector
from weir.monitoring.concept.page_hinkley import Mode

SEEDS = range(10)
STATIONARY_LENGTH = 20_000
CHANGE_AT = 2_000

# False alarms summed over the 10 stationary streams of 20,000 values (200,000 values in all).
# Measured: Page–Hinkley 3, ADWIN 0, DDM 12 (DDM is known to be prone to them on long streams).
MAX_FALSE_ALARMS = {"page_hinkley": 5, "adwin": 1, "ddm": 20}
# Largest delay (values after the change) to the first detection, over the 10 changing streams.
# Measured on these 10 seeds: Page–Hinkley 134, ADWIN 79, DDM 162; over 30 seeds: 153, 79, 294.
MAX_DELAY = {"page_hinkley": 200, "adwin": 120, "ddm": 320}

BAD_PARAMETERS: dict[str, list[tuple[str, Any]]] = {
    "page_hinkley": [("min_instances", 0), ("min_instances", 2.5), ("min_instances", True), ("delta", -0.1),
                     ("delta", math.nan), ("threshold", 0.0), ("threshold", math.inf), ("alpha", 0.0),
                     ("alpha", 1.01), ("mode", "sideways")],
    "adwin": [("delta", 0.0), ("delta", 1.0), ("delta", "0.1"), ("clock", 0), ("clock", 2.0), ("max_buckets", 0),
              ("min_window_length", 0), ("grace_period", -1)],
    "ddm": [("warm_start", 0), ("warning_threshold", 0.0), ("warning_threshold", -2.0), ("drift_threshold", math.nan),
            ("drift_threshold", 1.0)],  # 1.0 is below the default warning_threshold of 2.0
}  # fmt: skip

detectors = pytest.mark.parametrize("name", sorted(DETECTORS))


def errors(seed: int, *segments: tuple[int, float]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """A 0/1 error stream: for each (length, error rate) segment, seeded Bernoulli draws."""
    rng = np.random.default_rng(seed)
    return np.concatenate([(rng.random(n) < rate).astype(np.float64) for n, rate in segments])


def state(detector: StreamDetector) -> tuple[int, int, bool, bool]:
    return detector.n_, detector.n_detections_, detector.drift_detected, detector.warning_detected


# --- conformance: every detector ---------------------------------------------------------------


@detectors
def test_registry_fresh_state_and_stored_parameters(name: str) -> None:
    assert {"page_hinkley": PageHinkley, "adwin": ADWIN, "ddm": DDM} == DETECTORS
    detector = DETECTORS[name]()
    assert isinstance(detector, StreamDetector) and detector.name == name
    assert state(detector) == (0, 0, False, False)
    for param in detector._param_names:
        assert repr(getattr(detector, param)) in repr(detector)
    with pytest.raises(TypeError):
        DETECTORS[name](0.1)  # type: ignore[call-arg]  # parameters are keyword-only


@detectors
def test_few_false_alarms_on_a_long_stationary_stream(name: str) -> None:
    alarms = sum(len(DETECTORS[name]().update_many(errors(seed, (STATIONARY_LENGTH, 0.1)))) for seed in SEEDS)
    assert alarms <= MAX_FALSE_ALARMS[name]


@detectors
def test_abrupt_change_is_detected_within_a_bounded_delay(name: str) -> None:
    for seed in SEEDS:
        stream = errors(1000 + seed, (CHANGE_AT, 0.1), (CHANGE_AT, 0.5))
        after = [i for i in DETECTORS[name]().update_many(stream) if i >= CHANGE_AT]
        assert after, f"seed {seed}: change missed"
        assert after[0] - CHANGE_AT <= MAX_DELAY[name], f"seed {seed}: delay {after[0] - CHANGE_AT}"


@detectors
def test_state_resets_after_a_drift_as_in_river(name: str) -> None:
    stream = errors(1001, (CHANGE_AT, 0.1), (CHANGE_AT, 0.5))
    detector = DETECTORS[name]()
    first = next(i for i, x in enumerate(stream) if detector.update(x))
    assert detector.drift_detected and detector.n_detections_ == 1  # the flag stays readable
    rest = stream[first + 1 :]
    after = detector.update_many(rest)
    assert after == DETECTORS[name]().update_many(rest)  # behaves exactly like a fresh detector
    assert detector.n_ == len(stream)  # counters survive the automatic reset
    assert detector.n_detections_ == 1 + len(after)
    detector.reset()  # an explicit reset() forgets the counters too
    assert state(detector) == (0, 0, False, False)
    assert detector.update_many(stream) == DETECTORS[name]().update_many(stream)


@detectors
def test_update_many_equals_repeated_update(name: str) -> None:
    stream = errors(5, (1500, 0.1), (1500, 0.6), (1500, 0.1), (1500, 0.6))
    one_by_one = DETECTORS[name]()
    flags = [one_by_one.update(x) for x in stream.tolist()]
    indices = (batched := DETECTORS[name]()).update_many(stream)
    assert len(indices) >= 2  # the comparison covers several drifts and resets
    assert indices == [i for i, flag in enumerate(flags) if flag]
    assert (batched.n_, batched.n_detections_) == (one_by_one.n_, one_by_one.n_detections_)
    assert DETECTORS[name]().update_many(list(stream)) == indices  # lists and arrays alike


@detectors
def test_input_types(name: str) -> None:
    detector = DETECTORS[name]()
    assert not any(detector.update(value) for value in (0, 1, True, np.float32(1.0), np.int64(0)))
    assert detector.n_ == 5
    with pytest.raises(ValidationError):
        detector.update_many("0101")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="one-dimensional"):
        detector.update_many(np.zeros((3, 2)))
    for value in (0.5, 2, -1, 0.999):  # binary detectors (DDM) accept only 0 and 1
        if detector.binary_input:
            with pytest.raises(ValidationError, match=r"0 \(correct\) or 1 \(error\)"):
                detector.update(value)
        else:
            detector.update(value)


@detectors
def test_bad_parameters_raise_validation_error_naming_them(name: str) -> None:
    for param, value in BAD_PARAMETERS[name]:
        with pytest.raises(ValidationError) as caught:
            DETECTORS[name](**{param: value})
        error = caught.value
        assert isinstance(error, ValueError)
        assert f"'{param}'" in str(error)
        assert error.details["parameter"] == param
        valid = error.details["valid"]  # the valid range, also in the message
        assert all(repr(v) in str(error) for v in valid) if isinstance(valid, list) else valid in str(error)


@detectors
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, np.float64("nan"), "0.5", None, [1.0], b"1"])
def test_bad_values_raise_validation_error_and_change_nothing(name: str, value: Any) -> None:
    detector = DETECTORS[name]()
    detector.update(1.0)
    with pytest.raises(ValidationError, match=type(detector).__name__):
        detector.update(value)
    with pytest.raises(ValidationError):
        detector.update_many([0.0, 1.0, value, 0.0])
    assert detector.n_ == 1  # neither call touched the state


# --- the same outputs as river's published examples ----------------------------------------------


def test_page_hinkley_and_adwin_match_rivers_documented_examples() -> None:
    rng = random.Random(12345)
    stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
    assert PageHinkley().update_many(stream) == [1006]
    assert ADWIN().update_many(stream) == [1023]
    rng = random.Random(42)  # river's ADWIN regression test with several drifts
    stream = [x for _ in range(2) for x in rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)]
    assert ADWIN().update_many(stream) == [1023, 2015, 3007]


def test_ddm_matches_rivers_documented_example() -> None:
    rng = random.Random(42)
    stream = rng.choices([0, 1], k=1000)
    stream += rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
    ddm, events, report_warning = DDM(), [], True
    for i, x in enumerate(stream):  # river's loop: report the first warning after each drift
        ddm.update(x)
        events += [("warning", i)] * (ddm.warning_detected and report_warning) + [("drift", i)] * ddm.drift_detected
        report_warning = ddm.drift_detected or (report_warning and not ddm.warning_detected)
    assert events == [("warning", 1084), ("drift", 1334), ("warning", 1492)]


@pytest.mark.parametrize(("mode", "sees_increase", "sees_decrease"), [("both", 1, 1), ("up", 1, 0), ("down", 0, 1)])
def test_page_hinkley_mode_selects_the_direction(mode: Mode, sees_increase: int, sees_decrease: int) -> None:
    rng = np.random.default_rng(11)
    base = rng.normal(0.0, 0.1, 3000)
    rising = np.concatenate([base, base[:1000] + 1.0])
    falling = np.concatenate([base, base[:1000] - 1.0])
    up, down = PageHinkley(mode=mode).update_many(rising), PageHinkley(mode=mode).update_many(falling)
    assert len(up) == sees_increase and len(down) == sees_decrease
    assert all(3000 <= i <= 3100 for i in up + down)


def test_adwin_window_shrinks_to_the_new_concept_then_restarts() -> None:
    rng = np.random.default_rng(0)
    stream = np.concatenate([rng.normal(0.0, 1.0, 5000), rng.normal(1.0, 1.0, 2000)])
    adwin = ADWIN()
    adwin.update_many(stream[:5000])
    assert adwin.width_ == 5000 and abs(adwin.estimation_) < 0.1
    at = next(i for i, x in enumerate(stream[5000:]) if adwin.update(x))
    assert at <= 100
    assert adwin.width_ < 500  # the window was cut: most of the 5,000 old values are gone
    assert adwin.estimation_ > 0.3
    adwin.update(1.0)
    assert adwin.width_ == 1  # river's behaviour: the next update starts from an empty window


def test_adwin_memory_is_logarithmic_and_statistics_exact() -> None:
    rng = np.random.default_rng(1)
    stream = rng.normal(3.0, 2.0, 2**17)
    adwin = ADWIN(grace_period=2**17)  # no check runs, so the window keeps every value
    assert adwin.update_many(stream) == []
    assert adwin.width_ == stream.size
    assert adwin.n_buckets_ <= (adwin.max_buckets + 1) * (math.log2(adwin.width_) + 1)
    assert adwin.n_buckets_ < 100  # 131,072 values summarised by fewer than 100 (sum, variance) pairs
    assert adwin.total_ == pytest.approx(stream.sum(), rel=1e-9)
    assert adwin.estimation_ == pytest.approx(stream.mean(), rel=1e-9)
    assert adwin.variance_ == pytest.approx(stream.var(), rel=1e-9)


def test_warm_up_parameters_page_hinkley_min_instances_adwin_grace_period_and_clock() -> None:
    assert PageHinkley(min_instances=30).update_many([0.0] * 10 + [100.0] * 40) == [29]
    assert PageHinkley(min_instances=5).update_many([0.0] * 10 + [100.0] * 40) == [10]
    jump = [0.0] * 50 + [1000.0] * 50
    assert ADWIN(grace_period=100, clock=1).update_many(jump) == []
    checked_every_value = ADWIN(clock=1).update_many(jump)
    checked_every_32 = ADWIN().update_many(jump)
    assert checked_every_value and checked_every_32
    assert checked_every_value[0] < checked_every_32[0]
    assert (checked_every_32[0] + 1) % 32 == 0


def test_ddm_warning_precedes_drift_and_clears_on_it() -> None:
    for seed in SEEDS:
        stream = errors(1000 + seed, (CHANGE_AT, 0.1), (CHANGE_AT, 0.5))
        ddm, in_warning = DDM(), False
        for i, x in enumerate(stream.tolist()):
            if ddm.update(x) and i >= CHANGE_AT:
                assert in_warning, f"seed {seed}: drift at {i} without a warning before it"
                assert not ddm.warning_detected
                break
            in_warning = ddm.warning_detected
        else:
            pytest.fail(f"seed {seed}: no drift")


def test_ddm_ignores_a_falling_error_rate_and_waits_for_warm_start() -> None:
    assert DDM().update_many(errors(2, (2000, 0.5), (2000, 0.1))) == []
    assert DDM(warm_start=30).update_many([0.0] * 29 + [1.0] * 2) == []  # nothing flagged within warm_start
    # river shares this: after 31 zeros p_min = s_min = 0, so the first error is a drift.
    assert DDM(warm_start=30).update_many([0.0] * 31 + [1.0]) == [31]
