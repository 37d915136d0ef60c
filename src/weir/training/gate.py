"""The validation gate: may a challenger replace the champion? Decided on paired statistics, not on
point estimates, with every corner case an explicit policy visible in the result.

Rules:

- ``Rule.minimum(metric, value)``: the challenger's metric reaches ``value`` (at most ``value`` for
  metrics where lower is better: ``log_loss``, ``mae``, ``rmse``);
- ``Rule.better(metric, margin, relative=False)``: the challenger beats the champion by more than
  ``margin`` (or ``margin`` x the champion's value): the one-sided lower bound (at ``confidence``) of the
  paired bootstrap of the improvement is above it; for ``accuracy`` McNemar's exact one-sided test must also reject at
  ``1 - confidence``;
- ``Rule.non_inferior(metric, margin, relative=False)``: the challenger is not worse by ``margin`` or
  more: that lower bound is above ``-margin``.

Each rule is checked on the whole holdout and on every slice (a value of a ``slices`` column) with at
least ``min_slice_support`` rows; the confidence of slice checks is Bonferroni-corrected over them.
Budgets (latency per row, artifact size) and signature compatibility are checks too.

Policies: a gate without rules is refused (nothing would be proven); without a champion (the first
model) the comparative rules are skipped and only absolute ones decide (``first_model="refuse"`` fails
instead); a metric that cannot be computed, or a missing slice column, fails its check; a relative
margin against a champion whose metric is 0 fails (the relative change is undefined).

>>> import numpy as np
>>> y = np.tile([0, 1], 200)
>>> old = Scores(np.where(np.arange(400) % 5 == 0, 1 - y, y))   # 80 % right
>>> new = Scores(np.where(np.arange(400) % 20 == 0, 1 - y, y))  # 95 % right
>>> gate = Gate([Rule.minimum("accuracy", 0.9), Rule.better("accuracy", 0.05)], resamples=300)
>>> result = gate.evaluate(y, new, champion=old)
>>> result.passed, [c.passed for c in result.checks]
(True, [True, True])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from weir.errors import ValidationError
from weir.training.paired import (
    HIGHER_IS_BETTER,
    Scores,
    mcnemar_p,
    metric_value,
    paired_bootstrap,
    subset,
    with_classes,
)
from weir.types import JSONDict, json_ready

Kind = Literal["minimum", "better", "non_inferior"]


@dataclass(frozen=True)
class Rule:
    kind: Kind
    metric: str
    value: float  # the threshold (minimum) or the margin (better, non_inferior)
    relative: bool = False

    def __post_init__(self) -> None:
        if self.metric not in HIGHER_IS_BETTER:
            raise ValidationError(f"Rule metric {self.metric!r} is not one of {', '.join(HIGHER_IS_BETTER)}.")
        if not math.isfinite(self.value) or (self.kind != "minimum" and self.value < 0):
            raise ValidationError(
                f"Rule {self.kind} {self.metric}: value {self.value!r} must be finite (a margin >= 0)."
            )
        if self.relative and self.kind == "minimum":
            raise ValidationError("An absolute threshold (minimum) cannot be relative.")

    @classmethod
    def minimum(cls, metric: str, value: float) -> Rule:
        return cls("minimum", metric, float(value))

    @classmethod
    def better(cls, metric: str, margin: float = 0.0, *, relative: bool = False) -> Rule:
        return cls("better", metric, float(margin), relative)

    @classmethod
    def non_inferior(cls, metric: str, margin: float, *, relative: bool = False) -> Rule:
        return cls("non_inferior", metric, float(margin), relative)

    def describe(self) -> str:
        unit = " (relative)" if self.relative else ""
        return f"{self.kind} {self.metric} {self.value:g}{unit}"


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    reason: str
    slice: str | None = None
    evidence: JSONDict = field(default_factory=dict)


@dataclass(frozen=True)
class GateResult:
    passed: bool
    checks: tuple[Check, ...]
    policy: JSONDict

    def to_dict(self) -> JSONDict:
        return {"passed": self.passed, "checks": [json_ready(asdict(c)) for c in self.checks], "policy": self.policy}

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]


class Gate:
    def __init__(
        self,
        rules: Sequence[Rule],
        *,
        slices: Sequence[str] = (),
        min_slice_support: int = 30,
        confidence: float = 0.95,
        resamples: int = 1000,
        seed: int = 0,
        latency_budget_ms: float | None = None,
        size_budget_bytes: int | None = None,
        first_model: Literal["absolute_only", "refuse"] = "absolute_only",
    ) -> None:
        if not rules:
            raise ValidationError("A gate needs at least one rule: with none, nothing would be proven (refused).")
        if not 0.5 < confidence < 1:
            raise ValidationError(f"confidence must be in (0.5, 1), got {confidence!r}.")
        if resamples < 100:
            raise ValidationError(f"resamples must be at least 100 for a stable interval, got {resamples}.")
        if first_model not in ("absolute_only", "refuse"):
            raise ValidationError(f"first_model {first_model!r} is not 'absolute_only' or 'refuse'.")
        self.rules = tuple(rules)
        self.slices = tuple(slices)
        self.min_slice_support = min_slice_support
        self.confidence = confidence
        self.resamples = resamples
        self.seed = seed
        self.latency_budget_ms = latency_budget_ms
        self.size_budget_bytes = size_budget_bytes
        self.first_model = first_model

    def evaluate(
        self,
        y_true: Any,
        challenger: Scores,
        *,
        champion: Scores | None = None,
        slice_data: pd.DataFrame | None = None,
        challenger_latency_ms: float | None = None,
        challenger_size_bytes: int | None = None,
        signature_compatible: bool | None = None,
    ) -> GateResult:
        """Check every rule on the holdout ``y_true`` (both models scored on the same rows)."""
        y = np.asarray(y_true)
        if len(y) == 0:
            raise ValidationError("The holdout has no labelled rows; the gate cannot decide on nothing.")
        for name, s in (("challenger", challenger), ("champion", champion)):
            if s is not None and len(s.predictions) != len(y):
                raise ValidationError(f"The {name} has {len(s.predictions)} predictions for {len(y)} labelled rows.")
        # The classes, once, from the whole holdout: a slice with one class still knows which is positive.
        seen = [y, challenger.predictions] + ([] if champion is None else [champion.predictions])
        classes = tuple(np.unique(np.concatenate([np.asarray(v) for v in seen])).tolist())
        challenger = with_classes(challenger, classes)
        champion = None if champion is None else with_classes(champion, classes)
        groups = self._groups(y, slice_data)
        checks: list[Check] = []
        for label, _ in groups["missing"]:
            checks.append(Check(f"slice {label}", False, "the slice column is missing from the holdout"))
        tested = groups["tested"]
        slice_count = max(len(tested) - 1, 1)
        for label, index in tested:
            confidence = self.confidence if label is None else 1 - (1 - self.confidence) / slice_count
            old = None if champion is None else subset(champion, index)
            for rule in self.rules:
                checks.append(self._check(rule, label, y[index], subset(challenger, index), old, confidence))
        for label, support in groups["small"]:
            checks.append(Check(f"slice {label}", True, f"skipped: {support} rows < min_slice_support", label))
        checks += self._budgets(challenger_latency_ms, challenger_size_bytes, signature_compatible)
        policy = {
            "confidence": self.confidence,
            "resamples": self.resamples,
            "seed": self.seed,
            "first_model": self.first_model,
            "champion": champion is not None,
            "slices": list(self.slices),
            "min_slice_support": self.min_slice_support,
            "slice_correction": "bonferroni",
            "rules": [r.describe() for r in self.rules],
        }
        return GateResult(all(c.passed for c in checks), tuple(checks), policy)

    def _groups(self, y: np.ndarray[Any, Any], data: pd.DataFrame | None) -> dict[str, list[Any]]:
        everything = np.arange(len(y))
        out: dict[str, list[Any]] = {"tested": [(None, everything)], "small": [], "missing": []}
        for column in self.slices:
            if data is None or column not in data:
                out["missing"].append((column, everything))
                continue
            values = data[column].to_numpy()
            if len(values) != len(y):
                raise ValidationError(f"Slice column {column!r} has {len(values)} rows for {len(y)} labelled rows.")
            for value in pd.unique(values):
                index = np.flatnonzero(values == value)
                label = f"{column}={value}"
                if len(index) < self.min_slice_support:
                    out["small"].append((label, len(index)))
                else:
                    out["tested"].append((label, index))
        return out

    def _check(
        self, rule: Rule, label: str | None, y: Any, challenger: Scores, champion: Scores | None, confidence: float
    ) -> Check:
        name = rule.describe() + ("" if label is None else f" [{label}]")
        higher = HIGHER_IS_BETTER[rule.metric]
        try:
            value = metric_value(rule.metric, y, challenger)
        except ValidationError as exc:
            return Check(name, False, f"metric unavailable: {exc.message}", label)
        if math.isnan(value):
            return Check(name, False, f"{rule.metric} is undefined on these rows (one class only?)", label)
        if rule.kind == "minimum":
            ok = value >= rule.value if higher else value <= rule.value
            sign = ">=" if higher else "<="
            return Check(name, ok, f"challenger {value:.4g} {sign} {rule.value:g}: {'yes' if ok else 'no'}", label,
                         {"challenger": value})  # fmt: skip
        if champion is None:
            if self.first_model == "refuse":
                return Check(name, False, "no champion to compare with (first_model='refuse')", label)
            return Check(name, True, "skipped: no champion (the first model); absolute rules decide", label)
        diff = paired_bootstrap(
            rule.metric, y, champion, challenger, resamples=self.resamples, confidence=confidence, seed=self.seed
        )
        evidence: JSONDict = {
            "champion": diff.champion,
            "challenger": diff.challenger,
            "improvement": diff.improvement,
            "ci_low": diff.low,
            "ci_high": diff.high,
            "confidence": confidence,
            "resamples": diff.resamples,
        }
        margin = rule.value
        if rule.relative:
            if diff.champion == 0:
                return Check(name, False, "the champion's value is 0: a relative change is undefined; use an "
                             "absolute margin", label, evidence)  # fmt: skip
            margin = rule.value * abs(diff.champion)
        if math.isnan(diff.low):
            return Check(name, False, "the bootstrap interval is undefined on these rows", label, evidence)
        if rule.kind == "non_inferior":
            ok = diff.low > -margin
            reason = f"improvement CI [{diff.low:.4g}, {diff.high:.4g}] {'>' if ok else 'not >'} -{margin:.4g}"
            return Check(name, ok, reason, label, evidence)
        ok = diff.low > margin
        reason = f"improvement CI [{diff.low:.4g}, {diff.high:.4g}] {'>' if ok else 'not >'} {margin:.4g}"
        if rule.metric == "accuracy":
            p = mcnemar_p(y, champion, challenger)
            evidence["mcnemar_p"] = p
            significant = p < 1 - confidence
            reason += f"; McNemar p = {p:.3g} ({'<' if significant else 'not <'} {1 - confidence:.3g})"
            ok = ok and significant
        return Check(name, ok, reason, label, evidence)

    def _budgets(self, latency_ms: float | None, size: int | None, signature: bool | None) -> list[Check]:
        checks = []
        if self.latency_budget_ms is not None:
            if latency_ms is None:
                checks.append(Check("latency budget", False, "no latency measured for the challenger"))
            else:
                ok = latency_ms <= self.latency_budget_ms
                checks.append(Check("latency budget", ok, f"{latency_ms:.3g} ms per row vs {self.latency_budget_ms:g}",
                                    evidence={"latency_ms": latency_ms}))  # fmt: skip
        if self.size_budget_bytes is not None:
            if size is None:
                checks.append(Check("size budget", False, "no artifact size given for the challenger"))
            else:
                ok = size <= self.size_budget_bytes
                checks.append(
                    Check("size budget", ok, f"{size} bytes vs {self.size_budget_bytes}", evidence={"bytes": size})
                )
        if signature is not None:
            checks.append(Check("signature", signature, "inputs match the champion's" if signature else
                                "the inputs differ from the champion's: callers would break"))  # fmt: skip
        return checks


def signatures_compatible(champion: Mapping[str, Any] | None, challenger: Mapping[str, Any] | None) -> bool:
    """Whether the challenger takes the same inputs as the champion (names and types), so that callers
    of the endpoint keep working. Without a champion signature anything is compatible."""
    if champion is None:
        return True
    if challenger is None:
        return False
    return champion.get("inputs") == challenger.get("inputs")
