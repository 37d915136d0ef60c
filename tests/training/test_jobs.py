"""Training jobs end to end: labels → point-in-time frame → model → held-out metrics → registry → gate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import weir
from tests.cli.test_cli import run
from weir.errors import ValidationError
from weir.training.jobs import TrainingError, load_jobs, run_job

DEFINITIONS = """
from datetime import timedelta
from weir.features import Entity, FeatureService, FeatureView, ParquetSource

driver = Entity("driver", join_keys={"driver_id": "int64"})
stats = FeatureView("driver_daily", entities=[driver], source=ParquetSource("daily.parquet"),
                    event_time="event_timestamp", fields={"speed": "float64", "rating": "float64"},
                    ttl=timedelta(days=2))
service = FeatureService("churn_features", features=[stats])
"""

JOBS = """
from datetime import timedelta
from sklearn.linear_model import LogisticRegression
from weir.training import Gate, Rule
from weir.training.jobs import TrainingJob

def fit(frame):
    return LogisticRegression().fit(frame[["speed", "rating"]], frame["churned"])

def fit_speed_only(frame):
    return LogisticRegression().fit(frame[["speed", "rating"]].assign(rating=0.0), frame["churned"])

def broken(frame):
    raise RuntimeError("no GPU here")

gate = Gate([Rule.minimum("accuracy", 0.7), Rule.non_inferior("roc_auc", 0.02)], resamples=200)
good = TrainingJob("good", model="churn", features="churn_features", labels="labels.parquet",
                   label="churned", train=fit, holdout=timedelta(days=10), gate=gate)
worse = TrainingJob("worse", model="churn", features="churn_features", labels="labels.parquet",
                    label="churned", train=fit_speed_only, holdout=timedelta(days=10), gate=gate)
broken = TrainingJob("broken", model="churn", features="churn_features", labels="labels.parquet",
                     label="churned", train=broken)
nothing = TrainingJob("nothing", model="churn", features="churn_features", labels="labels.parquet",
                      label="churned", train=lambda frame: None)
unlabelled = TrainingJob("unlabelled", model="churn", features="churn_features", labels="labels.parquet",
                         label="cancelled", train=fit)
"""


def write_repo(folder: Path) -> None:
    """60 days of daily stats for 100 drivers; churn follows a low rating (with noise)."""
    rng = np.random.default_rng(0)
    days = pd.date_range("2026-09-01", periods=60, freq="D", tz="UTC")
    drivers = np.arange(100)
    daily = pd.DataFrame([(d, t) for t in days for d in drivers], columns=["driver_id", "event_timestamp"]).assign(
        speed=lambda f: rng.normal(50, 10, len(f)), rating=lambda f: rng.normal(4, 0.6, len(f))
    )
    daily.to_parquet(folder / "daily.parquet", index=False)
    sample = daily.sample(3000, random_state=0)
    labels = sample[["driver_id", "event_timestamp"]].copy()
    labels["event_timestamp"] += pd.Timedelta(hours=12)
    score = (4 - sample["rating"].to_numpy()) * 3 + rng.normal(0, 0.5, len(sample))
    labels["churned"] = (score > 0).astype(int)
    labels.to_parquet(folder / "labels.parquet", index=False)
    (folder / "features.py").write_text(DEFINITIONS)
    (folder / "jobs.py").write_text(JOBS)


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[tuple[weir.Workspace, Path]]:
    folder = tmp_path / "repo"
    folder.mkdir()
    write_repo(folder)
    with weir.connect(home=tmp_path / "home", user="ada") as ws:
        ws.features.apply(folder / "features.py")
        yield ws, folder


def test_a_job_registers_a_candidate_with_lineage_and_gates_it(repo: tuple[weir.Workspace, Path]) -> None:
    ws, folder = repo
    jobs = load_jobs(folder / "jobs.py")
    first = run_job(jobs["good"], ws.features, ws.models)
    assert first.version.ref == "churn/1" and first.holdout_rows > 0 and first.train_rows > first.holdout_rows
    assert first.metrics["accuracy"] > 0.85
    lineage = first.version.lineage
    assert lineage["data_fingerprint"].startswith("sha256:") and lineage["feature_service"] == "churn_features"
    assert lineage["feature_service_version"] == 1 and first.version.tags == {"job": "good"}
    assert first.gate is not None and first.gate.passed  # the first model: absolute rules decide
    assert "no champion" in first.gate.checks[1].reason and first.promoted
    assert ws.models.get_version("churn@challenger").version == 1
    ws.models.set_alias("churn", "champion", 1)

    worse = run_job(jobs["worse"], ws.features, ws.models)
    assert worse.version.lineage["parent_version"] == 1
    assert worse.gate is not None and not worse.gate.passed and not worse.promoted
    failed = {c.name for c in worse.gate.failures()}
    assert "non_inferior roc_auc 0.02" in failed
    (record,) = ws.models.validations(worse.version.ref)
    assert record.name == "gate" and not record.passed and record.evidence["policy"]["champion"] is True
    assert ws.models.get_version("churn@challenger").version == 1  # not moved


def test_bad_jobs_give_clear_errors_and_register_nothing(repo: tuple[weir.Workspace, Path]) -> None:
    ws, folder = repo
    jobs = load_jobs(folder / "jobs.py")
    with pytest.raises(TrainingError, match=r"train\(\) raised RuntimeError: no GPU here"):
        run_job(jobs["broken"], ws.features, ws.models)
    with pytest.raises(TrainingError, match="returned None, not a fitted model"):
        run_job(jobs["nothing"], ws.features, ws.models)
    with pytest.raises(ValidationError, match="no column 'cancelled'"):
        run_job(jobs["unlabelled"], ws.features, ws.models)
    assert ws.models.list_models() == []


def test_weir_train_from_the_command_line(repo: tuple[weir.Workspace, Path]) -> None:
    ws, folder = repo
    home = ws.settings.home
    ambiguous = run(home, "train", str(folder / "jobs.py"), check=False)
    assert ambiguous.returncode == 1 and "pick one with --job" in ambiguous.stderr
    done = json.loads(run(home, "train", str(folder / "jobs.py"), "--job", "good", "--json").stdout)
    assert done["version"] == "churn/1" and done["gate"]["passed"] and done["promoted"]
    failed = run(home, "train", str(folder / "jobs.py"), "--job", "broken", check=False)
    assert failed.returncode == 1 and "no GPU here" in failed.stderr
