"""Multiple-testing correction: Bonferroni and Benjamini–Hochberg against reference formulas.

Two references for BH, neither using the code under test:

- statsmodels' ``multipletests(method="fdr_bh")``, written out: sort, divide by ``ecdffactor = k/m``,
  running minimum from the largest p-value down, clip at 1, unsort;
- the step-up definition without sorting: ``adj_i = min(1, min over p_j >= p_i of m p_j / #{k: p_k <= p_j})``.

statsmodels itself is not installed; its formula is short enough to write here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from weir.errors import ValidationError
from weir.monitoring import correction
from weir.monitoring.correction import CORRECTIONS, DEFAULT_CORRECTION, adjust

Array = np.ndarray[Any, Any]


def statsmodels_fdr_bh(p: Array) -> Array:
    """statsmodels.stats.multitest.multipletests(p, method="fdr_bh")[1], as statsmodels writes it."""
    order = np.argsort(p)
    p_sorted = p[order]
    nobs = len(p_sorted)
    ecdffactor = np.arange(1, nobs + 1) / float(nobs)
    corrected_raw = p_sorted / ecdffactor
    corrected = np.minimum.accumulate(corrected_raw[::-1])[::-1]
    corrected[corrected > 1] = 1
    out = np.empty_like(corrected)
    out[order] = corrected
    return out


def step_up_definition(p: Array) -> Array:
    m = len(p)
    return np.array([min(1.0, min(m * pj / np.sum(p <= pj) for pj in p if pj >= pi)) for pi in p])


def bonferroni_definition(p: Array) -> Array:
    return np.array([min(1.0, len(p) * pi) for pi in p])


def samples() -> list[Array]:
    rng = np.random.default_rng(11)
    cases = [
        np.array([0.01, 0.04, 0.03, 0.005]),
        np.array([0.5]),
        np.array([0.0, 0.0, 1.0, 1.0]),
        np.array([0.02, 0.02, 0.02, 0.5, 0.01, 0.02]),  # ties, unsorted
        np.array([0.9, 0.8, 0.7, 0.6, 0.05, 0.04, 0.03]),  # descending
    ]
    for size in (2, 5, 25, 200):
        cases.append(rng.random(size))
        cases.append(np.round(rng.random(size) ** 3, 2))  # many ties, many small values
        cases.append(np.concatenate([rng.random(size) * 1e-4, rng.random(size)]))  # a strong signal in half
    return cases


@pytest.mark.parametrize("p", samples(), ids=lambda p: f"m={len(p)}")
def test_benjamini_hochberg_equals_statsmodels_formula_and_the_step_up_definition(p: Array) -> None:
    shuffled = np.random.default_rng(len(p)).permutation(p)
    for values in (p, shuffled):
        adjusted = adjust(values, "bh")
        np.testing.assert_allclose(adjusted, statsmodels_fdr_bh(values), rtol=1e-12, atol=0)
        np.testing.assert_allclose(adjusted, step_up_definition(values), rtol=1e-12, atol=0)
        assert (adjusted >= values - 1e-15).all() and (adjusted <= 1.0).all()


@pytest.mark.parametrize("p", samples(), ids=lambda p: f"m={len(p)}")
def test_bonferroni_equals_its_definition(p: Array) -> None:
    np.testing.assert_allclose(adjust(p, "bonferroni"), bonferroni_definition(p), rtol=1e-15, atol=0)


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.2])
@pytest.mark.parametrize("p", samples()[5:], ids=lambda p: f"m={len(p)}")
def test_bh_rejections_are_the_step_up_procedure(p: Array, alpha: float) -> None:
    """Adjusted p < alpha (or <=) rejects exactly p_i <= p_(k*), k* the largest k with p_(k) <= k alpha / m."""
    ordered = np.sort(p)
    passing = np.flatnonzero(ordered <= np.arange(1, len(p) + 1) * alpha / len(p))
    expected = p <= ordered[passing[-1]] if passing.size else np.zeros(len(p), dtype=bool)
    np.testing.assert_array_equal(adjust(p, "bh") <= alpha, expected)


def test_worked_example() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4p/k = 0.02, 0.02, 0.04, 0.04 -> already non-decreasing
    np.testing.assert_allclose(adjust([0.01, 0.04, 0.03, 0.005]), [0.02, 0.04, 0.04, 0.02], rtol=1e-12)
    np.testing.assert_allclose(adjust([0.01, 0.04, 0.03, 0.005], "bonferroni"), [0.04, 0.16, 0.12, 0.02])
    # a larger p-value can pull smaller ones' adjustment down: 3 * 0.04 / 3 < 3 * 0.03 / 2
    np.testing.assert_allclose(adjust([0.03, 0.04, 0.001]), [0.04, 0.04, 0.003], rtol=1e-12)


def test_missing_p_values_are_not_tests() -> None:
    p = np.array([0.01, np.nan, 0.04, np.nan])
    for method in ("bh", "bonferroni"):
        adjusted = adjust(p, method)
        assert np.isnan(adjusted[[1, 3]]).all()
        np.testing.assert_allclose(adjusted[[0, 2]], adjust([0.01, 0.04], method))  # m = 2, not 4
    assert np.isnan(adjust([np.nan, np.nan])).all()
    assert adjust([], "bh").shape == (0,)


def test_none_returns_the_raw_p_values_and_does_not_touch_the_input() -> None:
    p = np.array([0.3, 0.01, np.nan])
    np.testing.assert_array_equal(adjust(p, "none"), p)
    adjust(p, "bh")
    np.testing.assert_array_equal(p, [0.3, 0.01, np.nan])


def test_default_is_bh_and_the_choices_are_declared() -> None:
    assert DEFAULT_CORRECTION == "bh" and CORRECTIONS == ("bh", "bonferroni", "none")
    np.testing.assert_array_equal(adjust([0.2, 0.01]), adjust([0.2, 0.01], "bh"))
    doc = correction.__doc__ or ""
    assert "Why BH by default" in doc and "Distances" in doc and "not corrected" in doc


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="Unknown correction 'holm'; choose one of: bh, bonferroni, none"):
        adjust([0.1], "holm")
    with pytest.raises(ValidationError, match=r"must lie in \[0, 1\]"):
        adjust([0.1, 1.5])
    with pytest.raises(ValidationError, match=r"must lie in \[0, 1\]"):
        adjust([-0.1])
    with pytest.raises(ValidationError, match="one-dimensional"):
        adjust([[0.1, 0.2]])
