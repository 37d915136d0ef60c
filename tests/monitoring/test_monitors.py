"""Monitors over a real prediction log: drift per column, performance per version, damped alerts, history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import weir
from weir.errors import NotFoundError, ValidationError
from weir.events import AlertRaised, DriftDetected
from weir.monitoring.monitor_spec import MonitorSpec
from weir.store import PredictionBatch

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def log_predictions(ws: weir.Workspace, *, start: datetime, n: int, shift: float, version: int, seed: int) -> None:
    """``n`` one-row predictions of model ``churn`` over an hour from ``start``; inputs ``x`` (shifted by
    ``shift``) and ``plan``; labels agree with the prediction 80 % of the time."""
    rng = np.random.default_rng(seed)
    x = rng.normal(loc=shift, size=n)
    plan = rng.choice(["a", "b"], size=n)
    prediction = (x > 0).astype(np.int64)
    batches = [
        PredictionBatch(
            [f"r{seed}-{i}"],
            start + timedelta(seconds=i * 3600 / n),
            "churn",
            "churn",
            version,
            "primary",
            inputs={"x": x[i : i + 1], "plan": plan[i : i + 1].astype(object)},
            outputs={
                "prediction": prediction[i : i + 1],
                "proba_0": 1 - prediction[i : i + 1] * 0.8,
                "proba_1": prediction[i : i + 1] * 0.8 + 0.1,
            },
        )
        for i in range(n)
    ]
    log = ws.monitors.log
    log.append(batches)
    truth = np.where(rng.random(n) < 0.8, prediction, 1 - prediction)
    log.append_labels("churn", {f"r{seed}-{i}": int(truth[i]) for i in range(n)}, time=start + timedelta(hours=1))


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[weir.Workspace]:
    with weir.connect(home=tmp_path / "home", user="ada") as workspace:
        log_predictions(workspace, start=NOW - timedelta(days=2), n=400, shift=0.0, version=1, seed=1)  # reference
        yield workspace


def window_spec(**overrides: object) -> MonitorSpec:
    reference = [(NOW - timedelta(days=2)).isoformat(), (NOW - timedelta(days=1)).isoformat()]
    body: dict = {"reference": {"window": reference}, "window": {"last_hours": 2}, "cooldown_hours": 6.0}  # type: ignore[type-arg]
    return MonitorSpec("churn-drift", "churn", **{**body, **overrides})  # type: ignore[arg-type]


def test_no_drift_then_drift_with_one_damped_alert(ws: weir.Workspace) -> None:
    alerts: list[AlertRaised] = []
    drifts: list[DriftDetected] = []
    ws.events.subscribe(AlertRaised, alerts.append)
    ws.events.subscribe(DriftDetected, drifts.append)
    monitors = ws.monitors
    monitors.create(window_spec())
    log_predictions(ws, start=NOW - timedelta(hours=1, minutes=30), n=300, shift=0.0, version=1, seed=2)
    calm = monitors.run("churn-drift", now=NOW)
    assert (calm.status, calm.rows, calm.alerted) == ("ok", 300, False)
    assert set(calm.summary["columns"]) == {"x", "plan", "prediction"}

    later = NOW + timedelta(hours=3)
    log_predictions(ws, start=later - timedelta(hours=1, minutes=30), n=300, shift=1.5, version=2, seed=3)
    shifted = monitors.run("churn-drift", now=later)
    assert shifted.status == "drift" and shifted.alerted
    assert shifted.drift is not None and shifted.drift["x"].drifted and not shifted.drift["plan"].drifted
    again = monitors.run("churn-drift", now=later + timedelta(minutes=10))  # still drifting, within the cool-down
    assert again.status == "drift" and not again.alerted
    assert len(alerts) == 1 and alerts[0].key == "monitor:churn-drift:drift"
    assert len(drifts) == 2 and drifts[0].details == {"endpoint": "churn", "drifted": ["x", "prediction"]}
    reminder = monitors.run("churn-drift", now=later + timedelta(hours=7))  # the window is empty by then
    assert reminder.status == "no data" and not reminder.alerted

    x = monitors.series("churn-drift", "x")
    assert list(x["flagged"]) == [False, True, True]
    assert x["p_value"].iloc[1] < 0.05 < x["p_value"].iloc[0]
    assert [r.status for r in monitors.runs("churn-drift")] == ["ok", "drift", "drift", "no data"]

    stored = monitors.get_run("churn-drift", shifted.run_id).summary["distributions"]
    assert set(stored) == {"x", "plan", "prediction"} and stored["plan"]["kind"] == "categories"
    x_bins = stored["x"]
    assert x_bins["kind"] == "histogram" and (x_bins["n_reference"], x_bins["n_current"]) == (400, 300)
    assert sum(x_bins["reference"]) == pytest.approx(1) and sum(x_bins["current"]) == pytest.approx(1)
    middle = np.searchsorted(x_bins["edges"], 0.75)  # the current window is shifted by 1.5: more mass above
    assert sum(x_bins["current"][middle:]) > sum(x_bins["reference"][middle:]) + 0.3
    assert "distributions" not in monitors.get_run("churn-drift", reminder.run_id).summary  # nothing compared
    with pytest.raises(NotFoundError, match="has no run 999"):
        monitors.get_run("churn-drift", 999)


def test_tests_and_thresholds_per_column(ws: weir.Workspace) -> None:
    ws.monitors.create(window_spec(tests={"x": "wasserstein"}, thresholds={"x": 5.0}))
    log_predictions(ws, start=NOW - timedelta(hours=1), n=300, shift=1.5, version=1, seed=9)
    result = ws.monitors.run("churn-drift", now=NOW)
    assert result.drift is not None
    x = result.drift["x"]
    assert (x.test, x.threshold, x.drifted) == ("wasserstein", 5.0, False)  # a shift of 1.5 sd, under 5


def test_performance_per_version_from_labels(ws: weir.Workspace) -> None:
    # one reference prediction whose label never came: labels read back as floats; CBPE must still fit
    outputs = {"prediction": np.array([1]), "proba_0": np.array([0.2]), "proba_1": np.array([0.8])}
    at = NOW - timedelta(days=2) + timedelta(minutes=30)
    late = PredictionBatch(["late"], at, "churn", "churn", 1, "primary", outputs=outputs)
    ws.monitors.log.append([late])
    ws.monitors.create(window_spec(window={"last_n": 200}))
    log_predictions(ws, start=NOW - timedelta(hours=2), n=100, shift=0.0, version=1, seed=4)
    log_predictions(ws, start=NOW - timedelta(hours=1), n=100, shift=0.0, version=2, seed=5)
    result = ws.monitors.run("churn-drift", now=NOW)
    assert result.rows == 200
    points = ws.monitors.series("churn-drift")
    accuracy = points[(points["kind"] == "performance") & (points["series"] == "accuracy")]
    assert sorted(accuracy["version"].astype(int)) == [1, 2]
    assert all(0.65 < v < 0.95 for v in accuracy["value"])  # labels agree 80 % of the time
    assert {"f1", "roc_auc", "log_loss"} <= set(points[points["kind"] == "performance"]["series"])
    estimated = points[points["kind"] == "estimated"].set_index("series")  # CBPE, fitted on the labelled reference
    assert set(estimated.index) == {"accuracy", "f1", "roc_auc"}
    accuracy_band = estimated.loc["accuracy", "detail"]
    assert accuracy_band["lower"] < estimated.loc["accuracy", "value"] < accuracy_band["upper"]
    assert 0.7 < estimated.loc["accuracy", "value"] < 0.9  # the scores are calibrated to 80 % right


def test_a_training_frame_is_a_reference(ws: weir.Workspace, tmp_path: Path) -> None:
    from tests.features.repo import write_repo

    ws.features.apply(write_repo(tmp_path / "repo"))
    entities = pd.DataFrame({"driver_id": [1, 2] * 50, "event_timestamp": pd.Timestamp("2026-11-05", tz="UTC")})
    frame = ws.features.training_frame(entities, "driver_service")
    reference = ws.features.reference_sample(frame.fingerprint)
    assert list(reference.columns) == ["conv_rate", "trips"] and len(reference) == 100
    ws.monitors.create(window_spec(reference={"frame": frame.fingerprint}))
    log_predictions(ws, start=NOW - timedelta(hours=1), n=50, shift=0.0, version=1, seed=6)
    result = ws.monitors.run("churn-drift", now=NOW)  # the log's inputs (x, plan) share nothing with the frame
    assert result.status == "no data" and "no column in common" in result.summary["reason"]


def test_bad_monitors_are_refused_with_the_culprit(ws: weir.Workspace) -> None:
    with pytest.raises(ValidationError, match="schedule 'hourly' is not 'every N"):
        window_spec(schedule="hourly")
    with pytest.raises(ValidationError, match="the window is"):
        window_spec(window={"last_days": 2})
    with pytest.raises(ValidationError, match="test 'ttest' for column 'x' is not one of"):
        window_spec(tests={"x": "ttest"})
    with pytest.raises(ValidationError, match="needs a time zone"):
        window_spec(reference={"window": ["2026-11-01T00:00", "2026-11-02T00:00"]})
    with pytest.raises(NotFoundError, match="none exists; create one"):
        ws.monitors.run("nope")
    ws.monitors.create(window_spec())
    with pytest.raises(ValidationError, match="exists; pass replace=True"):
        ws.monitors.create(window_spec())
    ws.monitors.create(window_spec(columns=["x", "salary"]), replace=True)
    log_predictions(ws, start=NOW - timedelta(hours=1), n=50, shift=0.0, version=1, seed=7)
    with pytest.raises(ValidationError, match="column 'salary' is not in both"):
        ws.monitors.run("churn-drift", now=NOW)


def test_the_cli_creates_runs_and_shows_history(ws: weir.Workspace) -> None:
    from tests.cli.test_cli import run

    home = ws.settings.home
    now = datetime.now(UTC)
    log_predictions(ws, start=now - timedelta(hours=1, minutes=30), n=200, shift=2.0, version=1, seed=8)
    window = f"{(NOW - timedelta(days=2)).isoformat()},{(NOW - timedelta(days=1)).isoformat()}"
    run(home, "monitor", "create", "m1", "--endpoint", "churn", "--reference-window", window, "--last-hours", "2",
        "--schedule", "every 1h")  # fmt: skip
    assert [m["name"] for m in json.loads(run(home, "monitor", "list", "--json").stdout)] == ["m1"]
    report = home / "m1.html"
    done = run(home, "monitor", "run", "m1", "--fail-on-drift", "--out", str(report), check=False)
    assert done.returncode == 3 and "dataset drift" in done.stdout and "alert raised" in done.stdout
    page = report.read_text()
    assert "weir monitor m1" in page and "Performance over time" in page and 'class="column' in page
    history = json.loads(run(home, "monitor", "history", "m1", "--series", "x", "--json").stdout)
    assert len(history) == 1 and history[0]["flagged"] is True
    bad = run(home, "monitor", "create", "m2", "--endpoint", "churn", "--last-n", "5", check=False)
    assert bad.returncode == 1 and "exactly one of --reference-frame" in bad.stderr


def test_the_agent_runs_scheduled_monitors_when_due(ws: weir.Workspace) -> None:
    ws.monitors.create(window_spec(schedule="every 1h"))
    ws.monitors.create(MonitorSpec("manual", "churn", reference=window_spec().reference, window={"last_n": 10}))
    assert ws.monitors.due(NOW) == ["churn-drift"]  # never ran; the unscheduled one is never due
    assert [r.monitor for r in ws.monitors.run_due(NOW)] == ["churn-drift"]
    assert ws.monitors.due(NOW + timedelta(minutes=59)) == []
    assert ws.monitors.due(NOW + timedelta(hours=1)) == ["churn-drift"]
