"""Two-sample statistics: one conformance suite over every name in ``names()``, then exactness per test.

The conformance checks (DESIGN convention 9) run for every registered test and every column type it
declares, so a new statistic is checked the moment it is registered. The exactness checks compare with
scipy (KS, chi-square, Anderson–Darling, Cramér–von Mises, energy, Wasserstein) or with a
straightforward reference formula written here (PSI, Jensen–Shannon, Hellinger, KL, Z-test).
"""

from __future__ import annotations

import inspect
import json
import sys
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.stats as ss
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon

from weir.errors import ValidationError
from weir.monitoring import tests as stattests
from weir.monitoring.tests import StatResult, StatTest, get, names
from weir.monitoring.tests import columns as columns_module
from weir.monitoring.tests.binning import reference_quantiles
from weir.monitoring.tests.columns import count_valid
from weir.monitoring.tests.ecdf import ecdf_difference
from weir.monitoring.tests.ks import largest_gap

Array = np.ndarray[Any, Any]
CASES = [(name, column_type) for name in names() for column_type in get(name).column_types]
CATEGORIES = np.array(["a", "b", "c"], dtype=object)


def sample(column_type: str, rng: np.random.Generator, rows: int, columns: int, shifted: bool = False) -> Array:
    """Rows × columns of one distribution: N(0, 1) (N(1, 1) shifted), or categories a/b/c 50/30/20 (20/30/50)."""
    if column_type == "numeric":
        return rng.normal(loc=1.0 if shifted else 0.0, size=(rows, columns))
    p = [0.2, 0.3, 0.5] if shifted else [0.5, 0.3, 0.2]
    return rng.choice(CATEGORIES, p=p, size=(rows, columns))


def missing(column_type: str) -> Any:
    return np.nan if column_type == "numeric" else None


