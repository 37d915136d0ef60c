"""Dataset-level data drift: every column of a current frame tested against a reference frame.

:class:`DataDriftDetector` does what Evidently's ``DataDriftPreset`` does. ``fit(reference)`` infers
each column's type (:mod:`weir.monitoring.columns`), chooses its test (:mod:`weir.monitoring.choice`)
and keeps the reference as numpy blocks, one per test: numeric columns as float64 (unsorted: the tests
sort what they get, so a sort at fit costs more than it saves on a window), categorical ones as codes
of the reference's categories. ``test(current)`` runs each chosen test once over all of its columns,
corrects the p-values across columns (:mod:`weir.monitoring.correction`; distances are not corrected)
and reports, per column, the statistic, p-value, adjusted p-value, threshold and a verdict ("drift",
"no drift", "not enough data" or "excluded: <reason>"), and for the dataset the share of drifted columns.

**Decisions.** A p-value test flags drift when its *adjusted* p-value is below ``alpha`` (or the
column's entry in ``thresholds``); a distance when it is at least the test's default threshold (or the
column's entry). A column with fewer than ``min_samples`` non-missing values on either side is "not
enough data" (default 30: fewer values make any verdict, drift or not, mostly noise). The dataset
drifts when ``share_drifted = n_drifted / n_columns_tested >= drift_share`` (0.5, as Evidently),
counting only columns that were tested; with none tested it does not drift, and ``reason`` says why.

**Columns.** The current frame must hold every tested reference column (a ``ValidationError`` names
those missing); excluded ones may be absent. Columns the reference lacks are ignored and listed in
``ignored_columns`` (production frames carry extra keys). Infinities raise; missing values are dropped.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from weir.errors import NotFittedError, ValidationError
from weir.monitoring import columns as cols
from weir.monitoring.choice import FEW_DISTINCT, Choice, TestedType, choose, column_overrides, column_thresholds
from weir.monitoring.columns import ColumnType
from weir.monitoring.correction import adjust, check_correction
from weir.monitoring.tests import StatTest

logger = logging.getLogger(__name__)

DEFAULT_MIN_SAMPLES = 30


@dataclass(frozen=True)
class ColumnDrift:
    """One column's outcome; ``statistic`` is NaN and ``test`` ``None`` for untested columns."""

    column: str
    type: ColumnType
    test: str | None
    kind: str | None
    statistic: float
    p_value: float | None
    adjusted_p_value: float | None
    threshold: float | None
    drifted: bool
    n_reference: int
    n_current: int
    verdict: str
    note: str | None = None


