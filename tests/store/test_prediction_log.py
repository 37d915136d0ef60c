from __future__ import annotations

import math
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from weir.errors import ValidationError
from weir.store.prediction_log import PredictionLog
from weir.store.prediction_record import PredictionRecord

T0 = datetime(2024, 3, 1, 23, 0, tzinfo=UTC)


def rec(rid: str, t: datetime, endpoint: str = "churn", version: int = 1, route: str = "primary", **inputs: object):
    x = inputs or {"x": 1.5}
    return PredictionRecord(rid, t, endpoint, endpoint, version, route, x, {"prediction": 1, "proba_1": 0.8}, 2.0)


def segments(root: Path) -> list[Path]:
    return sorted((root / "predictions").rglob("*.parquet"))


def test_round_trip_across_endpoints_dates_versions_and_routes(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path)
    records = [
        rec(f"r{i}", T0 + timedelta(minutes=150 * i), endpoint=("churn" if i % 3 else "fraud"),
            version=1 + i % 2, route=("primary", "canary", "shadow")[i % 3], x=float(i), city=f"c{i}")
        for i in range(12)
    ]  # fmt: skip
    assert log.append(records) == 12
    assert log.endpoints() == ["churn", "fraud"]
    dates = {p.parent.name for p in segments(tmp_path)}
    assert dates == {"date=2024-03-01", "date=2024-03-02", "date=2024-03-03"}
    assert all(p.parent.parent.name.startswith("endpoint=") for p in segments(tmp_path))
    frame = log.read("churn")
    expected = [r for r in records if r.endpoint == "churn"]
    assert list(frame["request_id"]) == [r.request_id for r in expected]  # sorted by time
    assert list(frame["time"]) == [pd.Timestamp(r.time) for r in expected]
    assert list(frame["version"]) == [r.version for r in expected]
    assert list(frame["route"]) == [r.route for r in expected]
    assert list(frame["input.x"]) == [r.inputs["x"] for r in expected]
    assert list(frame["input.city"]) == [r.inputs["city"] for r in expected]
    assert set(frame["output.prediction"]) == {1} and set(frame["output.proba_1"]) == {0.8}
    assert set(frame["endpoint"]) == {"churn"} and set(frame["latency_ms"]) == {2.0}
    assert log.count("churn") == 8 and log.count("fraud") == 4
    assert log.read("nothing-here").empty and log.count("nothing-here") == 0


def test_time_version_and_route_filters(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path)
    log.append([rec(f"r{i}", T0 + timedelta(hours=i), version=1 + i % 2, route="canary" if i % 4 == 0 else "primary")
                for i in range(10)])  # fmt: skip
    start, end = T0 + timedelta(hours=2), T0 + timedelta(hours=6)
    window = log.read("churn", start=start, end=end)
    assert list(window["request_id"]) == ["r2", "r3", "r4", "r5"]  # start inclusive, end exclusive
    # the same instant in another time zone selects the same rows
    tz = start.astimezone(datetime.now().astimezone().tzinfo)
    assert list(log.read("churn", start=tz, end=end)["request_id"]) == ["r2", "r3", "r4", "r5"]
    assert list(log.read("churn", version=2)["request_id"]) == ["r1", "r3", "r5", "r7", "r9"]
    assert list(log.read("churn", route="canary", start=start)["request_id"]) == ["r4", "r8"]
    assert log.count("churn", start=start, end=end, version=1) == 2
    assert list(log.read("churn", columns=["request_id", "input.x"], end=start).columns) == ["request_id", "input.x"]
    with pytest.raises(ValidationError, match="Unknown columns"):
        log.read("churn", columns=["input.nope"])