def assert_same(a: StatResult, b: StatResult, rtol: float = 1e-12) -> None:
    np.testing.assert_allclose(a.statistic, b.statistic, rtol=rtol, equal_nan=True)
    if a.p_value is None or b.p_value is None:
        assert a.p_value is None and b.p_value is None
    else:
        np.testing.assert_allclose(a.p_value, b.p_value, rtol=rtol, equal_nan=True)
    for field in ("drifted", "n_reference", "n_current", "not_enough_data"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


# --- conformance: every test, every column type it declares ------------------------------------


@pytest.mark.parametrize("name", names())
def test_declares_its_contract(name: str) -> None:
    test = get(name)
    assert isinstance(test, StatTest) and test.name == name
    assert test.kind in ("p_value", "distance")
    assert set(test.column_types) <= {"numeric", "categorical"} and test.column_types
    assert isinstance(test.min_samples, int) and test.min_samples >= 1
    if test.kind == "p_value":
        assert 0.0 < test.default_threshold < 1.0
    else:
        assert test.default_threshold > 0.0
    doc = sys.modules[type(test).__module__].__doc__
    assert doc and "Default threshold" in doc and "Column types" in doc and ">>>" in doc


@pytest.mark.parametrize(("name", "column_type"), CASES)
def test_result_has_one_entry_per_column(name: str, column_type: str) -> None:
    rng = np.random.default_rng(0)
    result = get(name).compute(sample(column_type, rng, 300, 3), sample(column_type, rng, 200, 3))
    assert (result.test, result.kind, result.threshold) == (name, get(name).kind, get(name).default_threshold)
    for field in ("statistic", "drifted", "n_reference", "n_current", "not_enough_data"):
        assert getattr(result, field).shape == (3,)
    assert result.statistic.dtype == np.float64 and result.drifted.dtype == np.bool_
    assert (result.p_value is None) == (result.kind == "distance")
    np.testing.assert_array_equal(result.n_reference, [300] * 3)
    np.testing.assert_array_equal(result.n_current, [200] * 3)
    expected = result.score < result.threshold if result.kind == "p_value" else result.score >= result.threshold
    np.testing.assert_array_equal(result.drifted, expected)
    json.dumps(result.to_dict())


@pytest.mark.parametrize(("name", "column_type"), CASES)
def test_no_drift_between_samples_of_one_distribution(name: str, column_type: str) -> None:
    rng = np.random.default_rng(7)
    result = get(name).compute(sample(column_type, rng, 5000, 3), sample(column_type, rng, 5000, 3))
    assert not result.drifted.any(), result.score


@pytest.mark.parametrize(("name", "column_type"), CASES)
def test_drift_on_a_shifted_column(name: str, column_type: str) -> None:
    rng = np.random.default_rng(8)
    reference, current = sample(column_type, rng, 5000, 2), sample(column_type, rng, 5000, 2, shifted=True)
    result = get(name).compute(reference, current)
    assert result.drifted.all(), result.score


@pytest.mark.parametrize(("name", "column_type"), CASES)
def test_too_little_data_is_flagged_never_drifted(name: str, column_type: str) -> None:
    rng = np.random.default_rng(1)
    reference, current = sample(column_type, rng, 400, 3), sample(column_type, rng, 400, 3, shifted=True)
    reference[:, 0] = missing(column_type)  # nothing at all
    current[1:, 1] = missing(column_type)  # one value
    result = get(name).compute(reference, current)
    np.testing.assert_array_equal(result.not_enough_data, [True, True, False])
    np.testing.assert_array_equal(result.drifted, [False, False, True])
    assert np.isnan(result.statistic[:2]).all() and np.isfinite(result.statistic[2])
    if result.p_value is not None:
        assert np.isnan(result.p_value[:2]).all()
    np.testing.assert_array_equal(result.n_reference, [0, 400, 400])
    np.testing.assert_array_equal(result.n_current, [400, 1, 400])
    empty = get(name).compute(reference[:0], current[:0])
    assert empty.not_enough_data.all() and not empty.drifted.any()


@pytest.mark.parametrize(("name", "column_type"), CASES)
def test_missing_values_are_dropped_before_testing(name: str, column_type: str) -> None:
    rng = np.random.default_rng(2)
    reference, current = sample(column_type, rng, 600, 1), sample(column_type, rng, 500, 1, shifted=True)
    holes_ref, holes_cur = rng.random(600) < 0.2, rng.random(500) < 0.1
    with_holes_ref, with_holes_cur = reference.astype(object), current.astype(object)
    with_holes_ref[holes_ref, 0], with_holes_cur[holes_cur, 0] = missing(column_type), missing(column_type)
    if column_type == "numeric":
        with_holes_ref, with_holes_cur = with_holes_ref.astype(float), with_holes_cur.astype(float)
    result = get(name).compute(with_holes_ref, with_holes_cur)
    assert_same(result, get(name).compute(reference[~holes_ref], current[~holes_cur]))
    assert (result.n_reference[0], result.n_current[0]) == ((~holes_ref).sum(), (~holes_cur).sum())


@pytest.mark.parametrize(("name", "column_type"), CASES)
def test_constant_columns(name: str, column_type: str) -> None:
    one, other = (np.float64(3.0), np.float64(4.0)) if column_type == "numeric" else ("a", "b")
    same = get(name).compute(np.full(200, one), np.full(150, one))
    assert not same.drifted[0] and not same.not_enough_data[0]
    assert same.score[0] == (1.0 if same.kind == "p_value" else 0.0)
    moved = get(name).compute(np.full(200, one), np.full(150, other))
    assert moved.drifted[0], moved.score


@pytest.mark.parametrize(("name", "column_type"), CASES)
def test_vectorised_equals_column_by_column(name: str, column_type: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    reference, current = sample(column_type, rng, 700, 5).astype(object), sample(column_type, rng, 650, 5)
    current = current.astype(object)
    current[:, 2:] = sample(column_type, rng, 650, 3, shifted=True)
    for j, share in enumerate([0.0, 0.05, 0.3, 0.6, 0.9]):
        reference[rng.random(700) < share, j] = missing(column_type)
        current[rng.random(650) < share / 2, j] = missing(column_type)
    if column_type == "numeric":
        reference, current = reference.astype(float), current.astype(float)
    together = get(name).compute(reference, current)
    for j in range(5):
        alone = get(name).compute(reference[:, j], current[:, j])
        assert_same(StatResult(**{**together.__dict__, **_column(together, j)}), alone)
    monkeypatch.setattr(columns_module, "BLOCK_VALUES", 1)  # one column per block
    assert_same(get(name).compute(reference, current), together)


def _column(result: StatResult, j: int) -> dict[str, Any]:
    fields = ("statistic", "p_value", "drifted", "n_reference", "n_current", "not_enough_data")
    return {f: None if getattr(result, f) is None else getattr(result, f)[j : j + 1] for f in fields}


@pytest.mark.parametrize(("name", "column_type"), CASES)
def test_bad_input_is_a_clear_error(name: str, column_type: str) -> None:
    rng = np.random.default_rng(4)
    reference, current = sample(column_type, rng, 50, 2), sample(column_type, rng, 50, 3)
    with pytest.raises(ValidationError, match="2 column.*3"):
        get(name).compute(reference, current)
    with pytest.raises(ValidationError, match="1-D .* or 2-D"):
        get(name).compute(np.zeros((2, 2, 2)), np.zeros((2, 2, 2)))
    with pytest.raises(ValidationError, match=r"threshold"):
        get(name).compute(reference, reference, threshold=-1.0)
    numbers = rng.normal(size=(50, 2))
    numbers[7, 1] = -np.inf
    with pytest.raises(ValidationError, match=r"Column 1 of the current data holds an infinite value.*row 7"):
        get(name).compute(rng.normal(size=(50, 2)), numbers, categorical=column_type == "categorical")


@pytest.mark.parametrize(("name", "column_type"), CASES)
def test_threshold_and_column_type_choices(name: str, column_type: str) -> None:
    rng = np.random.default_rng(5)
    reference, current = sample(column_type, rng, 300, 1), sample(column_type, rng, 300, 1, shifted=True)
    test = get(name)
    strict = 1e-300 if test.kind == "p_value" else 1e6
    assert test.compute(reference, current).drifted[0]
    assert not test.compute(reference, current, threshold=strict).drifted[0]
    other = "categorical" if column_type == "numeric" else "numeric"
    if other not in test.column_types:
        with pytest.raises(ValidationError, match=f"applies to {column_type}"):
            test.compute(reference, current, categorical=other == "categorical")
    assert get(name).compute(reference[:0, :0], current[:0, :0]).statistic.shape == (0,)


def test_registry() -> None:
    assert names() == list(dict.fromkeys(names())) and len(names()) == 11
    assert sorted(names()) == sorted(n for n in stattests._TESTS)
    with pytest.raises(ValidationError, match="Unknown statistical test 'nope'; known tests: ks, chi2"):
        get("nope")
    assert get("ks") is not get("ks")
    table = {line.split()[0].strip("`"): line.split()[1:3] for line in (stattests.__doc__ or "").splitlines()
             if line.startswith("``")}  # fmt: skip
    assert table == {n: [get(n).kind.replace("_", "-"), f"{get(n).default_threshold:g}"] for n in names()}


def test_numeric_tests_refuse_text_and_accept_object_numbers() -> None:
    with pytest.raises(ValidationError, match="applies to numeric columns.*chi2"):
        get("ks").compute(np.array(["a", "b", "c"]), np.array(["a", "b", "c"]))
    with pytest.raises(ValidationError, match="non-numeric values"):
        get("ks").compute(np.array([1.0, "b", 2.0], dtype=object), np.array([1.0, 2.0, 3.0]))
    frame = pd.DataFrame({"x": [1.0, None, 3.0, 4.0], "y": pd.array([1, None, 2, 3], dtype="Int64")})
    floats = np.array([[1.0, 1.0], [np.nan, np.nan], [3.0, 2.0], [4.0, 3.0]])
    assert_same(get("ks").compute(frame.astype(object), frame), get("ks").compute(floats, floats))


def test_invalid_parameters_name_themselves() -> None:
    with pytest.raises(ValidationError, match="PSI parameter 'n_bins'"):
        stattests.PSI(n_bins=1)
    with pytest.raises(ValidationError, match="KLDivergence parameter 'epsilon'"):
        stattests.KLDivergence(epsilon=0.0)
    with pytest.raises(ValidationError, match="Chi2Test parameter 'correction'"):
        stattests.Chi2Test(correction="yes")  # type: ignore[arg-type]
    assert repr(stattests.PSI(n_bins=5)) == "PSI(n_bins=5, epsilon=0.0001)"


# --- exactness: KS against scipy ---------------------------------------------------------------

KS_SIZES = [(2, 2), (3, 8), (5, 5), (7, 13), (50, 50), (64, 48), (200, 317), (1000, 999), (10_000, 10_000),
            (10_001, 40), (12_000, 9_000), (30_000, 25_000)]  # fmt: skip


@pytest.mark.filterwarnings("ignore:ks_2samp. Exact calculation unsuccessful")
@pytest.mark.parametrize(("n_ref", "n_cur"), KS_SIZES)
@pytest.mark.parametrize("data", ["continuous", "ties"])
def test_ks_equals_scipy(n_ref: int, n_cur: int, data: str) -> None:
    rng = np.random.default_rng(n_ref * 7 + n_cur)
    for shift in (0.0, 0.05, 0.3, 1.0):
        if data == "ties":
            ref, cur = rng.integers(0, 6, n_ref).astype(float), (rng.integers(0, 6, n_cur) + shift * 2).round()
        else:
            ref, cur = rng.normal(size=n_ref), rng.normal(loc=shift, size=n_cur)
        ours, theirs = get("ks").compute(ref, cur), ss.ks_2samp(ref, cur)
        np.testing.assert_allclose(ours.statistic[0], theirs.statistic, rtol=1e-9, atol=0)
        np.testing.assert_allclose(ours.p_value[0], theirs.pvalue, rtol=1e-9, atol=0)  # type: ignore[index]


def test_ks_columns_of_different_sizes_equal_scipy_column_by_column() -> None:
    rng = np.random.default_rng(11)
    reference, current = rng.normal(size=(12_000, 6)), rng.normal(loc=0.02, size=(11_000, 6))
    for j, keep in enumerate([12_000, 10_000, 9_000, 500, 30, 3]):
        reference[keep:, j] = np.nan
        current[keep // 2 + j :, j] = np.nan
    result = get("ks").compute(reference, current)
    for j in range(6):
        ref, cur = reference[:, j][~np.isnan(reference[:, j])], current[:, j][~np.isnan(current[:, j])]
        theirs = ss.ks_2samp(ref, cur)
        np.testing.assert_allclose(result.statistic[j], theirs.statistic, rtol=1e-9, atol=0)
        np.testing.assert_allclose(result.p_value[j], theirs.pvalue, rtol=1e-9, atol=0)  # type: ignore[index]


samples = st.lists(st.integers(-3, 3) | st.floats(-5, 5, allow_nan=False, width=32), min_size=1, max_size=60)


@pytest.mark.filterwarnings("ignore:ks_2samp. Exact calculation unsuccessful")
@settings(max_examples=300, deadline=None)
@given(samples, samples)
def test_ks_property_equals_scipy_on_small_samples(ref: list[float], cur: list[float]) -> None:
    ref_arr, cur_arr = np.array(ref, dtype=float), np.array(cur, dtype=float)
    theirs = ss.ks_2samp(ref_arr, cur_arr)
    ref_rows, cur_rows = np.sort(ref_arr)[None, :], np.sort(cur_arr)[None, :]
    vectorised = largest_gap(*ecdf_difference(ref_rows, cur_rows, count_valid(ref_rows), count_valid(cur_rows)))
    np.testing.assert_allclose(vectorised[0], theirs.statistic, rtol=1e-12, atol=1e-15)
    if min(len(ref), len(cur)) >= get("ks").min_samples:
        ours = get("ks").compute(ref_arr, cur_arr)
        np.testing.assert_allclose([ours.statistic[0], ours.p_value[0]], [theirs.statistic, theirs.pvalue], rtol=1e-9)  # type: ignore[index]


# --- exactness: the other scipy-backed statistics ------------------------------------------------


def _categorical_table(ref: Array, cur: Array) -> Array:
    labels = list(dict.fromkeys([*ref.tolist(), *cur.tolist()]))
    return np.array([[ref.tolist().count(x) for x in labels], [cur.tolist().count(x) for x in labels]])


CHI2_CASES = [("ab", "ab"), ("ab", "abc"), ("abc", "ab"), ("a", "a"), ("a", "ab"), ("abcdefgh", "abcdefgh"),
              ("abcd", "cdef"), ("abc", "abc")]  # fmt: skip


@pytest.mark.parametrize("correction", [True, False])
@pytest.mark.parametrize(("seen_ref", "seen_cur"), CHI2_CASES)
def test_chi2_equals_scipy_chi2_contingency(seen_ref: str, seen_cur: str, correction: bool) -> None:
    rng = np.random.default_rng(len(seen_ref) * 10 + len(seen_cur))
    for _ in range(5):
        ref = rng.choice(list(seen_ref), size=rng.integers(5, 400)).astype(object)
        cur = rng.choice(list(seen_cur), size=rng.integers(5, 400)).astype(object)
        ours = stattests.Chi2Test(correction=correction).compute(ref, cur)
        table = _categorical_table(ref, cur)
        if table.shape[1] == 1:  # one category: scipy's degenerate case
            assert (ours.statistic[0], ours.p_value[0]) == (0.0, 1.0)  # type: ignore[index]
            continue
        theirs = ss.chi2_contingency(table, correction=correction)
        expected = [theirs.statistic, theirs.pvalue]
        np.testing.assert_allclose([ours.statistic[0], ours.p_value[0]], expected, rtol=1e-9)  # type: ignore[index]


def test_chi2_on_many_columns_equals_scipy_and_keeps_unseen_categories() -> None:
    rng = np.random.default_rng(12)
    reference = rng.integers(0, 4, size=(3000, 4))
    current = np.column_stack([rng.integers(0, 4, 2000), rng.integers(0, 6, 2000), rng.integers(0, 2, 2000),
                               rng.integers(1, 3, 2000)])  # fmt: skip
    result = get("chi2").compute(reference, current)
    for j in range(4):
        theirs = ss.chi2_contingency(_categorical_table(reference[:, j], current[:, j]))
        np.testing.assert_allclose(result.statistic[j], theirs.statistic, rtol=1e-9)
        np.testing.assert_allclose(result.p_value[j], theirs.pvalue, rtol=1e-9)  # type: ignore[index]


def _scipy(name: str, ref: Array, cur: Array) -> list[float]:
    if name == "anderson":
        variant = {"variant": "midrank"} if "variant" in inspect.signature(ss.anderson_ksamp).parameters else {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # p-value capped to [0.001, 0.25]
            result = ss.anderson_ksamp([ref, cur], **variant)
        return [result.statistic, result.pvalue]
    if name == "cramer_von_mises":
        result = ss.cramervonmises_2samp(ref, cur)
        return [result.statistic, result.pvalue]
    if name == "energy":
        return [ss.energy_distance(ref, cur)]
    return [ss.wasserstein_distance(ref, cur) / max(np.std(ref), 0.001)]  # Evidently's normed Wasserstein


SCIPY_SIZES = [(5, 7, False), (30, 20, True), (300, 500, False), (2000, 1500, True)]


@pytest.mark.parametrize(("n_ref", "n_cur", "ties"), SCIPY_SIZES)
@pytest.mark.parametrize("name", ["anderson", "cramer_von_mises", "energy", "wasserstein"])
def test_scipy_backed_statistics_equal_scipy(name: str, n_ref: int, n_cur: int, ties: bool) -> None:
    rng = np.random.default_rng(n_ref)
    for shift in (0.0, 0.2, 1.0):
        ref, cur = rng.normal(size=n_ref), rng.normal(loc=shift, scale=1.5, size=n_cur)
        if ties:
            ref, cur = ref.round(), cur.round()
        ours = get(name).compute(ref, cur)
        got = [ours.statistic[0]] if ours.p_value is None else [ours.statistic[0], ours.p_value[0]]
        np.testing.assert_allclose(got, _scipy(name, ref, cur), rtol=1e-9)


# --- exactness: binned distances and the Z-test against formulas written here ------------------------


def _proportions(ref: Array, cur: Array, n_bins: int) -> tuple[Array, Array]:
    """Reference-decile bins (right-closed, open ends) for numbers; categories in order of appearance otherwise."""
    if ref.dtype.kind == "f":
        edges = np.quantile(ref, np.linspace(0, 1, n_bins + 1)[1:-1])
        p = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=n_bins) / len(ref)
        return p, np.bincount(np.searchsorted(edges, cur, side="left"), minlength=n_bins) / len(cur)
    table = _categorical_table(ref, cur)
    return table[0] / table[0].sum(), table[1] / table[1].sum()


def _formula(name: str, p: Array, q: Array) -> float:
    ps, qs = np.where(p == 0, 1e-4, p), np.where(q == 0, 1e-4, q)
    if name == "psi":
        return float(np.sum((qs - ps) * np.log(qs / ps)))
    if name == "kl":
        ps, qs = ps / ps.sum(), qs / qs.sum()
        value = float(np.sum(ps * np.log(ps / qs)))
        assert value == pytest.approx(ss.entropy(ps, qs), rel=1e-12)
        return value
    if name == "jensen_shannon":
        m = (p + q) / 2
        terms = [np.sum(x[x > 0] * np.log(x[x > 0] / m[x > 0])) for x in (p, q)]
        value = float(np.sqrt((terms[0] + terms[1]) / 2))
        assert value == pytest.approx(jensenshannon(p, q), rel=1e-9, abs=1e-12)
        return value
    return float(np.sqrt(np.sum((np.sqrt(p) - np.sqrt(q)) ** 2)) / np.sqrt(2))  # hellinger


@pytest.mark.parametrize("column_type", ["numeric", "ties", "categorical"])
@pytest.mark.parametrize("name", ["psi", "kl", "jensen_shannon", "hellinger"])
def test_binned_distances_equal_their_formula(name: str, column_type: str) -> None:
    rng = np.random.default_rng(13)
    for n_ref, n_cur, shift, n_bins in [(1000, 800, 0.0, 10), (500, 2000, 0.5, 10), (40, 30, 2, 7), (300, 300, 5, 4)]:
        if column_type == "categorical":
            ref = rng.choice(list("abcd"), p=[0.4, 0.3, 0.2, 0.1], size=n_ref).astype(object)
            cur = rng.choice(list("bcde"), size=n_cur).astype(object)  # 'a' vanished, 'e' is new
        else:
            ref, cur = rng.normal(size=n_ref), rng.normal(loc=shift, size=n_cur)
            if column_type == "ties":
                ref, cur = ref.round(), cur.round()
        ours = type(get(name))(n_bins=n_bins).compute(ref, cur)  # type: ignore[call-arg]
        expected = _formula(name, *_proportions(ref, cur, n_bins))
        np.testing.assert_allclose(ours.statistic[0], expected, rtol=1e-12, atol=1e-15)


def test_reference_quantiles_equal_numpy_bit_for_bit() -> None:
    rng = np.random.default_rng(14)
    for n in (1, 2, 3, 10, 11, 97, 1000):
        for values in (rng.normal(size=n), rng.integers(0, 4, n).astype(float)):
            rows = np.sort(np.concatenate([values, [np.nan] * 3]))[None, :]
            for n_bins in (2, 4, 10, 13):
                expected = np.quantile(values, np.linspace(0, 1, n_bins + 1)[1:-1])
                np.testing.assert_array_equal(reference_quantiles(rows, np.array([n]), n_bins)[0], expected)


def test_ztest_equals_the_two_proportion_formula() -> None:
    rng = np.random.default_rng(15)
    for n_ref, n_cur, p_ref, p_cur in [(100, 80, 0.6, 0.5), (5000, 4000, 0.3, 0.32), (30, 50, 0.9, 0.2)]:
        ref = np.where(rng.random(n_ref) < p_ref, "yes", "no").astype(object)
        cur = np.where(rng.random(n_cur) < p_cur, "yes", "no").astype(object)
        labels, counts = np.unique(ref, return_counts=True)
        top = labels[np.argmax(counts)]
        x1, x2 = float((ref == top).mean()), float((cur == top).mean())
        pooled = (x1 * n_ref + x2 * n_cur) / (n_ref + n_cur)
        z = (x1 - x2) / np.sqrt(pooled * (1 - pooled) * (1 / n_ref + 1 / n_cur))
        result = get("ztest").compute(ref, cur)
        np.testing.assert_allclose([result.statistic[0], result.p_value[0]], [z, 2 * ss.norm.sf(abs(z))], rtol=1e-12)  # type: ignore[index]
