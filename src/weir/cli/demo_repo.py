"""The files ``weir demo`` writes into its folder, as a user of weir would write them: feature definitions
as code and the training job (with its gate and rollout policy). They are plain text here so that the
demo folder is a self-contained example to read and rerun (`weir features apply`, `weir train`)."""

from __future__ import annotations

from pathlib import Path

FEATURES_PY = '''"""Loan applications: one entity per application, its features at application time."""

from datetime import timedelta

from weir.features import Entity, FeatureService, FeatureView, ParquetSource

application = Entity("application", join_keys={"application_id": "string"})

applications = FeatureView(
    "applications",
    entities=[application],
    source=ParquetSource("applications.parquet"),
    event_time="event_timestamp",
    fields={name: "float64" for name in FEATURES},
    ttl=timedelta(0),  # an application's features never expire
)

loan_features = FeatureService("loan_features", features=[applications])
'''

JOBS_PY = '''"""Retraining the loan-default model: the newest labelled weeks, a gate against the champion, a rollout."""

from datetime import timedelta
from pathlib import Path

import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

from weir.training import Gate, Rule
from weir.training.jobs import TrainingJob

HERE = Path(__file__).parent
RECENT = timedelta(days=TRAIN_DAYS)  # train on recent behaviour only: the world changes


def labels() -> pd.DataFrame:
    """The labels that have arrived so far (the demo appends to this file as time passes)."""
    return pd.read_parquet(HERE / "labels.parquet")[["application_id", "event_timestamp", "defaulted"]]


def fit(frame: pd.DataFrame) -> HistGradientBoostingClassifier:
    recent = frame[frame["event_timestamp"] >= frame["event_timestamp"].max() - RECENT]
    return HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(recent[FEATURES], recent["defaulted"])


gate = Gate(
    [Rule.minimum("roc_auc", 0.6), Rule.better("roc_auc", 0.01), Rule.non_inferior("accuracy", 0.02)],
    resamples=500,
)

loans = TrainingJob(
    "loans",
    model="loans",
    features="loan_features",
    labels=labels,
    label="defaulted",
    train=fit,
    holdout=timedelta(days=HOLDOUT_DAYS),
    gate=gate,
    rollout="loans",
    rollout_policy=POLICY,
)
'''


def write_repo(
    folder: Path, *, features: tuple[str, ...], train_days: int, holdout_days: int, policy: dict[str, object]
) -> None:
    """Write ``features.py`` and ``jobs.py`` into ``folder`` with the demo's settings filled in."""
    folder.mkdir(parents=True, exist_ok=True)
    names = repr(list(features))
    (folder / "features.py").write_text(
        FEATURES_PY.replace("from weir.features", f"FEATURES = {names}\n\nfrom weir.features", 1)
    )
    jobs = (
        JOBS_PY.replace("TRAIN_DAYS", str(train_days))
        .replace("HOLDOUT_DAYS", str(holdout_days))
        .replace("POLICY", repr(policy))
        .replace("HERE = Path", f"FEATURES = {names}\nHERE = Path", 1)
    )
    (folder / "jobs.py").write_text(jobs)
