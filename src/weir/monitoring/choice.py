"""Which statistical test compares a column: one table of rules, by type, sample size and cardinality.

The rules are :data:`RULES`, read top to bottom; exactly one matches every (type, reference values,
distinct values). ``reference values`` counts the column's non-missing reference values and
``distinct`` its distinct non-missing reference values. ``read as categorical`` means the values are
compared as category labels (a numeric column with a handful of values is a code, not a quantity).

=========== ================ ======== ================== ======== ========= ===========
column type reference values distinct test               kind     threshold read as
=========== ================ ======== ================== ======== ========= ===========
numeric     <= 1000          <= 2     ``ztest``          p-value  p < 0.05  categorical
numeric     <= 1000          3 to 5   ``chi2``           p-value  p < 0.05  categorical
numeric     <= 1000          >= 6     ``ks``             p-value  p < 0.05  numeric
numeric     >= 1001          <= 5     ``jensen_shannon`` distance >= 0.1    categorical
numeric     >= 1001          >= 6     ``wasserstein``    distance >= 0.1    numeric
categorical <= 1000          <= 2     ``ztest``          p-value  p < 0.05  categorical
categorical <= 1000          >= 3     ``chi2``           p-value  p < 0.05  categorical
categorical >= 1001          any      ``jensen_shannon`` distance >= 0.1    categorical
=========== ================ ======== ================== ======== ========= ===========

The threshold shown is each test's default; the data drift detector compares p-values, after the
multiple-testing correction, with its ``alpha`` (default 0.05) instead (see :mod:`weir.monitoring.data_drift`).
The table above is :func:`rule_table`'s rendering of :data:`RULES`; a test keeps them equal.

**Source.** Evidently's default drift-test selection, documented at
https://docs-old.evidentlyai.com/reference/data-drift-algorithm ("for small data with <= 1000
observations in the reference dataset ...") and implemented in ``_get_default_stattest`` of
``evidently/legacy/calculations/stattests/registry.py`` (Evidently 0.6 and 0.7's legacy engine, which
``DataDriftPreset`` uses): 1000 reference observations separate small from large data, and 5 distinct
values separate numeric columns read as numbers from those read as categories. p-value tests flag drift
at ``p < 0.05``; Jensen–Shannon and normed Wasserstein at a distance ``>= 0.1``.

**One difference.** Evidently counts distinct values over reference and current together, at every
run; weir decides once, at ``fit``, from the reference alone, so a column keeps its test from one
window to the next and results over time stay comparable. A category that first appears in a current
window is still seen: the categorical tests count it (see :mod:`weir.monitoring.tests.binning`).

**Overrides.** :func:`choose` takes the user's test, by name or as a :class:`StatTest`: it must apply to
the column's type (``ks`` to numeric columns, ``chi2`` to categorical ones, ``psi`` to both), and the
column is then read as its type says; pass ``column_types={"col": "categorical"}`` to read numbers as
labels with a categorical test. :func:`column_overrides` turns the detector's ``tests`` into one
override per column: a mapping names columns; a single test applies to every column whose type it
supports, and the others keep the automatic choice. :func:`column_thresholds` does the same for
``thresholds``.

>>> choose("numeric", n_reference=500, n_unique=480).test.name
'ks'
>>> choose("numeric", n_reference=50_000, n_unique=3).test.name, choose("categorical", 5_000, 40).read_as
('jensen_shannon', 'categorical')
>>> choose("categorical", 5_000, 40, override="psi").test.name
'psi'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from weir.errors import ValidationError
from weir.monitoring import tests as stattests
from weir.monitoring.tests import StatTest

TestedType = Literal["numeric", "categorical"]
SMALL_DATA = 1000
"""At most this many reference values is small data: p-value tests. Above it, distances (Evidently)."""
FEW_DISTINCT = 5
"""A numeric column with at most this many distinct reference values is read as categories (Evidently)."""
BINARY = 2
"""At most this many categories: the two-proportion Z-test; more: chi-square (small data, Evidently)."""
INF = math.inf


@dataclass(frozen=True)
class Rule:
    """Use ``test`` for ``column_type`` columns whose counts fall in the inclusive ``rows`` and ``distinct`` ranges."""

    column_type: TestedType
    rows: tuple[int, float]
    distinct: tuple[int, float]
    test: str
    read_as: TestedType

    def matches(self, column_type: str, n_reference: int, n_unique: int) -> bool:
        """Whether this rule applies to such a column."""
        return (
            column_type == self.column_type
            and self.rows[0] <= n_reference <= self.rows[1]
            and self.distinct[0] <= n_unique <= self.distinct[1]
        )


RULES: tuple[Rule, ...] = (
    Rule("numeric", (0, SMALL_DATA), (0, BINARY), "ztest", "categorical"),
    Rule("numeric", (0, SMALL_DATA), (BINARY + 1, FEW_DISTINCT), "chi2", "categorical"),
    Rule("numeric", (0, SMALL_DATA), (FEW_DISTINCT + 1, INF), "ks", "numeric"),
    Rule("numeric", (SMALL_DATA + 1, INF), (0, FEW_DISTINCT), "jensen_shannon", "categorical"),
    Rule("numeric", (SMALL_DATA + 1, INF), (FEW_DISTINCT + 1, INF), "wasserstein", "numeric"),
    Rule("categorical", (0, SMALL_DATA), (0, BINARY), "ztest", "categorical"),
    Rule("categorical", (0, SMALL_DATA), (BINARY + 1, INF), "chi2", "categorical"),
    Rule("categorical", (SMALL_DATA + 1, INF), (0, INF), "jensen_shannon", "categorical"),
)
"""The automatic choice, read top to bottom (the module docstring shows it as a table)."""


@dataclass(frozen=True)
class Choice:
    """The test for one column, how its values are read, and the rule that chose it (``None``: an override)."""

    test: StatTest
    read_as: TestedType
    rule: Rule | None


def _span(bounds: tuple[int, float]) -> str:
    low, high = bounds
    if high == INF:
        return f">= {low}" if low else "any"
    return f"<= {int(high)}" if low == 0 else f"{low} to {int(high)}"


def rule_table() -> str:
    """:data:`RULES` as a reStructuredText table (the one in this module's docstring)."""
    header = ("column type", "reference values", "distinct", "test", "kind", "threshold", "read as")
    rows = [header]
    for rule in RULES:
        test = stattests.get(rule.test)
        kind = "p-value" if test.kind == "p_value" else "distance"
        sign = "p <" if test.kind == "p_value" else ">="
        rows.append(
            (rule.column_type, _span(rule.rows), _span(rule.distinct), f"``{rule.test}``", kind,
             f"{sign} {test.default_threshold:g}", rule.read_as)
        )  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    line = " ".join("=" * width for width in widths)
    body = [" ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join([line, body[0], line, *body[1:], line])


def _override(column: str, column_type: TestedType, override: str | StatTest) -> Choice:
    if isinstance(override, StatTest):
        test = override
    else:
        try:
            test = stattests.get(override)
        except ValidationError:
            raise ValidationError(
                f"tests[{column!r}] is {override!r}, which is not a known test; known tests: "
                f"{', '.join(stattests.names())}.",
                column=column,
            ) from None
    if column_type not in test.column_types:
        fitting = [name for name in stattests.names() if column_type in stattests.get(name).column_types]
        raise ValidationError(
            f"Column {column!r} is {column_type}, and the {test.name!r} test applies to "
            f"{' and '.join(test.column_types)} columns only; tests for {column_type} columns: {', '.join(fitting)}. "
            "Or set its type with column_types.",
            column=column,
            test=test.name,
        )
    return Choice(test, column_type, None)


def choose(
    column_type: TestedType,
    n_reference: int,
    n_unique: int,
    *,
    override: str | StatTest | None = None,
    column: str = "column",
) -> Choice:
    """The test for a column of ``column_type`` with ``n_reference`` values, ``n_unique`` of them distinct.

    ``override`` (a test name or instance) wins over :data:`RULES` and must apply to ``column_type``;
    ``column`` names the column in error messages.
    """
    if override is not None:
        return _override(column, column_type, override)
    for rule in RULES:
        if rule.matches(column_type, n_reference, n_unique):
            return Choice(stattests.get(rule.test), rule.read_as, rule)
    raise ValidationError(
        f"Column {column!r}: no rule for a {column_type} column with {n_reference} values, {n_unique} distinct; "
        f"tested column types are numeric and categorical.",
        column=column,
    )


def column_overrides(
    tests: str | StatTest | Mapping[str, str | StatTest] | None, column_types: Mapping[str, TestedType]
) -> dict[str, str | StatTest]:
    """The user's test per tested column (``column_types``: name -> type), from the detector's ``tests``.

    A mapping names columns, each of which must be tested. A single name or :class:`StatTest` applies to
    every column whose type the test supports; the others keep the automatic choice.
    """
    if tests is None:
        return {}
    if isinstance(tests, Mapping):
        unknown = [name for name in tests if name not in column_types]
        if unknown:
            raise ValidationError(
                f"tests names column(s) {unknown} that are not tested reference columns; "
                f"tested: {', '.join(column_types)}.",
                columns=unknown,
            )
        return dict(tests)
    if not isinstance(tests, str | StatTest):
        raise ValidationError(f"tests must be a test name, a StatTest or a mapping of columns; got {tests!r}.")
    test = tests if isinstance(tests, StatTest) else stattests.get(tests)
    return {name: test for name, kind in column_types.items() if kind in test.column_types}


def column_thresholds(
    thresholds: Mapping[str, float] | None, chosen: Mapping[str, StatTest], alpha: float
) -> dict[str, float]:
    """The threshold per tested column: the user's, else ``alpha`` for p-value tests and the test's default."""
    given = dict(thresholds or {})
    unknown = [name for name in given if name not in chosen]
    if unknown:
        raise ValidationError(
            f"thresholds names column(s) {unknown} that are not tested reference columns; tested: {', '.join(chosen)}.",
            columns=unknown,
        )
    resolved: dict[str, float] = {}
    for name, test in chosen.items():
        value = given.get(name, alpha if test.kind == "p_value" else test.default_threshold)
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if not (ok and (0.0 < value < 1.0 if test.kind == "p_value" else value > 0.0)):
            what = "a p-value in (0, 1)" if test.kind == "p_value" else "a positive distance"
            raise ValidationError(
                f"thresholds[{name!r}] must be {what} for the {test.name!r} test; got {value!r}.", column=name
            )
        resolved[name] = float(value)
    return resolved


__all__ = [
    "BINARY",
    "FEW_DISTINCT",
    "RULES",
    "SMALL_DATA",
    "Choice",
    "Rule",
    "TestedType",
    "choose",
    "column_overrides",
    "column_thresholds",
    "rule_table",
]