def test_labels_join_newest_per_request_and_null_when_missing(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path)
    log.append([rec(f"r{i}", T0 + timedelta(minutes=i)) for i in range(4)])
    log.append_labels("churn", {"r0": 0, "r1": 1})
    log.append_labels("churn", [("r1", 0, datetime.now(UTC) + timedelta(days=1)), ("r2", 1)])
    log.append_labels("churn", [("r2", 0, T0)])  # an older label does not override a newer one
    frame = log.read("churn", with_labels=True).set_index("request_id")
    assert frame.loc["r0", "label"] == 0
    assert frame.loc["r1", "label"] == 0, "the later feedback overrides the earlier one"
    assert frame.loc["r2", "label"] == 1
    assert math.isnan(frame.loc["r3", "label"]), "an unlabelled prediction keeps a null label"
    assert len(frame) == 4
    only = log.read("churn", with_labels=True, columns=["input.x"])
    assert list(only.columns) == ["input.x", "label", "label_time"]
    assert list(PredictionLog(tmp_path / "other").read("churn", with_labels=True).columns)[-2:] == [
        "label",
        "label_time",
    ]


def test_schema_evolution_new_column_reads_null_in_older_rows(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path)
    log.append([rec("old", T0, x=1)])
    log.append([rec("new", T0 + timedelta(seconds=1), x=2.5, tenure=7)])
    frame = log.read("churn").set_index("request_id")
    assert frame.loc["old", "input.x"] == 1.0 and frame.loc["new", "input.x"] == 2.5  # int widened to float
    assert math.isnan(frame.loc["old", "input.tenure"]) and frame.loc["new", "input.tenure"] == 7


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"time": datetime(2024, 3, 1, 12)}, "time"),
        ({"route": "blue"}, "route"),
        ({"endpoint": "../etc"}, "endpoint"),
        ({"inputs": {"x": [1, 2]}}, "input 'x'"),
    ],
)
def test_invalid_record_raises_validation_error_naming_the_field(kwargs: dict[str, object], field: str) -> None:
    base: dict[str, object] = {
        "request_id": "r1", "time": T0, "endpoint": "churn", "model": "churn", "version": 1, "route": "primary",
    }  # fmt: skip
    with pytest.raises(ValidationError, match=f"(?i){field.split()[0]}") as info:
        PredictionRecord(**{**base, **kwargs})  # type: ignore[arg-type]
    assert info.value.details["field"] == field


def test_conflicting_types_in_one_batch_name_the_column_and_write_nothing(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path)
    with pytest.raises(ValidationError, match=r"input\.x.*int in request 'a'.*str in request 'b'"):
        log.append([rec("a", T0, x=1), rec("b", T0, x="one"), rec("c", T0 + timedelta(days=1))])
    assert segments(tmp_path) == [] and list((tmp_path / "tmp").iterdir()) == []
    with pytest.raises(ValidationError, match="time"):
        log.read("churn", start=datetime(2024, 1, 1))


WRITER = """
import os, sys, time
from datetime import datetime, timezone
from weir.store.prediction_log import PredictionLog
from weir.store.prediction_record import PredictionRecord
log = PredictionLog(sys.argv[1])
def stall(fd):  # the segment's bytes are in the temporary file; hang before it is synced and renamed
    print("writing", flush=True)
    time.sleep(60)
os.fsync = stall
t = datetime(2024, 3, 2, tzinfo=timezone.utc)
log.append([PredictionRecord(f"k{i}", t, "churn", "churn", 1, "primary", {"x": 1.0}) for i in range(5000)])
"""


def test_writer_killed_mid_append_leaves_no_partial_segment(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path)
    for i in range(3):
        log.append([rec(f"kept{i}", T0 + timedelta(days=i))])
    before = segments(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert segments(tmp_path) == before, "no partial segment became visible"
    assert list(log.read("churn")["request_id"]) == ["kept0", "kept1", "kept2"]
    leftovers = list((tmp_path / "tmp").iterdir())
    assert leftovers and leftovers[0].stat().st_size > 0, "the killed writer's bytes stay outside the log"
    time.sleep(0.01)
    assert log.remove_stale_temporaries(older_than=0) == 1
