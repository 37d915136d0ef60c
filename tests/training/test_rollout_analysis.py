"""The rollout analysis' statistics on log rows built with a seed: each measurement fails on evidence only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from weir.training.rollout_analysis import FAILED, INCONCLUSIVE, SUCCESSFUL, analyse
from weir.training.rollout_policy import RolloutPolicy

POLICY = RolloutPolicy(min_requests=200, min_labels=200)


def rows(
    route: str,
    version: int,
    n: int,
    *,
    seed: int,
    errors: int = 0,
    latency: float = 2.0,
    score_shift: float = 0.0,
    accuracy: float | None = None,
    prefix: str = "r",
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    score = np.clip(rng.beta(2, 3, n) + score_shift, 0, 1)
    frame = pd.DataFrame(
        {
            "request_id": [f"{prefix}{i}" for i in range(n)],
            "model": "m",
            "version": version,
            "route": route,
            "latency_ms": rng.gamma(4, latency / 4, n),
            "output.prediction": (score > 0.5).astype(int),
            "output.proba_0": 1 - score,
            "output.proba_1": score,
            "output.error": None,
        }
    )
    frame.loc[: errors - 1, ["output.prediction", "output.proba_0", "output.proba_1"]] = np.nan
    frame.loc[: errors - 1, "output.error"] = "RuntimeError: boom"
    if accuracy is not None:
        right = rng.random(n) < accuracy
        frame["label"] = np.where(right, frame["output.prediction"], 1 - frame["output.prediction"])
    return frame


def statuses(frame: pd.DataFrame, phase: str = "canary", policy: RolloutPolicy = POLICY) -> dict[str, str]:
    result = analyse(frame, candidate=("m", 2), primary=("m", 1), phase=phase, policy=policy)
    return {m.metric: m.status for m in result.measurements} | {"verdict": result.status}


def test_a_healthy_canary_succeeds_and_a_small_one_is_inconclusive() -> None:
    healthy = pd.concat([rows("primary", 1, 600, seed=1), rows("canary", 2, 300, seed=2, prefix="c")])
    assert statuses(healthy) == {
        "error_rate": SUCCESSFUL,
        "latency_p99_ms": SUCCESSFUL,
        "divergence_psi": SUCCESSFUL,
        "live_accuracy": INCONCLUSIVE,
        "verdict": SUCCESSFUL,
    }
    small = pd.concat([rows("primary", 1, 600, seed=1), rows("canary", 2, 50, seed=2, prefix="c")])
    assert statuses(small)["verdict"] == INCONCLUSIVE


def test_errors_fail_fast_but_one_error_in_many_does_not() -> None:
    broken = pd.concat([rows("primary", 1, 600, seed=1), rows("canary", 2, 30, seed=2, errors=6, prefix="c")])
    assert statuses(broken)["error_rate"] == FAILED  # 6 of 30 is evidence even before min_requests
    one = pd.concat([rows("primary", 1, 600, seed=1), rows("canary", 2, 300, seed=2, errors=1, prefix="c")])
    assert statuses(one)["error_rate"] == SUCCESSFUL
    borderline = pd.concat([rows("primary", 1, 600, seed=1), rows("canary", 2, 300, seed=2, errors=5, prefix="c")])
    assert statuses(borderline)["error_rate"] == INCONCLUSIVE  # 1.7 % > 1 %, but not significantly


def test_latency_fails_on_a_slow_candidate_not_on_one_cold_request() -> None:
    slow = pd.concat([rows("primary", 1, 600, seed=1), rows("canary", 2, 300, seed=2, latency=20, prefix="c")])
    assert statuses(slow)["latency_p99_ms"] == FAILED
    cold = rows("canary", 2, 300, seed=2, prefix="c")
    cold.loc[0, "latency_ms"] = 900.0
    assert statuses(pd.concat([rows("primary", 1, 600, seed=1), cold]))["latency_p99_ms"] == SUCCESSFUL


def test_divergence_needs_both_a_large_psi_and_significance() -> None:
    shifted = pd.concat([rows("primary", 1, 600, seed=1), rows("canary", 2, 400, seed=2, score_shift=0.35, prefix="c")])
    assert statuses(shifted)["divergence_psi"] == FAILED
    loose = RolloutPolicy(min_requests=200, max_divergence=5.0)
    assert statuses(shifted, policy=loose)["divergence_psi"] == SUCCESSFUL


def test_shadow_agreement_compares_the_same_requests() -> None:
    primary = rows("primary", 1, 300, seed=1)
    same = primary.assign(route="shadow", version=2, latency_ms=primary["latency_ms"] * 1.1)
    assert statuses(pd.concat([primary, same]), "shadow")["agreement"] == SUCCESSFUL
    flipped = same.assign(**{"output.prediction": 1 - same["output.prediction"]})
    result = statuses(pd.concat([primary, flipped]), "shadow")
    assert (result["agreement"], result["verdict"]) == (FAILED, FAILED)


def test_live_accuracy_fails_only_on_a_significant_drop_and_can_be_required() -> None:
    worse = pd.concat(
        [rows("primary", 1, 600, seed=1, accuracy=0.9), rows("canary", 2, 400, seed=2, accuracy=0.75, prefix="c")]
    )
    assert statuses(worse)["live_accuracy"] == FAILED
    close = pd.concat(
        [rows("primary", 1, 600, seed=1, accuracy=0.9), rows("canary", 2, 400, seed=2, accuracy=0.89, prefix="c")]
    )
    assert statuses(close)["live_accuracy"] == SUCCESSFUL
    unlabelled = pd.concat([rows("primary", 1, 600, seed=1), rows("canary", 2, 300, seed=2, prefix="c")])
    required = RolloutPolicy(min_requests=200, require_labels=True)
    assert statuses(unlabelled, policy=required)["verdict"] == INCONCLUSIVE