@dataclass(frozen=True)
class DataDriftResult:
    """Per-column outcomes (reference order) and the dataset verdict."""

    columns: tuple[ColumnDrift, ...]
    n_columns_tested: int
    n_drifted: int
    share_drifted: float
    dataset_drift: bool
    drift_share: float
    alpha: float
    correction: str
    reason: str | None = None
    ignored_columns: tuple[str, ...] = field(default=())

    def __getitem__(self, column: str) -> ColumnDrift:
        for outcome in self.columns:
            if outcome.column == column:
                return outcome
        raise KeyError(column)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: NaN becomes ``None``."""
        body = asdict(self)
        body["columns"] = [{k: _json(v) for k, v in asdict(c).items()} for c in self.columns]
        body["ignored_columns"] = list(self.ignored_columns)
        return body

    def to_frame(self) -> pd.DataFrame:
        """One row per column, the fields of :class:`ColumnDrift` as columns."""
        return pd.DataFrame([asdict(c) for c in self.columns], columns=list(ColumnDrift.__dataclass_fields__))


def _json(value: object) -> object:
    return None if isinstance(value, float) and math.isnan(value) else value


@dataclass
class _Group:
    """Columns sharing one test and one reading; ``reference`` is (columns, rows)."""

    choice: Choice
    columns: list[str]
    reference: cols.FloatRows
    categories: list[pd.Index] = field(default_factory=list)


@dataclass
class _Measured:
    """What a test measured on one column, before the correction and the verdict."""

    statistic: float
    p_value: float | None
    n_reference: int
    n_current: int
    new_categories: int = 0


class DataDriftDetector:
    """Test every column of a frame for drift against a reference frame; see the module docstring.

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> reference = pd.DataFrame({"x": rng.normal(size=800), "plan": rng.choice(["a", "b", "c"], 800)})
    >>> current = pd.DataFrame({"x": rng.normal(loc=0.5, size=600), "plan": rng.choice(["a", "b", "c"], 600)})
    >>> result = DataDriftDetector().fit(reference).test(current)
    >>> [(c.column, c.test, c.verdict) for c in result.columns]
    [('x', 'ks', 'drift'), ('plan', 'chi2', 'no drift')]
    >>> result.share_drifted, result.dataset_drift
    (0.5, True)
    """

    def __init__(
        self,
        *,
        column_types: Mapping[str, str] | None = None,
        tests: str | StatTest | Mapping[str, str | StatTest] | None = None,
        thresholds: Mapping[str, float] | None = None,
        correction: str = "bh",
        alpha: float = 0.05,
        drift_share: float = 0.5,
        min_samples: int = DEFAULT_MIN_SAMPLES,
    ) -> None:
        self.column_types = column_types
        self.tests = tests
        self.thresholds = thresholds
        self.correction = correction
        self.alpha = alpha
        self.drift_share = drift_share
        self.min_samples = min_samples

    def fit(self, reference: pd.DataFrame) -> DataDriftDetector:
        """Learn column types, tests and the reference arrays from ``reference``; returns ``self``."""
        self._check_parameters()
        frame = cols.check_frame(reference, "reference")
        if len(frame) == 0:
            raise ValidationError("The reference data has no rows; fit on the frame the model was trained on.")
        memo: dict[str, cols.Factorized] = {}
        info = cols.infer_column_types(frame, self.column_types, memo=memo)
        kinds: dict[str, TestedType] = {
            n: "numeric" if c.type == "numeric" else "categorical" for n, c in info.items() if c.tested
        }
        overrides = column_overrides(self.tests, kinds)
        numeric = [name for name, kind in kinds.items() if kind == "numeric"]
        block = cols.float_block(frame, numeric, "reference")
        n_valid, n_unique = cols.count_valid_distinct(block, cap=FEW_DISTINCT)  # exact up to the cap, then "more"
        counts = {name: (int(n_valid[j]), int(n_unique[j])) for j, name in enumerate(numeric)}
        encoded: dict[str, tuple[cols.FloatRows, pd.Index]] = {}
        groups: dict[tuple[str, str, str], _Group] = {}
        choices: dict[str, Choice] = {}
        for name, kind in kinds.items():
            if kind == "categorical":
                encoded[name] = cols.encode_reference(frame[name], memo.get(name))
                counts[name] = (int(np.count_nonzero(~np.isnan(encoded[name][0]))), len(encoded[name][1]))
            choices[name] = choice = choose(kind, *counts[name], override=overrides.get(name), column=name)
            if choice.read_as == "categorical" and name not in encoded:
                encoded[name] = cols.encode_reference(frame[name])
            key = (choice.test.name, repr(choice.test), choice.read_as)
            groups.setdefault(key, _Group(choice, [], block[:0].T)).columns.append(name)
        thresholds = column_thresholds(self.thresholds, {n: c.test for n, c in choices.items()}, float(self.alpha))
        for group in groups.values():
            if group.choice.read_as == "numeric":
                group.reference = np.ascontiguousarray(block[:, [numeric.index(name) for name in group.columns]].T)
            else:
                group.reference = np.stack([encoded[name][0] for name in group.columns])
                group.categories = [encoded[name][1] for name in group.columns]
        self.reference_, self.column_info_, self.choices_, self.thresholds_ = frame, info, choices, thresholds
        self.column_types_: dict[str, ColumnType] = {name: column.type for name, column in info.items()}
        self.tests_: dict[str, str] = {name: choice.test.name for name, choice in choices.items()}
        self.n_unique_: dict[str, int] = {name: counts[name][1] for name in kinds}
        self._groups = list(groups.values())
        self.reference_values_: dict[str, cols.FloatRows] = {
            name: group.reference[j] for group in self._groups for j, name in enumerate(group.columns)
        }
        return self

    def test(self, current: pd.DataFrame) -> DataDriftResult:
        """Test every column of ``current`` against the reference; see the module docstring."""
        if not hasattr(self, "tests_"):
            raise NotFittedError("This DataDriftDetector is not fitted yet; call fit(reference) before test(current).")
        frame = cols.check_frame(current, "current")
        missing = [name for name in self.tests_ if name not in frame.columns]
        if missing:
            raise ValidationError(
                f"The current data lacks column(s) {missing} that the reference has and the detector tests; "
                "pass the same columns (extra ones are ignored).",
                columns=missing,
            )
        ignored = tuple(name for name in frame.columns if name not in self.column_types_)
        if ignored:
            logger.debug("ignoring current column(s) not in the reference: %s", ignored)
        measured: dict[str, _Measured] = {}
        for group in self._groups:
            measured.update(self._measure(group, frame))
        return self._conclude(measured, ignored, empty=len(frame) == 0)

    def _measure(self, group: _Group, frame: pd.DataFrame) -> dict[str, _Measured]:
        names, new = group.columns, [0] * len(group.columns)
        if len(frame) == 0:
            n_ref = np.count_nonzero(~np.isnan(group.reference), axis=1)
            return {name: _Measured(math.nan, None, int(n_ref[j]), 0) for j, name in enumerate(names)}
        if group.choice.read_as == "numeric":
            block = cols.float_block(frame, names, "current")
        else:
            coded = [cols.encode_current(frame[name], cats) for name, cats in zip(names, group.categories, strict=True)]
            block, new = np.column_stack([codes for codes, _ in coded]), [count for _, count in coded]
        result = group.choice.test.compute(group.reference.T, block, categorical=group.choice.read_as != "numeric")
        p_values: list[float | None] = [None] * len(names) if result.p_value is None else result.p_value.tolist()
        stats, n_ref, n_cur = result.statistic.tolist(), result.n_reference.tolist(), result.n_current.tolist()
        return {name: _Measured(stats[j], p_values[j], n_ref[j], n_cur[j], new[j]) for j, name in enumerate(names)}

    def _conclude(self, measured: dict[str, _Measured], ignored: tuple[str, ...], empty: bool) -> DataDriftResult:
        enough = {n: min(m.n_reference, m.n_current) >= self.min_samples for n, m in measured.items()}
        pvalued = [n for n, m in measured.items() if m.p_value is not None and enough[n]]
        raw = np.array([measured[n].p_value for n in pvalued], dtype=np.float64)
        adjusted = dict(zip(pvalued, adjust(raw, self.correction).tolist(), strict=True))
        columns: list[ColumnDrift] = []
        for name, info in self.column_info_.items():
            if name not in measured:
                nothing = (None, None, math.nan, None, None, None, False, 0, 0, f"excluded: {info.reason}")
                columns.append(ColumnDrift(name, info.type, *nothing))
                continue
            m, test, threshold, ok = measured[name], self.choices_[name].test, self.thresholds_[name], enough[name]
            statistic = m.statistic if ok else math.nan
            if test.kind == "p_value":
                p_value, adj = (m.p_value, adjusted[name]) if ok else (math.nan, math.nan)
                drifted = ok and adj < threshold
            else:
                p_value = adj = None
                drifted = ok and statistic >= threshold
            verdict = ("drift" if drifted else "no drift") if ok else "not enough data"
            columns.append(ColumnDrift(name, info.type, test.name, test.kind, statistic, p_value, adj, threshold,
                                       drifted, m.n_reference, m.n_current, verdict,
                                       self._note(name, m, ok, empty)))  # fmt: skip
        tested = [c for c in columns if c.verdict in ("drift", "no drift")]
        n_drifted = sum(c.drifted for c in tested)
        share = n_drifted / len(tested) if tested else 0.0
        nowhere = f"No column has at least {self.min_samples} non-missing values on both sides."
        nowhere = nowhere if self.tests_ else "The reference has no numeric or categorical column to test."
        reason = "The current data has no rows." if empty else (None if tested else nowhere)
        dataset_drift = bool(tested) and share >= self.drift_share
        if dataset_drift:
            logger.info("dataset drift: %d of %d tested columns drifted", n_drifted, len(tested))
        return DataDriftResult(tuple(columns), len(tested), n_drifted, share, dataset_drift, float(self.drift_share),
                               float(self.alpha), str(self.correction), reason, ignored)  # fmt: skip

    def _note(self, name: str, m: _Measured, enough: bool, empty: bool) -> str | None:
        notes = []
        if m.n_reference == 0:
            notes.append("every reference value is missing")
        elif m.n_current == 0 and not empty:
            notes.append("every current value is missing")
        elif not enough and not empty:
            notes.append(f"{m.n_reference} reference and {m.n_current} current values; {self.min_samples} needed")
        if self.n_unique_[name] == 1:
            notes.append("constant in the reference")
        if self.choices_[name].read_as == "categorical" and self.column_types_[name] == "numeric" and m.n_reference:
            notes.append(f"read as categories: {self.n_unique_[name]} distinct reference values")
        if m.new_categories:
            notes.append(f"{m.new_categories} categor{'y' if m.new_categories == 1 else 'ies'} unseen in the reference")
        return "; ".join(notes) or None

    def _check_parameters(self) -> None:
        check_correction(self.correction)
        alpha, share, least, name = self.alpha, self.drift_share, self.min_samples, "DataDriftDetector parameter"
        if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0.0 < alpha < 1.0:
            raise ValidationError(f"{name} 'alpha' must be a number in (0, 1); got {alpha!r}.")
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0.0 < share <= 1.0:
            raise ValidationError(f"{name} 'drift_share' must be a number in (0, 1]; got {share!r}.")
        if isinstance(least, bool) or not isinstance(least, int | np.integer) or least < 2:
            raise ValidationError(f"{name} 'min_samples' must be an integer >= 2; got {least!r}.")


__all__ = ["DEFAULT_MIN_SAMPLES", "ColumnDrift", "DataDriftDetector", "DataDriftResult"]
