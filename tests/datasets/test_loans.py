"""The loan simulator: shape, determinism, time windows, and the drift story the demo relies on."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, roc_auc_score

from weir.datasets import LOAN_FEATURES, LoanData, simulate_loans

DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def data() -> LoanData:
    return simulate_loans()


def days(data: LoanData, lo: int, hi: int) -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    """Features and labels of the applications made on days [lo, hi)."""
    apps, labels = data.between(data.start + lo * DAY, data.start + hi * DAY)
    return apps[list(LOAN_FEATURES)], labels["defaulted"].to_numpy()


def fit(data: LoanData, lo: int, hi: int) -> HistGradientBoostingClassifier:
    x, y = days(data, lo, hi)
    return HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(x, y)


def scores(model: HistGradientBoostingClassifier, data: LoanData, lo: int, hi: int) -> tuple[float, float]:
    """(ROC AUC, accuracy) of ``model`` on days [lo, hi)."""
    x, y = days(data, lo, hi)
    return float(roc_auc_score(y, model.predict_proba(x)[:, 1])), float(accuracy_score(y, model.predict(x)))


# -- shape and types ---------------------------------------------------------------------------------------------


def test_columns_dtypes_and_size(data: LoanData) -> None:
    apps, labels = data.applications, data.labels
    assert list(apps.columns) == ["application_id", "event_timestamp", *LOAN_FEATURES]
    assert list(labels.columns) == ["application_id", "event_timestamp", "label_timestamp", "defaulted"]
    assert len(apps) == len(labels) == 360 * 40
    assert str(apps["event_timestamp"].dtype) == "datetime64[ns, UTC]"
    assert str(labels["event_timestamp"].dtype) == str(labels["label_timestamp"].dtype) == "datetime64[ns, UTC]"
    for column in LOAN_FEATURES:
        assert apps[column].dtype == np.float64, column
        assert apps[column].notna().all(), column
    assert labels["defaulted"].dtype == np.int64
    assert set(labels["defaulted"].unique()) == {0, 1}
    assert apps["application_id"].iloc[0] == "a000001"
    assert apps["application_id"].is_unique
    assert all(isinstance(i, str) for i in apps["application_id"].head())


def test_plausible_ranges(data: LoanData) -> None:
    apps = data.applications
    assert apps["credit_score"].between(300, 850).all()
    assert apps["debt_ratio"].between(0, 1).all()
    assert apps["age"].between(21, 75).all()
    assert (apps["employment_years"] >= 0).all()
    assert (apps["employment_years"] <= apps["age"] - 18).all()
    assert (apps["income"] > 0).all()
    assert apps["loan_amount"].between(1_000, 500_000).all()
    before, _ = days(data, 0, 180)
    assert 45_000 < before["income"].median() < 55_000
    assert 665 < before["credit_score"].mean() < 695
    assert np.corrcoef(np.log(before["income"]), np.log(before["loan_amount"]))[0, 1] > 0.5


def test_times_are_sorted_per_day_and_in_range(data: LoanData) -> None:
    times = data.applications["event_timestamp"]
    assert times.is_monotonic_increasing
    assert times.iloc[0] >= pd.Timestamp(data.start)
    assert times.iloc[-1] < pd.Timestamp(data.start + 360 * DAY)
    per_day = ((times - pd.Timestamp(data.start)) // pd.Timedelta(days=1)).value_counts()
    assert len(per_day) == 360
    assert (per_day == 40).all()


def test_labels_align_with_applications(data: LoanData) -> None:
    apps, labels = data.applications, data.labels
    assert (labels["application_id"] == apps["application_id"]).all()
    assert (labels["event_timestamp"] == apps["event_timestamp"]).all()
    assert (labels["label_timestamp"] - labels["event_timestamp"] == pd.Timedelta(days=30)).all()
    quick = simulate_loans(days=60, per_day=2, shift_day=20, concept_day=40, label_delay_days=0)
    assert (quick.labels["label_timestamp"] == quick.labels["event_timestamp"]).all()


def test_change_points_and_start() -> None:
    start = datetime(2024, 3, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    data = simulate_loans(days=100, per_day=3, start=start, shift_day=40, concept_day=70)
    assert data.start == start and data.start.tzinfo == UTC
    assert data.shift_at == start + 40 * DAY and data.shift_at.tzinfo == UTC
    assert data.concept_at == start + 70 * DAY and data.concept_at.tzinfo == UTC
    assert data.applications["event_timestamp"].iloc[0] >= pd.Timestamp(start)
    defaults = simulate_loans()
    assert defaults.start == datetime(2025, 1, 1, tzinfo=UTC)
    assert defaults.shift_at == datetime(2025, 6, 30, tzinfo=UTC)  # day 180
    assert defaults.concept_at == datetime(2025, 8, 29, tzinfo=UTC)  # day 240


# -- determinism -------------------------------------------------------------------------------------------------


def test_same_seed_same_frames_other_seed_other_frames(data: LoanData) -> None:
    again = simulate_loans()
    pd.testing.assert_frame_equal(data.applications, again.applications)
    pd.testing.assert_frame_equal(data.labels, again.labels)
    other = simulate_loans(seed=1)
    assert not data.applications[list(LOAN_FEATURES)].equals(other.applications[list(LOAN_FEATURES)])
    assert not data.applications["event_timestamp"].equals(other.applications["event_timestamp"])
    assert not data.labels["defaulted"].equals(other.labels["defaulted"])


def test_generation_is_fast() -> None:
    began = time.perf_counter()
    simulate_loans()
    assert time.perf_counter() - began < 1.0


# -- windows -----------------------------------------------------------------------------------------------------


def test_month(data: LoanData) -> None:
    assert data.month(0) == (data.start, data.start + 30 * DAY)
    lo, hi = data.month(11)
    assert (lo, hi) == (data.start + 330 * DAY, data.start + 360 * DAY)
    assert lo.tzinfo == UTC and hi.tzinfo == UTC
    with pytest.raises(ValueError, match="month index"):
        data.month(-1)


def test_between(data: LoanData) -> None:
    total = 0
    for i in range(12):
        apps, labels = data.between(*data.month(i))
        lo, hi = data.month(i)
        assert len(apps) == len(labels) == 30 * 40
        assert apps["event_timestamp"].min() >= pd.Timestamp(lo)
        assert apps["event_timestamp"].max() < pd.Timestamp(hi)
        assert (apps["application_id"] == labels["application_id"]).all()
        assert list(apps.index) == list(range(len(apps)))
        total += len(apps)
    assert total == len(data.applications)
    # Half-open: an application exactly at ``end`` is excluded, one exactly at ``start`` included.
    at = data.applications["event_timestamp"].iloc[100].to_pydatetime()
    assert data.between(at, at + DAY)[0]["event_timestamp"].iloc[0] == pd.Timestamp(at)
    assert (data.between(at - DAY, at)[0]["event_timestamp"] < pd.Timestamp(at)).all()
    # Other time zones are compared as instants.
    plus2 = timezone(timedelta(hours=2))
    lo, hi = data.month(3)
    same, _ = data.between(lo.astimezone(plus2), hi.astimezone(plus2))
    pd.testing.assert_frame_equal(same, data.between(lo, hi)[0])
    assert data.between(data.start - 10 * DAY, data.start)[0].empty
    with pytest.raises(ValueError, match="timezone-aware"):
        data.between(datetime(2025, 1, 1), datetime(2025, 2, 1))


# -- the story: covariate shift, then concept change -------------------------------------------------------------


def test_default_rate_before_shift(data: LoanData) -> None:
    _, y = days(data, 0, 180)
    assert 0.15 <= y.mean() <= 0.25


@pytest.mark.parametrize("column", ["income", "credit_score"])
def test_shift_is_detectable_and_pre_shift_is_stationary(data: LoanData, column: str) -> None:
    before, _ = days(data, 150, 180)
    after, _ = days(data, 180, 210)
    assert ks_2samp(before[column][:500], after[column][:500]).pvalue < 0.001
    first, _ = days(data, 0, 90)
    second, _ = days(data, 90, 180)
    assert ks_2samp(first[column][:500], second[column][:500]).pvalue > 0.01


def test_shift_direction(data: LoanData) -> None:
    before, y_before = days(data, 0, 180)
    after, y_after = days(data, 180, 240)
    assert after["income"].median() < 0.85 * before["income"].median()
    assert after["credit_score"].mean() < before["credit_score"].mean() - 30
    assert after["debt_ratio"].mean() > before["debt_ratio"].mean() + 0.05
    assert y_after.mean() > y_before.mean()


def test_concept_change_decays_v1_and_retraining_recovers(data: LoanData) -> None:
    v1 = fit(data, 0, 150)
    auc_fresh, _ = scores(v1, data, 150, 180)
    auc_shifted, _ = scores(v1, data, 180, 240)
    auc_late, _ = scores(v1, data, 270, 360)
    assert auc_fresh >= 0.75  # (a)
    assert auc_shifted >= 0.75  # the covariate shift alone does not break v1
    assert auc_fresh - auc_late >= 0.08  # (b)
    v2 = fit(data, 240, 300)
    v1_auc, v1_acc = scores(v1, data, 300, 360)
    v2_auc, v2_acc = scores(v2, data, 300, 360)
    assert v2_auc - v1_auc >= 0.05  # (c)
    assert v2_acc - v1_acc >= 0.02


# -- bad arguments -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"days": 59}, "days must be >= 60"),
        ({"per_day": 0}, "per_day must be >= 1"),
        ({"shift_day": 0}, "shift_day must satisfy 0 < shift_day < days"),
        ({"shift_day": 360}, "shift_day must satisfy 0 < shift_day < days"),
        ({"concept_day": 0}, "concept_day must satisfy 0 < concept_day < days"),
        ({"days": 200, "concept_day": 240}, "concept_day must satisfy 0 < concept_day < days"),
        ({"label_delay_days": -1}, "label_delay_days must be >= 0"),
        ({"start": datetime(2025, 1, 1)}, "start must be timezone-aware"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        simulate_loans(**kwargs)
