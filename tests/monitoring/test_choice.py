"""The automatic choice of test: one table (``RULES``), its documentation, and the overrides."""

from __future__ import annotations

import math

import pytest

from weir.errors import ValidationError
from weir.monitoring import choice as choice_module
from weir.monitoring import tests as stattests
from weir.monitoring.choice import (
    RULES,
    Rule,
    choose,
    column_overrides,
    column_thresholds,
    rule_table,
)
from weir.monitoring.tests import PSI, get

# Evidently's _get_default_stattest (legacy registry), restated case by case
EVIDENTLY = [
    ("numeric", 1000, 2, "ztest"),
    ("numeric", 1000, 3, "chi2"),
    ("numeric", 1000, 5, "chi2"),
    ("numeric", 1000, 6, "ks"),
    ("numeric", 1001, 5, "jensen_shannon"),
    ("numeric", 1001, 6, "wasserstein"),
    ("categorical", 1000, 2, "ztest"),
    ("categorical", 1000, 3, "chi2"),
    ("categorical", 1001, 2, "jensen_shannon"),
    ("categorical", 1001, 500, "jensen_shannon"),
]


def corners(rule: Rule) -> list[tuple[int, int]]:
    """(reference values, distinct values) at every corner of the rule's ranges (infinity as 10**7)."""
    ends = [(int(low), int(min(high, 10**7))) for low, high in (rule.rows, rule.distinct)]
    return [(rows, distinct) for rows in ends[0] for distinct in ends[1]]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.column_type}-{r.rows[0]}-{r.distinct[0]}-{r.test}")
def test_every_rule_is_chosen_at_every_corner_of_its_ranges(rule: Rule) -> None:
    for n_reference, n_unique in corners(rule):
        chosen = choose(rule.column_type, n_reference, n_unique)
        assert chosen.rule == rule, (n_reference, n_unique)
        assert chosen.test.name == rule.test and chosen.read_as == rule.read_as


@pytest.mark.parametrize(("column_type", "n_reference", "n_unique", "test"), EVIDENTLY)
def test_the_table_is_evidentlys_default(column_type: str, n_reference: int, n_unique: int, test: str) -> None:
    assert choose(column_type, n_reference, n_unique).test.name == test  # type: ignore[arg-type]


def test_exactly_one_rule_matches_every_column() -> None:
    counts = [0, 1, 2, 3, 4, 5, 6, 7, 999, 1000, 1001, 1002, 10**6]
    for column_type in ("numeric", "categorical"):
        for n_reference in counts:
            for n_unique in counts:
                matching = [r for r in RULES if r.matches(column_type, n_reference, n_unique)]
                assert len(matching) == 1, (column_type, n_reference, n_unique, matching)


def test_rules_name_registered_tests_that_fit_how_the_column_is_read() -> None:
    for rule in RULES:
        test = get(rule.test)
        assert rule.read_as in test.column_types
        assert rule.rows[0] <= rule.rows[1] and rule.distinct[0] <= rule.distinct[1]
    assert {r.test for r in RULES} <= set(stattests.names())


def test_the_documented_table_is_the_rule_table() -> None:
    doc = choice_module.__doc__ or ""
    table = rule_table()
    assert table in doc
    assert len(table.splitlines()) == len(RULES) + 4  # three rules of '=' and the header
    for rule in RULES:
        assert f"``{rule.test}``" in table
    assert "docs-old.evidentlyai.com/reference/data-drift-algorithm" in doc and "_get_default_stattest" in doc


def test_override_by_name_or_instance() -> None:
    by_name = choose("categorical", 5000, 40, override="psi", column="plan")
    assert (by_name.test.name, by_name.read_as, by_name.rule) == ("psi", "categorical", None)
    instance = PSI(n_bins=20)
    chosen = choose("numeric", 5000, 4, override=instance)
    assert chosen.test is instance and chosen.read_as == "numeric"  # overrides read the column as its type


def test_override_errors_name_the_column_and_the_way_out() -> None:
    with pytest.raises(ValidationError, match=r"tests\['plan'\] is 'kss', which is not a known test; known tests: ks,"):
        choose("categorical", 100, 3, override="kss", column="plan")
    with pytest.raises(
        ValidationError,
        match=r"Column 'plan' is categorical, and the 'ks' test applies to numeric columns only; "
        r"tests for categorical columns: chi2, ztest, psi, jensen_shannon, hellinger, kl\. Or set its type",
    ):
        choose("categorical", 100, 3, override="ks", column="plan")


def test_column_overrides() -> None:
    types = {"x": "numeric", "plan": "categorical"}
    assert column_overrides(None, types) == {}  # type: ignore[arg-type]
    assert column_overrides({"x": "psi"}, types) == {"x": "psi"}  # type: ignore[arg-type]
    everywhere = column_overrides("psi", types)  # type: ignore[arg-type]
    assert set(everywhere) == {"x", "plan"} and all(t.name == "psi" for t in everywhere.values())  # type: ignore[union-attr]
    numeric_only = column_overrides("ks", types)  # type: ignore[arg-type]
    assert list(numeric_only) == ["x"]  # 'plan' keeps the automatic choice
    with pytest.raises(ValidationError, match=r"tests names column\(s\) \['age'\] that are not tested"):
        column_overrides({"age": "ks"}, types)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="Unknown statistical test 'nope'"):
        column_overrides("nope", types)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="tests must be a test name, a StatTest or a mapping"):
        column_overrides(3, types)  # type: ignore[arg-type]


def test_column_thresholds() -> None:
    chosen = {"x": get("ks"), "d": get("wasserstein"), "plan": get("jensen_shannon")}
    assert column_thresholds(None, chosen, 0.01) == {"x": 0.01, "d": 0.1, "plan": 0.1}
    assert column_thresholds({"d": 0.3, "x": 0.2}, chosen, 0.05) == {"x": 0.2, "d": 0.3, "plan": 0.1}
    for bad, pattern in [
        ({"x": 1.5}, r"thresholds\['x'\] must be a p-value in \(0, 1\) for the 'ks' test; got 1.5"),
        ({"d": -1.0}, r"thresholds\['d'\] must be a positive distance for the 'wasserstein' test"),
        ({"d": math.inf}, r"thresholds\['d'\] must be a positive distance"),
        ({"x": True}, r"thresholds\['x'\] must be a p-value"),
        ({"y": 0.1}, r"thresholds names column\(s\) \['y'\] that are not tested reference columns"),
    ]:
        with pytest.raises(ValidationError, match=pattern):
            column_thresholds(bad, chosen, 0.05)  # type: ignore[arg-type]
