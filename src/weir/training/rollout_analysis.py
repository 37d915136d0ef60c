"""The analysis of one rollout phase: the candidate against the primary over the same window of the log.

Each measurement is ``Successful``, ``Failed`` or ``Inconclusive`` (not enough evidence yet: hold, do not
promote). A candidate fails only on evidence:

- **error rate** significantly above the primary's plus ``max_error_increase`` (one-sided binomial test);
- **p99 latency** above the primary's p99 × ``max_latency_ratio`` + ``latency_slack_ms``: significantly
  more than 1 % of its answers slower than that (the same test, so one cold first request cannot fail it);
- **divergence** (canary): PSI of its scores against the primary's above ``max_divergence``, and the two
  samples significantly different (two-sample KS test; chi-squared for labels): PSI alone is noisy on
  small samples, where a bin left empty by chance weighs as much as a real shift;
- **agreement** (shadow): the share of the same requests on which both predict the same label (regression:
  within 10 %) below ``min_agreement``;
- **live accuracy**, once ``min_labels`` labels arrived on both sides: significantly more than
  ``max_accuracy_drop`` below the primary's (one-sided two-proportion z-test). Without enough labels it
  holds a rollout only when the policy requires labels.

Failed predictions are in the log as rows with an ``output.error`` value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats import ks_2samp

from weir.monitoring.tests.psi import PSI
from weir.store.prediction_log import ERROR
from weir.training.rollout_policy import RolloutPolicy
from weir.types import JSONDict

SUCCESSFUL, FAILED, INCONCLUSIVE = "Successful", "Failed", "Inconclusive"
PREDICTION = "output.prediction"


@dataclass(frozen=True)
class Measurement:
    metric: str
    status: str
    value: float | None
    baseline: float | None
    threshold: float | None
    n: int
    detail: str
    required: bool = True

    def to_dict(self) -> JSONDict:
        return {k: _finite(v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Analysis:
    status: str
    measurements: tuple[Measurement, ...] = field(default_factory=tuple)
    candidate_requests: int = 0

    def to_dict(self) -> JSONDict:
        return {
            "status": self.status,
            "candidate_requests": self.candidate_requests,
            "measurements": [m.to_dict() for m in self.measurements],
        }


def analyse(
    rows: pd.DataFrame,
    *,
    candidate: tuple[str, int],
    primary: tuple[str, int],
    phase: str,
    policy: RolloutPolicy,
) -> Analysis:
    """Judge ``phase`` (``shadow`` or ``canary``) from the log rows of its window."""
    cand = _rows(rows, candidate, "shadow" if phase == "shadow" else "canary")
    base = _rows(rows, primary, "primary")
    minimum = policy.shadow_min_requests if phase == "shadow" else policy.min_requests
    found = [
        _error_rate(cand, base, policy, minimum),
        _latency(cand, base, policy, minimum),
        _agreement(cand, base, policy, minimum) if phase == "shadow" else _divergence(cand, base, policy, minimum),
        _accuracy(cand, base, policy),
    ]
    if any(m.status == FAILED for m in found):
        status = FAILED
    elif len(cand) >= minimum and all(m.status == SUCCESSFUL for m in found if m.required):
        status = SUCCESSFUL
    else:
        status = INCONCLUSIVE
    return Analysis(status, tuple(found), len(cand))


def _rows(rows: pd.DataFrame, who: tuple[str, int], route: str) -> pd.DataFrame:
    if rows.empty:
        return rows
    chosen = rows[(rows["model"] == who[0]) & (rows["version"] == who[1]) & (rows["route"] == route)]
    return chosen.reset_index(drop=True)


def _errors(frame: pd.DataFrame) -> pd.Series:
    return frame[ERROR].notna() if ERROR in frame else pd.Series(False, index=frame.index)


def _error_rate(cand: pd.DataFrame, base: pd.DataFrame, policy: RolloutPolicy, minimum: int) -> Measurement:
    n, errors = len(cand), int(_errors(cand).sum())
    base_rate = float(_errors(base).mean()) if len(base) else 0.0
    limit = min(1.0, base_rate + policy.max_error_increase)
    rate = errors / n if n else None
    # P(at least this many errors | the true rate is at the limit): small means the candidate is worse
    p = float(stats.binom.sf(errors - 1, n, limit)) if n and errors and limit < 1 else 1.0
    if n and p < policy.alpha:
        status, why = FAILED, f"{errors} errors in {n} requests; p = {p:.2g} that the rate is ≤ {limit:.2%}"
    elif n >= minimum and rate is not None and rate <= limit:
        status, why = SUCCESSFUL, f"{errors} errors in {n} requests (primary {base_rate:.2%})"
    else:
        status, why = INCONCLUSIVE, f"{errors} errors in {n} requests; {minimum} needed for a verdict"
    return Measurement("error_rate", status, rate, base_rate, limit, n, why)


def _latency(cand: pd.DataFrame, base: pd.DataFrame, policy: RolloutPolicy, minimum: int) -> Measurement:
    ok_c, ok_b = cand[~_errors(cand)], base[~_errors(base)]
    if len(ok_c) < minimum or len(ok_b) < minimum:
        return Measurement(
            "latency_p99_ms",
            INCONCLUSIVE,
            _p99(ok_c),
            _p99(ok_b),
            None,
            len(ok_c),
            f"{len(ok_c)} candidate and {len(ok_b)} primary answers; {minimum} each needed",
        )
    mine, theirs = _p99(ok_c), _p99(ok_b)
    assert mine is not None and theirs is not None
    limit = theirs * policy.max_latency_ratio + policy.latency_slack_ms
    # The candidate's p99 is above the limit when significantly more than 1 % of its answers are: a test
    # that one slow first request (a cold cache) cannot fail, unlike the p99 of a small sample.
    slow = int((ok_c["latency_ms"].to_numpy(float) > limit).sum())
    p = float(stats.binom.sf(slow - 1, len(ok_c), 0.01)) if slow else 1.0
    status = FAILED if p < policy.alpha else SUCCESSFUL
    return Measurement(
        "latency_p99_ms",
        status,
        mine,
        theirs,
        limit,
        len(ok_c),
        f"p99 {mine:.2f} ms vs the primary's {theirs:.2f} ms; {slow} of {len(ok_c)} answers above the limit "
        f"{limit:.2f} ms (p = {p:.2g} that at most 1 % are)",
    )


def _p99(frame: pd.DataFrame) -> float | None:
    return float(np.percentile(frame["latency_ms"].to_numpy(float), 99)) if len(frame) else None


def _scores(frame: pd.DataFrame) -> np.ndarray[Any, Any] | None:
    """Binary classifiers: the probability of the last class; otherwise the prediction itself."""
    frame = frame[~_errors(frame)]
    probas = sorted(c for c in frame.columns if c.startswith("output.proba_") and frame[c].notna().any())
    if len(probas) == 2:
        return frame[probas[-1]].to_numpy(float)
    if PREDICTION in frame:
        values = frame[PREDICTION].dropna()
        return values.to_numpy(float) if pd.api.types.is_float_dtype(values) else values.astype(str).to_numpy()
    return None


def _divergence(cand: pd.DataFrame, base: pd.DataFrame, policy: RolloutPolicy, minimum: int) -> Measurement:
    mine, theirs = _scores(cand), _scores(base)
    n = 0 if mine is None else len(mine)
    if mine is None or theirs is None or n < minimum or len(theirs) < minimum:
        return Measurement(
            "divergence_psi",
            INCONCLUSIVE,
            None,
            None,
            policy.max_divergence,
            n,
            f"{n} candidate scores; {minimum} needed on both routes",
        )
    categorical = mine.dtype.kind in "OUS" or theirs.dtype.kind in "OUS"
    kind = object if categorical else float
    psi = float(PSI().compute(theirs.astype(kind).reshape(-1, 1), mine.astype(kind).reshape(-1, 1)).statistic[0])
    p = _same_distribution_p(theirs.astype(str), mine.astype(str)) if categorical else ks_2samp(theirs, mine).pvalue
    status = FAILED if psi > policy.max_divergence and p < policy.alpha else SUCCESSFUL
    return Measurement(
        "divergence_psi",
        status,
        psi,
        0.0,
        policy.max_divergence,
        n,
        f"PSI {psi:.3f} of the candidate's scores against the primary's; p = {float(p):.2g} that they share "
        "one distribution",
    )


def _same_distribution_p(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
    """Chi-squared test of homogeneity of two samples of labels."""
    labels = sorted(set(a) | set(b))
    if len(labels) < 2:
        return 1.0
    table = np.array([[np.sum(x == label) for label in labels] for x in (a, b)])
    return float(stats.chi2_contingency(table)[1])


def _agreement(cand: pd.DataFrame, base: pd.DataFrame, policy: RolloutPolicy, minimum: int) -> Measurement:
    ok_c, ok_b = cand[~_errors(cand)], base[~_errors(base)]
    if PREDICTION not in ok_c or PREDICTION not in ok_b:
        pairs = pd.DataFrame({"c": [], "b": []})
    else:
        pairs = ok_c[["request_id", PREDICTION]].merge(ok_b[["request_id", PREDICTION]], on="request_id")
        pairs.columns = ["request_id", "c", "b"]
    n = len(pairs)
    if n < minimum:
        return Measurement(
            "agreement",
            INCONCLUSIVE,
            None,
            None,
            policy.min_agreement,
            n,
            f"{n} requests answered by both; {minimum} needed",
        )
    c, b = pairs["c"], pairs["b"]
    if pd.api.types.is_float_dtype(c) and pd.api.types.is_float_dtype(b) and not _integral(c, b):
        same = (c - b).abs() <= 0.1 * b.abs().clip(lower=1e-9)  # regression: within 10 %
    else:
        same = _same(c, b)
    share = float(same.mean())
    status = FAILED if share < policy.min_agreement else SUCCESSFUL
    return Measurement(
        "agreement",
        status,
        share,
        1.0,
        policy.min_agreement,
        n,
        f"the candidate agrees with the primary on {share:.1%} of {n} requests",
    )


def _same(a: pd.Series, b: pd.Series) -> pd.Series:
    """Element-wise equality of labels: as numbers when both sides are numeric (a label column with gaps
    is float: 1.0 must equal 1), as text otherwise."""
    x, y = pd.to_numeric(a, errors="coerce"), pd.to_numeric(b, errors="coerce")
    if x.notna().all() and y.notna().all():
        return pd.Series(x.to_numpy(float) == y.to_numpy(float), index=a.index)
    return a.astype(str) == b.astype(str)


def _regression(predicted: pd.Series) -> bool:
    return pd.api.types.is_float_dtype(predicted) and not _integral(predicted.dropna())


def _integral(*series: pd.Series) -> bool:
    return all(bool(np.all(np.mod(s.to_numpy(float), 1) == 0)) for s in series)


def _accuracy(cand: pd.DataFrame, base: pd.DataFrame, policy: RolloutPolicy) -> Measurement:
    required = policy.require_labels
    counts = []
    for frame in (cand, base):
        if "label" not in frame or PREDICTION not in frame:
            counts.append((0, 0))
            continue
        ok = frame[~_errors(frame)]
        labelled = ok[ok["label"].notna()]
        predicted, truth = labelled[PREDICTION], labelled["label"]
        if len(labelled) and _regression(predicted):
            return Measurement(
                "live_accuracy", INCONCLUSIVE, None, None, None, 0, "not a classifier: accuracy does not apply", False
            )
        counts.append((int(_same(predicted, truth).sum()), len(labelled)))
    (kc, nc), (kb, nb) = counts
    if nc < policy.min_labels or nb < policy.min_labels:
        return Measurement(
            "live_accuracy",
            INCONCLUSIVE,
            kc / nc if nc else None,
            kb / nb if nb else None,
            None,
            nc,
            f"{nc} labelled candidate and {nb} primary predictions; {policy.min_labels} each needed",
            required,
        )
    acc_c, acc_b = kc / nc, kb / nb
    drop = policy.max_accuracy_drop
    se = math.sqrt(acc_c * (1 - acc_c) / nc + acc_b * (1 - acc_b) / nb) or 1e-12
    p = float(stats.norm.sf((acc_b - acc_c - drop) / se))  # H0: the drop is at most the allowed one
    status = FAILED if p < policy.alpha else SUCCESSFUL
    return Measurement(
        "live_accuracy",
        status,
        acc_c,
        acc_b,
        acc_b - drop,
        nc,
        f"accuracy {acc_c:.3f} on {nc} labels vs the primary's {acc_b:.3f} on {nb}; p = {p:.2g} "
        f"that the drop is ≤ {drop:.3f}",
        required,
    )


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
