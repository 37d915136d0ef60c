"""Multivariate drift tests: one conformance suite over every test in ``TESTS``, then each test's own checks.

The conformance checks (DESIGN convention 9) run for every registered multivariate test: the result's
shape, no drift between seeded samples of one distribution, drift found for a mean shift in one of ten
features and for a correlation flip that leaves every marginal unchanged (which per-column KS tests
miss), calibration under the null, and every bad input. Then MMD² is checked against explicit loops and
the domain classifier's feature importance against the feature that moved.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.stats as ss

from weir.errors import NotFittedError, ValidationError
from weir.monitoring.multivariate import TESTS, DomainClassifierDrift, MMDDrift, MultivariateResult
from weir.monitoring.multivariate.base import MultivariateDriftTest
from weir.monitoring.multivariate.mmd import mmd2_unbiased

Array = np.ndarray[Any, Any]
NAMES = sorted(TESTS)
ALPHA = 0.05


def make(name: str, **params: Any) -> MultivariateDriftTest:
    """The test called ``name`` with few permutations (fast) unless told otherwise."""
    return TESTS[name](**({"n_permutations": 200} | params))


def correlated(rng: np.random.Generator, rows: int, rho: float, columns: int = 10) -> Array:
    """Standard normal columns; columns 0 and 1 have correlation ``rho`` (every marginal stays N(0, 1))."""
    x = rng.normal(size=(rows, columns))
    x[:, 1] = rho * x[:, 0] + math.sqrt(1.0 - rho**2) * x[:, 1]
    return x


# --- conformance: every test ----------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_result_shape_and_no_drift_on_one_distribution(name: str) -> None:
    rng = np.random.default_rng(1)
    reference, current = rng.normal(size=(400, 5)), rng.normal(size=(300, 5))
    detector = make(name, alpha=0.01)
    assert detector.fit(reference) is detector
    result = detector.test(current)
    assert isinstance(result, MultivariateResult) and repr(detector).startswith(f"{type(detector).__name__}(")
    assert (result.test, result.threshold, result.n_reference, result.n_current) == (name, 0.01, 400, 300)
    assert result.verdict == "no drift" and not result.drifted and not result.not_enough_data
    assert 1.0 / 201.0 <= result.p_value <= 1.0 and math.isfinite(result.statistic)
    assert result.details["n_used"] == {"reference": 400, "current": 300}
    assert result.details["missing_imputed"] == {"reference": {}, "current": {}}
    body = json.loads(json.dumps(result.to_dict()))
    assert set(body) >= {"test", "statistic", "p_value", "threshold", "drifted", "verdict", "details"}
    assert body["p_value"] == result.p_value and body["verdict"] == "no drift"
    again = detector.test(current)
    assert (again.statistic, again.p_value) == (result.statistic, result.p_value)


@pytest.mark.parametrize("name", NAMES)
def test_mean_shift_in_one_of_ten_features_is_drift(name: str) -> None:
    rng = np.random.default_rng(2)
    current = rng.normal(size=(500, 10))
    current[:, 3] += 0.75
    result = make(name).fit(rng.normal(size=(500, 10))).test(current)
    assert result.drifted and result.verdict == "drift"
    assert result.p_value == pytest.approx(1.0 / 201.0)


@pytest.mark.parametrize("name", NAMES)
def test_correlation_flip_is_drift_that_per_column_ks_misses(name: str) -> None:
    """Columns 0 and 1 go from correlation +0.8 to -0.8: every marginal is N(0, 1) on both sides."""
    rng = np.random.default_rng(3)
    reference, current = correlated(rng, 500, 0.8), correlated(rng, 500, -0.8)
    ks_p_values = [ss.ks_2samp(reference[:, j], current[:, j]).pvalue for j in range(10)]
    assert min(ks_p_values) * 10 > ALPHA  # Bonferroni over the ten columns: KS flags no column
    result = make(name).fit(reference).test(current)
    assert result.drifted and result.p_value < 0.01


@pytest.mark.parametrize(
    ("name", "runs", "params"),
    [("domain_classifier", 50, {"cv": 3}), ("mmd", 100, {})],
    ids=["domain_classifier", "mmd"],
)
def test_null_rejection_rate_stays_at_alpha(name: str, runs: int, params: dict[str, Any]) -> None:
    """Over seeded null runs (100 rows a side) the rejection rate is at most α plus three binomial standard
    errors: 0.142 for 50 runs, 0.115 for 100. (Three folds keep the classifier's runs cheap; the p-value's
    exactness does not depend on the number of folds.)"""
    rejections = 0
    for seed in range(runs):
        rng = np.random.default_rng(1000 + seed)
        detector = make(name, min_samples=20, random_state=seed, **params).fit(rng.normal(size=(100, 3)))
        rejections += detector.test(rng.normal(size=(100, 3))).drifted
    assert rejections / runs <= ALPHA + 3.0 * math.sqrt(ALPHA * (1.0 - ALPHA) / runs)


@pytest.mark.parametrize("name", NAMES)
def test_too_few_rows_is_not_enough_data(name: str) -> None:
    rng = np.random.default_rng(4)
    detector = make(name, min_samples=30)
    small = detector.fit(rng.normal(size=(200, 3))).test(rng.normal(size=(29, 3)))
    assert small.verdict == "not enough data" and not small.drifted and math.isnan(small.p_value)
    assert small.to_dict()["statistic"] is None and small.n_current == 29
    for reference in (np.empty((0, 3)), rng.normal(size=(5, 3))):
        result = make(name).fit(reference).test(rng.normal(size=(200, 3)) + 5.0)
        assert result.not_enough_data and not result.drifted


@pytest.mark.parametrize("name", NAMES)
def test_test_before_fit_raises(name: str) -> None:
    with pytest.raises(NotFittedError, match=r"not fitted; call fit\(reference\)"):
        make(name).test(np.zeros((50, 2)))


@pytest.mark.parametrize("name", NAMES)
def test_dataframe_columns_are_matched_by_name(name: str) -> None:
    rng = np.random.default_rng(5)
    reference = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    current = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    detector = make(name).fit(reference)
    assert detector.test(current[["c", "a", "b"]]) == detector.test(current)
    with pytest.raises(ValidationError, match=r"missing \['c'\], unexpected \['z'\]"):
        detector.test(current.rename(columns={"c": "z"}))
    with pytest.raises(ValidationError, match="3 column"):
        make(name).fit(reference.to_numpy()).test(current.to_numpy()[:, :2])


@pytest.mark.parametrize("name", NAMES)
def test_bad_values_raise_naming_the_column(name: str) -> None:
    rng = np.random.default_rng(6)
    reference = pd.DataFrame(rng.normal(size=(100, 3)), columns=["a", "b", "c"])
    detector = make(name).fit(reference)
    broken = reference.copy()
    broken.loc[7, "b"] = np.inf
    with pytest.raises(ValidationError, match=r"\['b'\] of the current data hold infinite"):
        detector.test(broken)
    with pytest.raises(ValidationError, match=r"non-numeric column\(s\) \['c'\]"):
        detector.test(reference.assign(c="x"))
    with pytest.raises(ValidationError, match=r"\['a'\] hold no values"):
        make(name).fit(reference.assign(a=np.nan))
    with pytest.raises(ValidationError, match="not numeric"):
        make(name).fit(np.array([["x", "y"]] * 50))


@pytest.mark.parametrize("name", NAMES)
def test_missing_values_are_imputed_and_reported(name: str) -> None:
    rng = np.random.default_rng(7)
    reference, current = rng.normal(size=(300, 3)), rng.normal(size=(300, 3))
    reference[:10, 0] = np.nan
    current[:5, 2] = np.nan
    result = make(name).fit(reference).test(current)
    assert result.details["missing_imputed"] == {"reference": {"0": 10}, "current": {"2": 5}}
    assert not result.drifted
    current[:, 1] = np.nan  # a feature that stops arriving is drift, never a silent pass
    assert make(name).fit(reference).test(current).drifted


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("param", "value"), [("alpha", 1.5), ("n_permutations", 0), ("max_samples", 1), ("random_state", -1)]
)
def test_bad_parameters_raise_naming_them(name: str, param: str, value: object) -> None:
    with pytest.raises(ValidationError, match=f"'{param}'"):
        make(name, **{param: value})


@pytest.mark.parametrize("name", NAMES)
def test_each_side_is_subsampled_to_max_samples(name: str) -> None:
    rng = np.random.default_rng(8)
    result = make(name, max_samples=150).fit(rng.normal(size=(400, 2))).test(rng.normal(size=(300, 2)))
    assert result.details["n_used"] == {"reference": 150, "current": 150}
    assert (result.n_reference, result.n_current) == (400, 300)


# --- MMD -----------------------------------------------------------------------------------------


def mmd2_loops(x: Array, y: Array, bandwidth: float) -> float:
    """Unbiased MMD² written out with explicit loops (Gretton et al. 2012, Lemma 6)."""

    def k(a: Array, b: Array) -> float:
        return math.exp(-sum((ai - bi) ** 2 for ai, bi in zip(a, b, strict=True)) / (2.0 * bandwidth**2))

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2.0 * xy


def test_mmd2_equals_explicit_loops() -> None:
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=(23, 3)), rng.normal(loc=0.3, size=(21, 3))
    result = MMDDrift(bandwidth=1.3, standardize=False, min_samples=5).fit(x).test(y)
    assert result.statistic == pytest.approx(mmd2_loops(x, y, 1.3), rel=1e-10)
    median = MMDDrift(standardize=False, min_samples=5).fit(x)
    distances = [math.dist(x[i], x[j]) for i in range(23) for j in range(i + 1, 23)]
    assert median.bandwidth_ == pytest.approx(float(np.median(distances)), rel=1e-12)


def test_every_permutation_is_an_mmd2_of_its_split() -> None:
    rng = np.random.default_rng(10)
    pooled = rng.normal(size=(12, 2))
    kernel = np.exp(-((pooled[:, None, :] - pooled[None, :, :]) ** 2).sum(-1) / 2.0)
    np.fill_diagonal(kernel, 0.0)
    first = np.stack([rng.permutation(np.repeat([1.0, 0.0], [7, 5])) for _ in range(6)], axis=1)
    expected = [mmd2_loops(pooled[column == 1.0], pooled[column == 0.0], 1.0) for column in first.T]
    np.testing.assert_allclose(mmd2_unbiased(kernel, first), expected, rtol=1e-10)


def test_mmd_standardizes_with_the_reference() -> None:
    rng = np.random.default_rng(11)
    reference, current = rng.normal(size=(200, 3)), rng.normal(size=(200, 3))
    scale = np.array([1.0, 1000.0, 0.001])
    plain, scaled = MMDDrift().fit(reference).test(current), MMDDrift().fit(reference * scale).test(current * scale)
    assert scaled.statistic == pytest.approx(plain.statistic, rel=1e-9)
    assert scaled.p_value == plain.p_value


# --- domain classifier ---------------------------------------------------------------------------


def test_feature_importance_points_at_the_shifted_feature() -> None:
    rng = np.random.default_rng(12)
    reference = pd.DataFrame(rng.normal(size=(600, 6)), columns=list("abcdef"))
    current = pd.DataFrame(rng.normal(size=(600, 6)), columns=list("abcdef")).assign(d=lambda f: f.d + 0.8)
    result = DomainClassifierDrift(n_permutations=200).fit(reference).test(current)
    importance = result.details["feature_importance"]
    assert next(iter(importance)) == "d" and importance["d"] > 0.1
    assert max(abs(value) for key, value in importance.items() if key != "d") < 0.05
    assert len(result.details["fold_auc"]) == 4 and result.statistic > 0.6


def test_correlation_flip_importance_names_the_pair() -> None:
    rng = np.random.default_rng(3)
    result = DomainClassifierDrift(n_permutations=200).fit(correlated(rng, 500, 0.8))
    ranking = list(result.test(correlated(rng, 500, -0.8)).details["feature_importance"])
    assert set(ranking[:2]) == {"0", "1"}
