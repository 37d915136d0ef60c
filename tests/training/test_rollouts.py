"""Progressive rollout against the real inference service and prediction log: promotion, automatic
rollback on errors, holds and pauses, manual control, and every refusal."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sklearn.linear_model import LogisticRegression

from weir.app import Workspace
from weir.errors import ConflictError, ValidationError
from weir.serving.service import InferenceService
from weir.store import PredictionLog, PredictionRecord
from weir.training.rollout_policy import RolloutPolicy
from weir.training.rollouts import Rollouts

from .conftest import FAST, data, drive


def test_a_rollout_shadows_then_canaries_then_promotes_champion(ws: Workspace, service: InferenceService) -> None:
    rollout = ws.rollouts.start("m", "m/2", FAST, reason="better on the holdout")
    assert [s.ref for s in ws.deployments.get("m").shadows] == ["m/2"]
    seen = []
    for seed in range(1, 8):
        drive(service, 60, seed=seed, labels=True)
        ws.rollouts.tick()
        rollout = ws.rollouts.get(rollout.id)
        seen.append((rollout.phase, rollout.weight))
        if rollout.state == "succeeded":
            break
    assert rollout.state == "succeeded", seen
    assert seen[0] == ("canary", 50.0)
    deployment = ws.deployments.get("m")
    assert (deployment.primary, deployment.canary, deployment.shadows) == ("m@champion", None, ())
    assert ws.models.get_model("m").aliases["champion"] == 2
    steps = ws.rollouts.steps(rollout.id)
    assert [s["action"] for s in steps if s["action"] != "hold"] == ["start", "canary 50 %", "succeeded"]
    assert {s["status"] for s in steps if s["action"] == "hold"} <= {"Inconclusive"}
    shadow = steps[1]
    assert {m["metric"]: m["status"] for m in shadow["measurements"]} == {
        "error_rate": "Successful", "latency_p99_ms": "Successful", "agreement": "Successful",
        "live_accuracy": "Successful",
    }  # fmt: skip
    assert {m["metric"] for m in steps[2]["measurements"]} >= {"divergence_psi", "error_rate"}
    audit = [e.action for e in ws.models.audit.entries()]
    assert "rollout.start" in audit and "rollout.succeeded" in audit and "deployment.promote" in audit
    assert ws.models.audit.verify().ok


def test_a_candidate_that_fails_live_requests_is_rolled_back_by_itself(
    ws: Workspace, service: InferenceService
) -> None:
    rollout = ws.rollouts.start("m", "m/3", FAST)
    drive(service, 60)
    log = PredictionLog(ws.settings.prediction_log).read("m", route="shadow")
    assert log["output.error"].str.contains("e").all()  # the missing column is named
    (moved,) = ws.rollouts.tick()
    assert (moved.id, moved.state) == (rollout.id, "rolled_back")
    deployment = ws.deployments.get("m")
    assert (deployment.canary, deployment.shadows) == (None, ())
    assert ws.models.get_model("m").aliases["champion"] == 1
    last = ws.rollouts.steps(rollout.id)[-1]
    error = next(m for m in last["measurements"] if m["metric"] == "error_rate")
    assert (last["status"], error["status"], error["value"]) == ("Failed", "Failed", 1.0)


def inject(ws: Workspace, version: int, route: str, n: int, *, errors: int = 0) -> None:
    now = datetime.now(UTC)
    ok = {"prediction": 1, "proba_0": 0.5, "proba_1": 0.5}
    outputs = [{"error": "RuntimeError: boom"} if i < errors else ok for i in range(n)]
    stamp = time.monotonic_ns()
    records = [
        PredictionRecord(f"{route}-{version}-{i}-{stamp}", now, "m", "m", version, route, {"a": 0.1}, out, 1.0)
        for i, out in enumerate(outputs)
    ]
    PredictionLog(ws.settings.prediction_log).append(records)


def test_canary_errors_hold_then_roll_back_at_the_failure_limit(ws: Workspace) -> None:
    policy = {**FAST, "shadow": False, "steps": [10, 100], "failure_limit": 2}
    rollout = ws.rollouts.start("m", "m/2", policy)
    assert ws.deployments.get("m").canary_weight == 10
    inject(ws, 1, "primary", 200)
    inject(ws, 2, "canary", 50, errors=10)
    (held,) = ws.rollouts.tick() or [ws.rollouts.get(rollout.id)]
    assert (held.state, held.failures, ws.deployments.get("m").canary) == ("running", 1, "m/2")
    time.sleep(0.01)  # the phase restarted: the next analysis sees only newer rows
    inject(ws, 1, "primary", 200)
    inject(ws, 2, "canary", 50, errors=10)
    (ended,) = ws.rollouts.tick()
    assert ended.state == "rolled_back"
    assert ws.deployments.get("m").canary is None
    history = [c.action for c in ws.deployments.history("m")]
    assert history[-1] == "rollback"


def test_without_evidence_a_rollout_holds_then_pauses_for_a_person(ws: Workspace) -> None:
    rollout = ws.rollouts.start("m", "m/2", {**FAST, "inconclusive_limit": 2})
    assert ws.rollouts.tick() == []  # nothing served yet: inconclusive, hold
    assert ws.rollouts.get(rollout.id).inconclusive == 1
    (paused,) = ws.rollouts.tick()
    assert (paused.state, ws.deployments.get("m").shadows[0].ref) == ("paused", "m/2")
    assert ws.rollouts.tick() == []  # a paused rollout is not analysed
    assert ws.rollouts.resume(rollout.id).state == "running"
    with pytest.raises(ConflictError, match="running"):
        ws.rollouts.resume(rollout.id)


def test_a_deployment_carries_its_own_rollout_policy(ws: Workspace) -> None:
    ws.deployments.deploy("m", "m@champion", options={"rollout_policy": {"steps": [20, 100], "shadow": False}})
    rollout = ws.rollouts.start("m", "m/2")
    assert (rollout.phase, rollout.policy.steps, ws.deployments.get("m").canary_weight) == ("canary", (20.0, 100.0), 20)
    with pytest.raises(ValidationError, match="rollout_policy must be an object"):
        ws.deployments.deploy("m", "m@champion", options={"rollout_policy": [5, 100]})


def test_manual_promote_and_abort(ws: Workspace) -> None:
    rollout = ws.rollouts.start("m", "m/2", {**FAST, "shadow": False})
    assert ws.rollouts.pause(rollout.id).state == "paused"
    aborted = ws.rollouts.abort(rollout.id, reason="not today")
    assert (aborted.state, ws.deployments.get("m").canary) == ("aborted", None)
    with pytest.raises(ConflictError, match="already ended"):
        ws.rollouts.promote_now(rollout.id)
    again = ws.rollouts.start("m", "m/2", FAST)
    assert ws.rollouts.promote_now(again.id).state == "succeeded"
    assert ws.models.get_model("m").aliases["champion"] == 2
    assert [r.id for r in ws.rollouts.list_rollouts("m")] == [again.id, rollout.id]


def test_a_pinned_primary_is_replaced_and_one_rollback_undoes_a_promotion(ws: Workspace) -> None:
    ws.deployments.deploy("m", "m/1")
    ws.rollouts.promote_now(ws.rollouts.start("m", "m/2", FAST).id)
    assert ws.deployments.get("m").primary == "m/2"
    assert ws.models.get_model("m").aliases["champion"] == 1  # only an endpoint that follows champion moves it
    ws.deployments.rollback("m")
    assert (ws.deployments.get("m").primary, ws.deployments.get("m").canary) == ("m/1", None)
    ws.deployments.deploy("m", "m@champion")
    ws.rollouts.promote_now(ws.rollouts.start("m", "m/2", FAST).id)
    assert ws.models.get_model("m").aliases["champion"] == 2
    undone = ws.deployments.rollback("m")  # back to the revision before: v1 serves, v2 only shadows
    assert (undone.canary, ws.models.get_model("m").aliases["champion"]) == (None, 1)


def test_a_passing_phase_waits_out_its_minimum_time_without_pausing(ws: Workspace, service: InferenceService) -> None:
    rollout = ws.rollouts.start("m", "m/2", {**FAST, "shadow_seconds": 3600, "inconclusive_limit": 2})
    for seed in (1, 2, 3):
        drive(service, 60, seed=seed)
        assert ws.rollouts.tick() == []
    waiting = ws.rollouts.get(rollout.id)
    assert (waiting.state, waiting.phase, waiting.inconclusive) == ("running", "shadow", 0)
    steps = ws.rollouts.steps(rollout.id)
    assert [(s["action"], s["status"]) for s in steps] == [("start", "started"), ("wait", "Successful")]  # one a minute


def test_a_paused_rollout_is_still_rolled_back_on_failure(ws: Workspace) -> None:
    rollout = ws.rollouts.start("m", "m/2", {**FAST, "shadow": False, "steps": [10, 100]})
    ws.rollouts.pause(rollout.id, reason="holiday")
    inject(ws, 1, "primary", 200)
    inject(ws, 2, "canary", 50, errors=20)
    (ended,) = ws.rollouts.tick()
    assert (ended.state, ws.deployments.get("m").canary) == ("rolled_back", None)


def test_a_primary_that_moves_mid_rollout_aborts_it(ws: Workspace) -> None:
    ws.rollouts.start("m", "m/2", FAST)
    ws.models.set_alias("m", "champion", 3, reason="someone else promoted")
    (ended,) = ws.rollouts.tick()
    assert (ended.state, ended.reason) == ("aborted", "the primary changed to m/3 during the rollout")
    assert ws.deployments.get("m").shadows[0].ref == "m/2"  # traffic is not touched again


def test_a_deployment_change_during_the_analysis_is_never_overwritten(ws: Workspace, service: InferenceService) -> None:
    class Racing(Rollouts):
        def analyse(self, rollout, now=None):  # type: ignore[no-untyped-def]
            result = super().analyse(rollout, now)
            ws.deployments.set_shadow("m", "m/2", 0, reason="an operator, meanwhile")
            return result

    racing = Racing(ws.deployments, PredictionLog(ws.settings.prediction_log))
    rollout = racing.start("m", "m/2", FAST)
    drive(service, 60)
    assert racing.tick() == []  # the move is refused: the deployment changed after it was read
    assert (ws.deployments.get("m").canary, ws.deployments.get("m").shadows) == (None, ())
    (ended,) = ws.rollouts.tick()
    assert ended.id == rollout.id and ended.state == "aborted"


def test_a_deployment_changed_by_hand_aborts_the_rollout_without_touching_traffic(ws: Workspace) -> None:
    rollout = ws.rollouts.start("m", "m/2", {**FAST, "shadow": False})
    ws.deployments.set_canary("m", "m/2", 80, reason="someone in a hurry")
    (ended,) = ws.rollouts.tick()
    assert (ended.state, ended.reason) == ("aborted", "the deployment was changed outside the rollout")
    assert ws.deployments.get("m").canary_weight == 80
    assert rollout.id == ended.id


def test_refusals(ws: Workspace) -> None:
    v4 = ws.models.register("m", LogisticRegression().fit(*data()))
    ws.models.add_validation(v4.ref, "gate", passed=False)
    with pytest.raises(ConflictError, match="failed validation"):
        ws.rollouts.start("m", "m/4")
    v5 = ws.models.register("m", LogisticRegression().fit(*data()))
    with pytest.raises(ConflictError, match="no validation record"):
        ws.rollouts.start(v5.model, v5.ref)
    assert ws.rollouts.start("m", v5.ref, force=True).reason == "forced"
    with pytest.raises(ConflictError, match="already has rollout"):
        ws.rollouts.start("m", "m/2")
    with pytest.raises(ConflictError, match="already is the primary"):
        ws.rollouts.start("m", "m@champion")
    ws.models.register("other", LogisticRegression().fit(*data()))
    with pytest.raises(ValidationError, match="serves model 'm'"):
        ws.rollouts.start("m", "other/1", force=True)
    with pytest.raises(ValidationError, match="steps must rise"):
        ws.rollouts.start("m", "m/2", {"steps": [50, 20]})
    with pytest.raises(ValidationError, match="unknown key"):
        RolloutPolicy.from_dict({"step": [10]})
    assert ws.models.get_model("m").aliases["champion"] == 1


def test_a_workspace_without_a_log_cannot_analyse(ws: Workspace) -> None:
    rollouts = Rollouts(ws.deployments, None)
    rollout = rollouts.start("m", "m/2", FAST)
    with pytest.raises(ValidationError, match="no prediction log"):
        rollouts.analyse(rollout)
