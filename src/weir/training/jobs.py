"""Training jobs as code: labelled entity rows → a point-in-time training frame → a fitted, evaluated,
registered candidate with full lineage, optionally checked by the validation gate against the champion.

A job file defines :class:`TrainingJob` objects (``weir train FILE``):

.. code-block:: python

    job = TrainingJob("churn", model="churn", features="churn_service",
                      labels="labels.parquet", label="churned", train=fit_churn,
                      holdout=timedelta(days=30), gate=Gate([Rule.better("roc_auc")]))

``labels`` is a Parquet or CSV file (relative to the job file) or a function returning a DataFrame of
entity rows: the join keys, ``event_timestamp`` and the label column. ``train(frame)`` gets the training
rows (features, keys, timestamps and the label) and returns a fitted model. The newest ``holdout`` of
rows (by timestamp) is held out: the model never sees them; metrics and the gate are measured on them.
"""

from __future__ import annotations

import logging
import runpy
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from weir.errors import ConflictError, NotFoundError, ValidationError, WeirError
from weir.features import FeatureStore
from weir.monitoring.performance import metric_names, performance
from weir.registry import ModelRegistry, ModelVersion
from weir.registry.lineage import data_fingerprint as data_fingerprint_of
from weir.training.gate import Check, Gate, GateResult, signatures_compatible
from weir.training.paired import Scores
from weir.training.rollouts import Rollouts
from weir.types import JSONDict

logger = logging.getLogger(__name__)


class TrainingError(WeirError):
    """The user's training function failed or returned something that is not a usable model."""

    status = 422
    code = "training_failed"


@dataclass(frozen=True)
class TrainingJob:
    name: str
    model: str
    features: str | Sequence[str]
    labels: str | Callable[[], pd.DataFrame]
    label: str
    train: Callable[[pd.DataFrame], Any]
    holdout: timedelta | float = 0.2  # a time span, or the newest share of rows
    task: str = "classification"
    timestamp_column: str = "event_timestamp"
    gate: Gate | None = None
    promote_to: str | None = "challenger"  # the alias a candidate that passes the gate gets
    rollout: str | None = None  # an endpoint to roll a candidate that passes the gate out on
    rollout_policy: Mapping[str, Any] | None = None
    base: Path = field(default_factory=Path.cwd)

    def __post_init__(self) -> None:
        if not callable(self.train):
            raise ValidationError(f"TrainingJob {self.name!r}: train must be a function (frame -> fitted model).")
        if isinstance(self.holdout, timedelta):
            if self.holdout <= timedelta(0):
                raise ValidationError(f"TrainingJob {self.name!r}: a holdout span must be positive.")
        elif isinstance(self.holdout, bool) or not isinstance(self.holdout, int | float) or not 0 < self.holdout < 1:
            raise ValidationError(
                f"TrainingJob {self.name!r}: holdout must be a timedelta or a share in (0, 1), not {self.holdout!r}."
            )
        if self.rollout is not None and self.gate is None:
            raise ValidationError(
                f"TrainingJob {self.name!r}: rollout needs a gate; only a validated candidate is rolled out."
            )
        if self.task not in ("classification", "regression"):
            raise ValidationError(f"TrainingJob {self.name!r}: task must be classification or regression.")


@dataclass(frozen=True)
class TrainResult:
    job: str
    version: ModelVersion
    metrics: JSONDict
    train_rows: int
    holdout_rows: int
    gate: GateResult | None
    promoted: bool
    seconds: float
    rollout: int | None = None
    rollout_error: str | None = None

    def to_dict(self) -> JSONDict:
        return {
            "job": self.job,
            "version": self.version.ref,
            "metrics": self.metrics,
            "train_rows": self.train_rows,
            "holdout_rows": self.holdout_rows,
            "gate": None if self.gate is None else self.gate.to_dict(),
            "promoted": self.promoted,
            "seconds": self.seconds,
            "rollout": self.rollout,
            "rollout_error": self.rollout_error,
        }


def load_jobs(path: str | Path) -> dict[str, TrainingJob]:
    """The jobs a Python file defines (label files relative to it)."""
    file = Path(path)
    if not file.is_file():
        raise ValidationError(f"Job file {str(path)!r} does not exist.")
    try:
        namespace = runpy.run_path(str(file), run_name=f"weir_jobs_{file.stem}")
    except Exception as exc:  # the user's file
        raise ValidationError(f"Job file {str(file)!r} failed to run: {type(exc).__name__}: {exc}") from exc
    jobs = {v.name: replace(v, base=file.parent.resolve()) for v in namespace.values() if isinstance(v, TrainingJob)}
    if not jobs:
        raise ValidationError(f"{str(file)!r} defines no TrainingJob.")
    return jobs


