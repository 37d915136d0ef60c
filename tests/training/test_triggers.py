"""Retraining triggers over a real store, prediction log and job: every kind, and the storm guards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

import weir
from tests.training.test_jobs import repo  # noqa: F401  (the fixture: a feature repo with a job file)
from weir.errors import ValidationError
from weir.store import PredictionBatch
from weir.store.schema import monitor_points, monitor_runs, training_runs
from weir.training.cron import Cron
from weir.training.triggers import TriggerSpec

Repo = tuple[weir.Workspace, Path]


def spec(folder: Path, name: str, kind: str, **options: object) -> TriggerSpec:
    return TriggerSpec(name, str(folder / "jobs.py"), "good", kind, **options)  # type: ignore[arg-type]


def record_monitor(ws: weir.Workspace, at: datetime, *, status: str = "ok", accuracy: float | None = None) -> None:
    """A monitor run (and its accuracy point) as a monitor stores them."""
    with ws.db.write() as conn:
        run_id = conn.execute(
            monitor_runs.insert().values(monitor="m", ran_at=at, window_start=None, window_end=at, rows=100,
                                         status=status, alerted=False, summary={"n_drifted": 3})
            .returning(monitor_runs.c.id)
        ).scalar_one()  # fmt: skip
        if accuracy is not None:
            conn.execute(monitor_points.insert().values(run_id=run_id, monitor="m", at=at, kind="performance",
                                                        series="accuracy", version=1, value=accuracy, p_value=None,
                                                        threshold=None, flagged=False, detail={}))  # fmt: skip


def test_manual_runs_record_the_version_and_failures_never_raise(repo: Repo) -> None:  # noqa: F811
    ws, folder = repo
    triggers = ws.triggers
    triggers.add(spec(folder, "by-hand", "manual"))
    first = triggers.run_now("by-hand", reason="first model")
    assert (first.status, first.version) == ("succeeded", "churn/1")
    triggers.add(TriggerSpec("broken", str(folder / "jobs.py"), "broken", "manual"))
    failed = triggers.run_now("broken")
    assert failed.status == "failed" and "no GPU here" in failed.detail
    runs = triggers.runs()
    assert [(r["job"], r["status"], r["version"]) for r in runs] == [("good", "succeeded", "churn/1"),
                                                                      ("broken", "failed", None)]  # fmt: skip
    assert runs[0]["reason"] == "manual: first model" and triggers.tick() == []  # manual never fires by itself


def test_at_most_one_run_in_flight_per_job_and_stale_runs_are_abandoned(repo: Repo) -> None:  # noqa: F811
    ws, folder = repo
    triggers = ws.triggers
    triggers.add(spec(folder, "by-hand", "manual"))
    now = datetime.now(UTC)
    with ws.db.write() as conn:
        conn.execute(training_runs.insert().values(job="good", trigger="other", reason="x", status="running",
                                                   started_at=now - timedelta(minutes=5), detail={}))  # fmt: skip
    skipped = triggers.run_now("by-hand")
    assert skipped.status == "skipped" and "in flight" in skipped.detail
    with ws.db.write() as conn:
        conn.execute(training_runs.update().values(started_at=now - timedelta(hours=7)))
    assert triggers.run_now("by-hand").status == "succeeded"
    assert [r["status"] for r in triggers.runs()] == ["abandoned", "succeeded"]


def test_a_schedule_fires_when_due_and_not_twice(repo: Repo) -> None:  # noqa: F811
    ws, folder = repo
    triggers = ws.triggers
    triggers.add(spec(folder, "hourly", "schedule", cron="0 * * * *"))
    created = datetime.now(UTC)
    next_hour = Cron("0 * * * *").next_after(created)
    assert triggers.tick(now=next_hour - timedelta(minutes=1)) == []
    fired = triggers.tick(now=next_hour + timedelta(minutes=1))
    assert [f.status for f in fired] == ["succeeded"] and "was due at" in fired[0].reason
    assert triggers.tick(now=next_hour + timedelta(minutes=2)) == []  # the next one is an hour later
    triggers.set_paused("hourly", True)
    assert triggers.tick(now=next_hour + timedelta(hours=3)) == []


def test_drift_and_performance_fire_once_per_evidence_after_the_cooldown(repo: Repo) -> None:  # noqa: F811
    ws, folder = repo
    triggers = ws.triggers
    triggers.add(spec(folder, "on-drift", "drift", monitor="m", cooldown_hours=1))
    triggers.add(spec(folder, "on-decay", "performance", monitor="m", metric="accuracy", below=0.8, cooldown_hours=1))
    t0 = datetime.now(UTC)
    record_monitor(ws, t0, status="ok", accuracy=0.9)
    assert triggers.tick(now=t0 + timedelta(minutes=1)) == []
    record_monitor(ws, t0 + timedelta(minutes=2), status="drift", accuracy=0.7)
    # both hold; triggers are checked by name: on-decay retrains, and on-drift then finds that the job
    # already ran after its evidence (one retrain, not two)
    (fired,) = triggers.tick(now=t0 + timedelta(minutes=3))
    assert (fired.trigger, fired.status) == ("on-decay", "succeeded")
    assert "accuracy 0.7 (version 1) on 'm' fell below the limit 0.8" in fired.reason
    assert triggers.tick(now=t0 + timedelta(hours=2)) == []  # the same evidence never fires twice
    record_monitor(ws, t0 + timedelta(hours=3), status="drift", accuracy=0.75)
    # new evidence after the cool-down: one retrain; on-drift then finds the job already ran after its drift
    assert [(f.trigger, f.status) for f in triggers.tick(now=t0 + timedelta(hours=3, minutes=1))] == [
        ("on-decay", "succeeded")
    ]
    assert [(r["trigger"], r["status"]) for r in triggers.runs("good")] == [("on-decay", "succeeded")] * 2


def test_a_schedule_and_an_alert_on_one_job_retrain_once_per_tick(repo: Repo) -> None:  # noqa: F811
    ws, folder = repo
    triggers = ws.triggers
    triggers.add(spec(folder, "a-drift", "drift", monitor="m"))
    triggers.add(spec(folder, "b-hourly", "schedule", cron="0 * * * *"))
    t0 = Cron("0 * * * *").next_after(datetime.now(UTC))
    record_monitor(ws, t0 - timedelta(minutes=1), status="drift")
    fired = triggers.tick(now=t0 + timedelta(minutes=1))  # both due: the drift retrains, the schedule counts
    assert [(f.trigger, f.status) for f in fired] == [("a-drift", "succeeded")]  # its period from that run
    (hourly,) = triggers.tick(now=t0 + timedelta(hours=1, minutes=1))
    assert hourly.trigger == "b-hourly" and hourly.status == "succeeded"


def test_a_margin_compares_with_the_versions_registered_metric(repo: Repo) -> None:  # noqa: F811
    ws, folder = repo
    triggers = ws.triggers
    triggers.add(spec(folder, "by-hand", "manual"))
    triggers.run_now("by-hand")  # churn/1, registered with its held-out accuracy
    baseline = ws.models.get_version("churn/1").metrics["accuracy"]
    triggers.add(spec(folder, "decay", "performance", monitor="m", metric="accuracy", margin=0.05, model="churn"))
    t0 = datetime.now(UTC) + timedelta(minutes=1)
    record_monitor(ws, t0, accuracy=baseline - 0.01)
    assert triggers.tick(now=t0 + timedelta(minutes=1)) == []
    record_monitor(ws, t0 + timedelta(minutes=2), accuracy=baseline - 0.1)
    (fired,) = triggers.tick(now=t0 + timedelta(minutes=3))
    assert "version 1's" in fired.reason and fired.status == "succeeded"


def test_new_labels_fire_the_labels_trigger(repo: Repo) -> None:  # noqa: F811
    ws, folder = repo
    triggers = ws.triggers
    triggers.add(spec(folder, "labels", "labels", endpoint="churn", min_labels=30))
    log = ws.monitors.log
    now = datetime.now(UTC)
    batches = [PredictionBatch([f"r{i}"], now - timedelta(minutes=10), "churn", "churn", 1, "primary")
               for i in range(40)]  # fmt: skip
    log.append(batches)
    log.append_labels("churn", {f"r{i}": 1 for i in range(20)})
    assert triggers.tick(now=now) == []
    log.append_labels("churn", {f"r{i}": 0 for i in range(20, 40)})
    (fired,) = triggers.tick(now=now + timedelta(seconds=1))
    assert "40 newly labelled predictions" in fired.reason


def test_bad_triggers_are_refused() -> None:
    with pytest.raises(ValidationError, match="a schedule trigger needs cron"):
        TriggerSpec("t", "jobs.py", "j", "schedule")
    with pytest.raises(ValidationError, match="Cron '61 \\* \\* \\* \\*': minute field"):
        TriggerSpec("t", "jobs.py", "j", "schedule", cron="61 * * * *")
    with pytest.raises(ValidationError, match="exactly one of below"):
        TriggerSpec("t", "jobs.py", "j", "performance", monitor="m", metric="accuracy")
    with pytest.raises(ValidationError, match="kind 'nightly'"):
        TriggerSpec("t", "jobs.py", "j", "nightly")
    assert pd.Timestamp(Cron("0 3 * * 0").next_after(datetime(2026, 11, 26, tzinfo=UTC))).day_name() == "Sunday"


def test_lower_is_better_metrics_fire_when_they_rise(repo: Repo) -> None:  # noqa: F811
    ws, folder = repo
    triggers = ws.triggers
    triggers.add(spec(folder, "loss", "performance", monitor="m", metric="log_loss", below=0.5))
    t0 = datetime.now(UTC)
    with ws.db.write() as conn:
        row = {"monitor": "m", "ran_at": t0, "window_start": None, "window_end": t0, "rows": 1, "status": "ok",
               "alerted": False, "summary": {}}  # fmt: skip
        run_id = conn.execute(monitor_runs.insert().values(**row).returning(monitor_runs.c.id)).scalar_one()
        for version, value in ((1, 0.9), (2, 0.2)):  # the primary decays while a canary is fine
            conn.execute(monitor_points.insert().values(run_id=run_id, monitor="m", at=t0, kind="performance",
                         series="log_loss", version=version, value=value, p_value=None, threshold=None,
                         flagged=False, detail={}))  # fmt: skip
    (fired,) = triggers.tick(now=t0 + timedelta(minutes=1))
    assert "log_loss 0.9 (version 1) on 'm' rose above the limit 0.5" in fired.reason


def test_labels_that_arrive_late_are_counted(repo: Repo) -> None:  # noqa: F811
    ws, folder = repo
    triggers = ws.triggers
    triggers.add(spec(folder, "labels", "labels", endpoint="churn", min_labels=30))
    log = ws.monitors.log
    now = datetime.now(UTC)
    log.append([PredictionBatch([f"r{i}"], now - timedelta(days=1), "churn", "churn", 1, "primary") for i in range(40)])
    triggers.add(spec(folder, "by-hand", "manual"))
    triggers.run_now("by-hand")  # the job ran after those predictions were made
    log.append_labels("churn", {f"r{i}": 1 for i in range(40)}, time=datetime.now(UTC) + timedelta(seconds=1))
    (fired,) = triggers.tick(now=datetime.now(UTC) + timedelta(seconds=2))
    assert "40 newly labelled predictions" in fired.reason


def test_a_cron_that_never_matches_is_refused() -> None:
    with pytest.raises(ValidationError, match="never matches"):
        TriggerSpec("t", "jobs.py", "j", "schedule", cron="0 0 30 2 *")
