"""The dataset-level data drift detector: column types, choice, grouping, correction, quality, bad input."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from weir.errors import NotFittedError, ValidationError, WeirError
from weir.monitoring.correction import adjust
from weir.monitoring.data_drift import DataDriftDetector, DataDriftResult
from weir.monitoring.tests import PSI, StatTest, get

CATS = np.array(["a", "b", "c", "d"], dtype=object)
P_CATS = [0.4, 0.3, 0.2, 0.1]


def mixed(rng: np.random.Generator, n: int, shift: bool = False) -> pd.DataFrame:
    """Two numeric, one integer code, one 4-category and one binary column; ``shift`` moves x and plan."""
    return pd.DataFrame(
        {
            "x": rng.normal(loc=1.0 if shift else 0.0, size=n),
            "y": rng.exponential(size=n),
            "stars": rng.integers(1, 4, size=n),
            "plan": rng.choice(CATS, p=[0.1, 0.2, 0.3, 0.4] if shift else P_CATS, size=n),
            "flag": rng.choice(np.array([True, False]), size=n),
        }
    )


# --- fit: choice, stored state, grouping --------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (600, {"x": "ks", "y": "ks", "stars": "chi2", "plan": "chi2", "flag": "ztest", "few": "ztest", "five": "chi2"}),
        (
            3000,
            {
                "x": "wasserstein",
                "y": "wasserstein",
                "stars": "jensen_shannon",
                "plan": "jensen_shannon",
                "flag": "jensen_shannon",
                "few": "jensen_shannon",
                "five": "jensen_shannon",
            },
        ),
    ],
)
def test_fit_chooses_by_the_table(n: int, expected: dict[str, str]) -> None:
    rng = np.random.default_rng(1)
    reference = mixed(rng, n).assign(few=rng.choice([0.5, 1.5], n), five=rng.choice(np.arange(5) / 2, n))
    detector = DataDriftDetector().fit(reference)
    assert detector.tests_ == expected
    assert detector.column_types_ == {
        "x": "numeric", "y": "numeric", "stars": "categorical", "plan": "categorical", "flag": "categorical",
        "few": "numeric", "five": "numeric",
    }  # fmt: skip
    assert detector.reference_ is reference
    x = detector.reference_values_["x"]
    np.testing.assert_array_equal(x, reference["x"].to_numpy())  # numeric: float64, as given
    plan = detector.reference_values_["plan"]  # categorical: codes in order of first appearance
    np.testing.assert_array_equal(plan, pd.factorize(reference["plan"])[0])


def test_each_test_runs_once_over_all_its_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, int, bool | None]] = []
    original = StatTest.compute

    def spy(self: StatTest, reference: Any, current: Any, **kwargs: Any) -> Any:
        calls.append((self.name, np.asarray(current).shape[1], kwargs.get("categorical")))
        return original(self, reference, current, **kwargs)

    monkeypatch.setattr(StatTest, "compute", spy)
    rng = np.random.default_rng(2)
    reference = pd.concat([mixed(rng, 3000), mixed(rng, 3000).add_prefix("b_")], axis=1)
    current = pd.concat([mixed(rng, 2000), mixed(rng, 2000).add_prefix("b_")], axis=1)
    DataDriftDetector().fit(reference).test(current)
    assert sorted(calls) == [("jensen_shannon", 6, True), ("wasserstein", 4, False)]


def test_statistics_equal_the_tests_on_the_raw_columns() -> None:
    rng = np.random.default_rng(3)
    reference, current = mixed(rng, 800), mixed(rng, 700, shift=True)
    current.loc[::7, "plan"] = "e"  # a category unseen in the reference
    current.loc[::5, "x"] = np.nan
    result = DataDriftDetector(correction="none").fit(reference).test(current)
    for column, test in [("x", "ks"), ("y", "ks"), ("plan", "chi2"), ("stars", "chi2"), ("flag", "ztest")]:
        ref, cur = reference[column].to_numpy(), current[column].to_numpy()
        categorical = test != "ks"
        if categorical:
            ref, cur = ref.astype(object), cur.astype(object)
        direct = get(test).compute(ref, cur, categorical=categorical)
        outcome = result[column]
        assert outcome.test == test and outcome.statistic == pytest.approx(direct.statistic[0], rel=1e-12)
        assert outcome.p_value == pytest.approx(direct.p_value[0], rel=1e-12)  # type: ignore[index]
        assert outcome.n_current == direct.n_current[0]
    assert result["x"].n_current == 700 - 140 and result["plan"].note == "1 category unseen in the reference"


def test_category_dtype_and_strings_give_the_same_result() -> None:
    rng = np.random.default_rng(4)
    reference, current = mixed(rng, 1500), mixed(rng, 1500, shift=True)
    current.loc[::9, "plan"] = "zz"
    as_strings = DataDriftDetector().fit(reference).test(current)
    as_category = DataDriftDetector().fit(reference.astype({"plan": "category"}))
    assert as_category.column_types_["plan"] == "categorical"
    for current_plan in (current.astype({"plan": "category"}), current):
        result = as_category.test(current_plan)
        assert result["plan"].statistic == pytest.approx(as_strings["plan"].statistic, rel=1e-12)
        assert result["plan"].note == as_strings["plan"].note == "1 category unseen in the reference"


# --- overrides and thresholds -------------------------------------------------------------------


def test_overrides() -> None:
    rng = np.random.default_rng(5)
    reference = mixed(rng, 2000)
    assert DataDriftDetector(tests="psi").fit(reference).tests_ == dict.fromkeys(reference.columns, "psi")
    numeric_only = DataDriftDetector(tests="ks").fit(reference).tests_
    assert numeric_only == {"x": "ks", "y": "ks", "stars": "jensen_shannon", "plan": "jensen_shannon",
                            "flag": "jensen_shannon"}  # fmt: skip
    instance = PSI(n_bins=4)
    detector = DataDriftDetector(tests={"x": instance, "plan": "chi2"}).fit(reference)
    assert detector.tests_["x"] == "psi" and detector.tests_["plan"] == "chi2" and detector.tests_["y"] == "wasserstein"
    assert detector.choices_["x"].test is instance
    as_number = DataDriftDetector(column_types={"stars": "numeric"}, tests={"stars": "ks"}).fit(reference)
    assert as_number.column_types_["stars"] == "numeric" and as_number.tests_["stars"] == "ks"
    with pytest.raises(ValidationError, match=r"Column 'plan' is categorical, and the 'ks' test applies to numeric"):
        DataDriftDetector(tests={"plan": "ks"}).fit(reference)
    with pytest.raises(ValidationError, match=r"tests\['x'\] is 'kolmogorov', which is not a known test"):
        DataDriftDetector(tests={"x": "kolmogorov"}).fit(reference)


def test_thresholds_alpha_and_per_column() -> None:
    rng = np.random.default_rng(6)
    reference, current = mixed(rng, 2000), mixed(rng, 2000)
    current["x"] = current["x"] + 0.05  # a small shift: normed Wasserstein about 0.05
    default = DataDriftDetector().fit(reference).test(current)
    assert default["x"].threshold == 0.1 and not default["x"].drifted
    strict = DataDriftDetector(thresholds={"x": 0.02}).fit(reference).test(current)
    assert strict["x"].threshold == 0.02 and strict["x"].drifted and strict["x"].verdict == "drift"
    small = DataDriftDetector(alpha=0.01).fit(reference.iloc[:500]).test(current.iloc[:500])
    assert {small[c].threshold for c in ("x", "plan", "flag")} == {0.01}


# --- correction and dataset verdict -------------------------------------------------------------


@pytest.mark.parametrize("method", ["bh", "bonferroni", "none"])
def test_p_values_are_corrected_across_columns_and_distances_are_not(method: str) -> None:
    rng = np.random.default_rng(7)
    reference, current = mixed(rng, 900), mixed(rng, 900)
    current["x"] = current["x"] + 0.12
    result = DataDriftDetector(correction=method).fit(reference).test(current)
    raw = np.array([c.p_value for c in result.columns])
    adjusted = np.array([c.adjusted_p_value for c in result.columns])
    np.testing.assert_allclose(adjusted, adjust(raw, method), rtol=1e-12)
    assert all(c.drifted == (c.adjusted_p_value < 0.05) for c in result.columns)  # type: ignore[operator]
    large = DataDriftDetector(correction=method).fit(mixed(rng, 2000)).test(mixed(rng, 2000))
    assert all(c.kind == "distance" and c.p_value is None and c.adjusted_p_value is None for c in large.columns)


def test_dataset_drift_is_the_share_of_tested_columns() -> None:
    rng = np.random.default_rng(8)
    reference, current = mixed(rng, 3000), mixed(rng, 3000, shift=True)  # x and plan move: 2 of 5
    result = DataDriftDetector().fit(reference).test(current)
    assert (result.n_columns_tested, result.n_drifted, result.share_drifted) == (5, 2, 0.4)
    assert not result.dataset_drift and result.reason is None
    assert DataDriftDetector(drift_share=0.4).fit(reference).test(current).dataset_drift
    current["y"] = np.nan  # not enough data: leaves the denominator
    fewer = DataDriftDetector(drift_share=0.5).fit(reference).test(current)
    assert (fewer.n_columns_tested, fewer.share_drifted, fewer.dataset_drift) == (4, 0.5, True)


def test_result_serialises() -> None:
    rng = np.random.default_rng(9)
    reference, current = mixed(rng, 500).assign(when=pd.Timestamp("2024-01-01")), mixed(rng, 20)
    current["extra"] = 1.0
    result = DataDriftDetector().fit(reference).test(current)
    assert isinstance(result, DataDriftResult) and (result.correction, result.alpha) == ("bh", 0.05)
    body = result.to_dict()
    text = json.dumps(body, allow_nan=False)
    assert json.loads(text)["columns"][0]["statistic"] is None  # not enough data: NaN -> null
    assert body["ignored_columns"] == ["extra"] and body["n_columns_tested"] == 0
    frame = result.to_frame()
    assert list(frame["column"]) == ["x", "y", "stars", "plan", "flag", "when"]
    assert list(frame.columns)[:3] == ["column", "type", "test"] and "adjusted_p_value" in frame.columns
    assert str(frame.loc[5, "verdict"]).startswith("excluded: datetime64") and frame["test"].isna().iloc[5]
    with pytest.raises(KeyError):
        result["nope"]


# --- the quality targets (reduced size) -------------------------------------------------


def quality_frames(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, set[str]]:
    """20 numeric + 5 categorical columns; 10 numeric and 3 categorical shifted (13 of 25)."""
    rng = np.random.default_rng(seed)
    reference: dict[str, Any] = {}
    current: dict[str, Any] = {}
    for j in range(20):
        reference[f"n{j}"] = rng.normal(loc=j, scale=1 + j / 10, size=n)
        sd = 1 + j / 10
        if j < 5:  # mean shift of half a standard deviation
            current[f"n{j}"] = rng.normal(loc=j + 0.5 * sd, scale=sd, size=n)
        elif j < 10:  # scale change, mean kept
            current[f"n{j}"] = rng.normal(loc=j, scale=sd * (1.5 if j % 2 else 0.6), size=n)
        else:
            current[f"n{j}"] = rng.normal(loc=j, scale=sd, size=n)
    for j, (before, after) in enumerate(
        [(P_CATS, [0.25] * 4), (P_CATS, [0.25, 0.25, 0.3, 0.2]), (P_CATS, P_CATS), (P_CATS, P_CATS)]
    ):
        reference[f"c{j}"] = rng.choice(CATS, p=before, size=n)
        current[f"c{j}"] = rng.choice(CATS, p=after, size=n)
    binary = np.array(["yes", "no"], dtype=object)
    reference["c4"], current["c4"] = rng.choice(binary, p=[0.7, 0.3], size=n), rng.choice(binary, p=[0.5, 0.5], size=n)
    shifted = {f"n{j}" for j in range(10)} | {"c0", "c1", "c4"}
    return pd.DataFrame(reference), pd.DataFrame(current), shifted


@pytest.mark.parametrize("seed", [0, 1])
def test_every_shifted_column_found_and_no_false_alarm(seed: int) -> None:
    reference, current, shifted = quality_frames(20_000, seed)
    result = DataDriftDetector().fit(reference).test(current)
    assert {c.column for c in result.columns if c.drifted} == shifted
    assert result.n_columns_tested == 25 and result.n_drifted == 13 and result.dataset_drift
    assert {c.verdict for c in result.columns} == {"drift", "no drift"}


def null_frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    data: dict[str, Any] = {f"x{j}": rng.normal(size=n) for j in range(7)}
    data["flag"] = rng.choice(np.array(["yes", "no"], dtype=object), p=[0.3, 0.7], size=n)
    data["c0"], data["c1"] = rng.choice(CATS, p=P_CATS, size=n), rng.choice(CATS, p=P_CATS, size=n)
    return pd.DataFrame(data)


@pytest.mark.slow
def test_null_data_flags_at_most_alpha_of_columns() -> None:
    """200 seeded runs, reference and current from one distribution, 10 columns each.

    At 1000 rows the table picks p-value tests (KS, chi-square, Z), where alpha means something:
    the uncorrected share flagged must be at most alpha up to Monte-Carlo noise. 2000 column tests
    give a binomial standard error of sqrt(0.05 * 0.95 / 2000) = 0.0049, and we allow three of them
    (0.0646), a false failure rate of about 0.1%. With BH (the default) the share must stay at or
    below alpha itself, and the runs with any alarm at most alpha plus three standard errors over 200
    runs (0.096). At 2000 rows the table picks distances with fixed thresholds; the share flagged must
    still stay at or below alpha.
    """
    alpha, runs = 0.05, 200
    raw = corrected = any_alarm = dataset = tested = 0
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        result = DataDriftDetector().fit(null_frame(rng, 1000)).test(null_frame(rng, 1000))
        assert set(DataDriftDetector().fit(null_frame(rng, 50)).tests_.values()) == {"ks", "chi2", "ztest"}
        tested += result.n_columns_tested
        raw += sum(c.p_value is not None and c.p_value < alpha for c in result.columns)
        corrected += result.n_drifted
        any_alarm += result.n_drifted > 0
        dataset += result.dataset_drift
    assert tested == runs * 10
    assert raw / tested <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / tested)
    assert raw / tested > alpha / 3  # the p-values are live: the uncorrected tests do fire sometimes
    assert corrected / tested <= alpha and any_alarm / runs <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / runs)
    assert dataset == 0
    flagged = 0
    for seed in range(runs):
        rng = np.random.default_rng(10_000 + seed)
        flagged += DataDriftDetector().fit(null_frame(rng, 2000)).test(null_frame(rng, 2000)).n_drifted
    assert flagged / (runs * 10) <= alpha


# --- bad input ----------------------------------------------------------------------------------


def test_test_before_fit_is_a_clear_error() -> None:
    with pytest.raises(NotFittedError, match=r"not fitted yet; call fit\(reference\) before test\(current\)") as info:
        DataDriftDetector().test(pd.DataFrame({"x": [1.0]}))
    assert isinstance(info.value, WeirError)
    failed = DataDriftDetector(thresholds={"x": 5.0})
    with pytest.raises(ValidationError, match="thresholds"):
        failed.fit(pd.DataFrame({"x": np.arange(50.0)}))
    with pytest.raises(NotFittedError, match="not fitted yet"):  # a failed fit leaves nothing half-learned
        failed.test(pd.DataFrame({"x": np.arange(50.0)}))


def test_a_reference_with_nothing_to_test() -> None:
    frame = pd.DataFrame({"user": [f"u{i}" for i in range(40)], "when": pd.date_range("2024", periods=40, freq="D")})
    result = DataDriftDetector().fit(frame).test(frame)
    assert [c.verdict.split(":")[0] for c in result.columns] == ["excluded", "excluded"]
    assert result.reason == "The reference has no numeric or categorical column to test."
    assert (result.n_columns_tested, result.dataset_drift) == (0, False)


def test_frames_that_are_not_frames_or_have_odd_labels() -> None:
    detector = DataDriftDetector()
    with pytest.raises(ValidationError, match="The reference data must be a pandas DataFrame; got ndarray"):
        detector.fit(np.zeros((3, 2)))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"column labels must be strings; got \[0, 1\]"):
        detector.fit(pd.DataFrame(np.zeros((3, 2))))
    with pytest.raises(ValidationError, match=r"duplicated columns \['x'\]"):
        detector.fit(pd.DataFrame([[1.0, 2.0]], columns=["x", "x"]))
    with pytest.raises(ValidationError, match="The reference data has no rows"):
        detector.fit(pd.DataFrame({"x": np.array([], dtype=float)}))
    fitted = DataDriftDetector().fit(pd.DataFrame({"x": np.arange(50.0)}))
    with pytest.raises(ValidationError, match="The current data must be a pandas DataFrame; got list"):
        fitted.test([1.0, 2.0])  # type: ignore[arg-type]


def test_mismatched_columns() -> None:
    rng = np.random.default_rng(10)
    reference = mixed(rng, 400).assign(user=[f"u{i}" for i in range(400)])  # 'user' is excluded (id)
    detector = DataDriftDetector().fit(reference)
    with pytest.raises(ValidationError, match=r"lacks column\(s\) \['x', 'plan'\] that the reference has"):
        detector.test(mixed(rng, 300).drop(columns=["x", "plan"]))
    result = detector.test(mixed(rng, 300).assign(extra=1.0, more="m"))  # 'user' may be absent: not tested
    assert result.ignored_columns == ("extra", "more")
    assert result["user"].verdict.startswith("excluded: all 400 values are distinct")
    assert result.n_columns_tested == 5


def test_empty_current_is_not_enough_data_everywhere() -> None:
    rng = np.random.default_rng(11)
    reference = mixed(rng, 400)
    result = DataDriftDetector().fit(reference).test(reference.iloc[:0])
    assert {c.verdict for c in result.columns} == {"not enough data"}
    assert all(c.n_current == 0 and c.n_reference == 400 and not c.drifted for c in result.columns)
    assert all(math.isnan(c.statistic) for c in result.columns)
    assert not result.dataset_drift and result.reason == "The current data has no rows."
    assert (result.n_columns_tested, result.share_drifted) == (0, 0.0)


def test_all_null_constant_and_tiny_columns() -> None:
    rng = np.random.default_rng(12)
    n = 500
    reference = pd.DataFrame(
        {
            "nothing": np.full(n, np.nan),
            "flat": np.full(n, 3.0),
            "flat_moves": np.full(n, 3.0),
            "sparse": np.where(rng.random(n) < 0.02, rng.normal(size=n), np.nan),
            "x": rng.normal(size=n),
            "word": np.array(["same"] * n, dtype=object),
        }
    )
    current = reference.copy()
    current["flat_moves"] = 4.0
    current["x"] = np.nan
    result = DataDriftDetector().fit(reference).test(current)
    verdicts = {c.column: (c.verdict, c.note) for c in result.columns}
    assert verdicts["nothing"] == ("not enough data", "every reference value is missing")
    assert verdicts["flat"] == (
        "no drift",
        "constant in the reference; read as categories: 1 distinct reference values",
    )
    assert verdicts["flat_moves"][0] == "drift" and "1 category unseen in the reference" in str(
        verdicts["flat_moves"][1]
    )
    assert verdicts["sparse"][0] == "not enough data" and "current values; 30 needed" in str(verdicts["sparse"][1])
    assert verdicts["x"] == ("not enough data", "every current value is missing")
    assert verdicts["word"] == ("no drift", "constant in the reference")
    assert result.n_columns_tested == 3 and result.n_drifted == 1
    lenient = DataDriftDetector(min_samples=2).fit(reference).test(current)
    assert lenient["sparse"].verdict in ("drift", "no drift")
    nothing_tested = DataDriftDetector().fit(reference).test(current.iloc[:10])
    assert nothing_tested.reason == "No column has at least 30 non-missing values on both sides."


def test_new_categories_are_seen() -> None:
    rng = np.random.default_rng(13)
    reference = pd.DataFrame({"plan": rng.choice(CATS, p=P_CATS, size=3000)})
    current = pd.DataFrame({"plan": rng.choice(np.array(["a", "b", "new1", "new2"], dtype=object), size=3000)})
    outcome = DataDriftDetector().fit(reference).test(current)["plan"]
    assert outcome.drifted and outcome.note == "2 categories unseen in the reference"


def test_infinities_and_non_numbers_name_the_column() -> None:
    rng = np.random.default_rng(14)
    reference = mixed(rng, 200)
    bad = reference.copy()
    bad.loc[3, "y"] = np.inf
    with pytest.raises(ValidationError, match=r"Column\(s\) \['y'\] of the reference data hold infinite values"):
        DataDriftDetector().fit(bad)
    detector = DataDriftDetector().fit(reference)
    with pytest.raises(ValidationError, match=r"Column\(s\) \['y'\] of the current data hold infinite values"):
        detector.test(bad)
    words = reference.astype({"x": object})
    words.loc[5, "x"] = "twelve"
    with pytest.raises(ValidationError, match=r"Column 'x' of the current data is numeric in the reference but holds"):
        detector.test(words)
    with pytest.raises(ValidationError, match=r"Column 'plan' of the reference data is numeric in the reference"):
        DataDriftDetector(column_types={"plan": "numeric"}).fit(reference)


def test_missing_values_are_dropped() -> None:
    rng = np.random.default_rng(15)
    reference, current = mixed(rng, 900), mixed(rng, 900)
    holes = current.copy()
    holes.loc[::3, ["x", "plan"]] = np.nan, None
    detector = DataDriftDetector().fit(reference)
    with_holes, without = detector.test(holes), detector.test(current.iloc[[i for i in range(900) if i % 3]])
    for column in ("x", "plan"):
        assert with_holes[column].n_current == 600
        assert with_holes[column].statistic == pytest.approx(without[column].statistic, rel=1e-12)


@pytest.mark.parametrize(
    ("parameters", "pattern"),
    [
        ({"alpha": 0.0}, r"'alpha' must be a number in \(0, 1\); got 0.0"),
        ({"alpha": "0.05"}, r"'alpha' must be a number in \(0, 1\)"),
        ({"drift_share": 1.5}, r"'drift_share' must be a number in \(0, 1\]; got 1.5"),
        ({"min_samples": 1}, r"'min_samples' must be an integer >= 2; got 1"),
        ({"min_samples": 2.5}, r"'min_samples' must be an integer >= 2"),
        ({"correction": "holm"}, "Unknown correction 'holm'; choose one of: bh, bonferroni, none"),
        ({"tests": 3}, "tests must be a test name, a StatTest or a mapping"),
        ({"tests": {"nope": "ks"}}, r"tests names column\(s\) \['nope'\]"),
        ({"thresholds": {"x": 2.0}}, r"thresholds\['x'\] must be a p-value in \(0, 1\) for the 'ks' test"),
        ({"column_types": {"x": "number"}}, r"column_types\['x'\] is 'number'; allowed types"),
    ],
)
def test_bad_parameters_are_refused_at_fit(parameters: dict[str, Any], pattern: str) -> None:
    detector = DataDriftDetector(**parameters)
    assert all(getattr(detector, key) == value for key, value in parameters.items())  # __init__ only stores
    with pytest.raises(ValidationError, match=pattern):
        detector.fit(mixed(np.random.default_rng(16), 300))