def run_job(
    job: TrainingJob, features: FeatureStore, models: ModelRegistry, rollouts: Rollouts | None = None
) -> TrainResult:
    """Build the frame, train, evaluate on the held-out newest rows, register, gate, promote, and start the
    job's rollout when it names one."""
    started = time.perf_counter()
    if job.rollout is not None and rollouts is not None:
        active = rollouts.list_rollouts(job.rollout, active=True)
        if active:
            raise ConflictError(
                f"TrainingJob {job.name!r}: rollout {active[0].id} of {active[0].candidate} on {job.rollout!r} is in "
                "progress; train again once it has finished (or abort it)."
            )
    labelled = _labels(job)
    frame = features.training_frame(
        labelled.drop(columns=[job.label]), job.features, timestamp_column=job.timestamp_column
    )
    data = frame.to_pandas()
    data[job.label] = labelled[job.label].to_numpy()
    train, holdout = _split(job, data)
    model = _fit(job, train)
    X_holdout = holdout[frame.features]
    candidate = _scores(job, model, X_holdout)
    y = holdout[job.label].to_numpy()
    measured = performance(y, candidate.predictions, candidate.probabilities, task=job.task)  # type: ignore[arg-type]
    metrics = {m: float(measured[m]) for m in metric_names(job.task) if not pd.isna(measured[m])}
    champion = _champion(models, job.model)
    split = {
        "holdout": str(job.holdout),
        "holdout_from": str(pd.to_datetime(holdout[job.timestamp_column], utc=True).min()),
        "train_rows": len(train),
        "holdout_rows": len(holdout),
        "labels_digest": data_fingerprint_of(labelled),
    }
    version = models.register(
        job.model,
        model,
        input_example=X_holdout.head(20),
        metrics=metrics,
        tags={"job": job.name},
        params=split,
        description=f"trained by job {job.name!r} on {len(train)} rows; {len(holdout)} held out",
        parent=None if champion is None else champion.version,
        code_path=str(job.base),
        **frame.lineage(),
    )
    result = None
    promoted = False
    if job.gate is not None:
        old = None
        if champion is not None:
            try:
                old = _scores(job, models.load(champion.ref, trust_pickle=False), X_holdout)
            except WeirError as exc:  # recorded as the gate's verdict, never left half-done
                check = Check("champion", False, f"{champion.ref} cannot score the holdout: {exc.message}")
                result = GateResult(False, (check,), {"champion": True})
        result = result or job.gate.evaluate(
            y,
            candidate,
            champion=old,
            signature_compatible=signatures_compatible(
                None if champion is None else champion.signature.to_dict() if champion.signature else None,
                version.signature.to_dict() if version.signature else None,
            ),
        )
        models.add_validation(version.ref, "gate", passed=result.passed, metrics=metrics, evidence=result.to_dict())
        if result.passed and job.promote_to:
            models.set_alias(job.model, job.promote_to, version.version, reason=f"passed the gate of job {job.name}")
            promoted = True
    rollout, rollout_error = None, None
    if result is not None and result.passed and job.rollout is not None and rollouts is not None:
        try:
            rollout = rollouts.start(
                job.rollout, version.ref, dict(job.rollout_policy or {}), reason=f"passed the gate of job {job.name}"
            ).id
        except WeirError as exc:  # the version is registered and validated: report, do not lose it
            rollout_error = exc.message
            logger.warning(
                "job %s: %s passed the gate but its rollout did not start: %s", job.name, version.ref, exc.message
            )
    seconds = time.perf_counter() - started
    logger.info("job %s registered %s (gate %s)", job.name, version.ref, None if result is None else result.passed)
    return TrainResult(
        job.name, version, metrics, len(train), len(holdout), result, promoted, seconds, rollout, rollout_error
    )


def _labels(job: TrainingJob) -> pd.DataFrame:
    where = f"TrainingJob {job.name!r}"
    if callable(job.labels):
        try:
            frame = job.labels()
        except Exception as exc:
            raise TrainingError(f"{where}: its label function failed: {type(exc).__name__}: {exc}") from exc
    else:
        path = job.base / job.labels
        if not path.is_file():
            raise ValidationError(f"{where}: label file {path} does not exist.")
        frame = pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") else pd.read_csv(path)
        if job.timestamp_column in frame and not pd.api.types.is_datetime64_any_dtype(frame[job.timestamp_column]):
            frame[job.timestamp_column] = pd.to_datetime(frame[job.timestamp_column], utc=True, format="ISO8601")
    if not isinstance(frame, pd.DataFrame):
        raise TrainingError(f"{where}: labels must be a DataFrame, got {type(frame).__name__}.")
    if job.label not in frame:
        raise ValidationError(
            f"{where}: the labels have no column {job.label!r} (columns: {', '.join(frame.columns)})."
        )
    frame = frame[frame[job.label].notna()].reset_index(drop=True)
    if frame.empty:
        raise ValidationError(f"{where}: no labelled rows.")
    return frame


def _split(job: TrainingJob, data: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    times = pd.to_datetime(data[job.timestamp_column], utc=True)
    if isinstance(job.holdout, timedelta):
        held = times >= times.max() - job.holdout
    else:
        cut = times.sort_values().iloc[int(len(times) * (1 - job.holdout))]
        held = times >= cut
    train, holdout = data[~held], data[held]
    if train.empty or holdout.empty:
        raise ValidationError(
            f"TrainingJob {job.name!r}: the time split leaves {len(train)} training and {len(holdout)} held-out "
            "rows; change holdout."
        )
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


def _fit(job: TrainingJob, train: pd.DataFrame) -> Any:
    try:
        model = job.train(train)
    except Exception as exc:
        raise TrainingError(f"TrainingJob {job.name!r}: train() raised {type(exc).__name__}: {exc}") from exc
    if model is None or not hasattr(model, "predict"):
        raise TrainingError(f"TrainingJob {job.name!r}: train() returned {model!r}, not a fitted model with predict().")
    return model


def _scores(job: TrainingJob, model: Any, X: pd.DataFrame) -> Scores:
    predictions = np.asarray(model.predict(X))
    # a registry-loaded model says whether it has probabilities; a fresh estimator has predict_proba
    probabilistic = getattr(model, "has_proba", hasattr(model, "predict_proba"))
    if job.task == "classification" and probabilistic:
        classes = tuple(getattr(getattr(model, "native", model), "classes_", ()))
        proba = np.asarray(model.predict_proba(X))
        return Scores(predictions, proba[:, 1] if proba.shape[1] == 2 else proba, classes or None)
    return Scores(predictions)


def _champion(models: ModelRegistry, name: str) -> ModelVersion | None:
    try:
        return models.get_version(f"{name}@champion")
    except NotFoundError:
        return None
