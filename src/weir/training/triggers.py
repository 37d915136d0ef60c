"""Retraining triggers: when a job runs, and the guards that stop retrain storms.

Kinds: ``schedule`` (a cron expression), ``drift`` (a monitor's newest run drifted), ``performance`` (a
monitor's newest point of a metric fell below a threshold, or below the version's own registered metric
by a margin), ``labels`` (enough newly labelled predictions on an endpoint), ``manual`` (only run-now).

Guards, all in the metadata store so that several agents and restarts agree: at most one run in flight
per job (a run left ``running`` by a dead process for more than ``STALE_RUN`` is marked abandoned); a
trigger does not fire again within its cool-down, and evidence it already acted on (a monitor run or
point older than its last firing) never fires it twice. Paused triggers do not fire; run-now does,
within the in-flight guard.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from weir.errors import ConflictError, NotFoundError, ValidationError
from weir.registry import ModelRegistry
from weir.store import Database, PredictionLog
from weir.store.schema import monitor_points, monitor_runs, training_runs, training_triggers
from weir.training.cron import Cron
from weir.training.paired import HIGHER_IS_BETTER
from weir.types import JSONDict

logger = logging.getLogger(__name__)

KINDS = ("schedule", "drift", "performance", "labels", "manual")
STALE_RUN = timedelta(hours=6)
LABEL_LOOKBACK = timedelta(days=90)  # labels for predictions older than this before the last run are not counted


@dataclass(frozen=True)
class TriggerSpec:
    name: str
    job_file: str
    job: str
    kind: str
    cron: str | None = None
    monitor: str | None = None
    metric: str | None = None
    below: float | None = None
    margin: float | None = None
    model: str | None = None
    endpoint: str | None = None
    min_labels: int | None = None
    cooldown_hours: float = 6.0

    def __post_init__(self) -> None:
        where = f"Trigger {self.name!r}"
        if not self.name or not all(c.isalnum() or c in "_.-" for c in self.name) or len(self.name) > 128:
            raise ValidationError(f"Trigger name {self.name!r} is invalid: use letters, digits, '_', '.' or '-'.")
        if self.kind not in KINDS:
            raise ValidationError(f"{where}: kind {self.kind!r} is not one of {', '.join(KINDS)}.")
        needs = {
            "schedule": ("cron",),
            "drift": ("monitor",),
            "performance": ("monitor", "metric"),
            "labels": ("endpoint", "min_labels"),
            "manual": (),
        }[self.kind]
        missing = [n for n in needs if getattr(self, n) is None]
        if missing:
            raise ValidationError(f"{where}: a {self.kind} trigger needs {', '.join(missing)}.")
        if self.kind == "schedule":
            Cron(str(self.cron)).next_after(datetime(2000, 1, 1, tzinfo=UTC))  # refuses one that never matches
        if self.kind == "performance":
            if (self.below is None) == (self.margin is None):
                raise ValidationError(f"{where}: give exactly one of below (a threshold) and margin (vs the version).")
            if self.margin is not None and self.model is None:
                raise ValidationError(f"{where}: a margin compares with a registered version: give model.")
        if self.cooldown_hours < 0:
            raise ValidationError(f"{where}: cooldown_hours must not be negative.")

    def to_dict(self) -> JSONDict:
        return asdict(self)


@dataclass(frozen=True)
class Firing:
    trigger: str
    job: str
    reason: str
    status: str  # succeeded | failed | skipped
    version: str | None = None
    detail: str = ""

    def to_dict(self) -> JSONDict:
        return asdict(self)


Runner = Callable[[TriggerSpec], str]
"""Runs a trigger's job and returns the registered version's reference (raises on failure)."""
Busy = Callable[[TriggerSpec], str | None]
"""Why a trigger's job must wait now (such as a rollout of its last candidate in progress), or None."""


class Triggers:
    def __init__(
        self,
        db: Database,
        log: PredictionLog,
        models: ModelRegistry,
        runner: Runner,
        *,
        busy: Busy | None = None,
        actor: str = "unknown",
    ) -> None:
        self.db = db
        self.log = log
        self.models = models
        self.runner = runner
        self.busy = busy
        self.actor = actor

    # --- definitions -----------------------------------------------------------------------------

    def add(self, spec: TriggerSpec, *, replace: bool = False) -> TriggerSpec:
        with self.db.write() as conn:
            exists = conn.execute(
                sa.select(training_triggers.c.name).where(training_triggers.c.name == spec.name)
            ).first()
            if exists and not replace:
                raise ConflictError(f"Trigger {spec.name!r} exists; pass replace=True (--replace) to change it.")
            if exists:
                conn.execute(
                    training_triggers.update().where(training_triggers.c.name == spec.name).values(spec=spec.to_dict())
                )
            else:
                conn.execute(
                    training_triggers.insert().values(
                        name=spec.name, spec=spec.to_dict(), paused=False, created_at=datetime.now(UTC),
                        created_by=self.actor,
                    )
                )  # fmt: skip
        return spec

    def get(self, name: str) -> tuple[TriggerSpec, bool]:
        with self.db.read() as conn:
            row = conn.execute(sa.select(training_triggers).where(training_triggers.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"Trigger {name!r} does not exist; `weir triggers list` shows them.")
        return TriggerSpec(**row.spec), bool(row.paused)

    def list_triggers(self) -> list[tuple[TriggerSpec, bool]]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(training_triggers).order_by(training_triggers.c.name)).all()
        return [(TriggerSpec(**r.spec), bool(r.paused)) for r in rows]

    def set_paused(self, name: str, paused: bool) -> None:
        self.get(name)
        with self.db.write() as conn:
            conn.execute(training_triggers.update().where(training_triggers.c.name == name).values(paused=paused))

    # --- deciding --------------------------------------------------------------------------------

    def reason(self, spec: TriggerSpec, now: datetime) -> str | None:
        """Why this trigger fires now, or None."""
        with self.db.read() as conn:
            since = self._last_fired(conn, spec.name)
            job_ran = self._last_job_run(conn, spec.job)
            created = conn.execute(
                sa.select(training_triggers.c.created_at).where(training_triggers.c.name == spec.name)
            ).scalar_one_or_none()
        if spec.kind == "manual":
            return None
        # Evidence (and a schedule's period) counts from the job's last run, whichever trigger started it.
        seen = max((t for t in (since, job_ran) if t is not None), default=None)
        if spec.kind == "schedule":
            due = Cron(str(spec.cron)).next_after(seen or created or now)
            return f"schedule {spec.cron!r} was due at {due.isoformat()}" if due <= now else None
        if since is not None and now - since < timedelta(hours=spec.cooldown_hours):
            return None
        if spec.kind == "drift":
            return self._drift(spec, seen)
        if spec.kind == "performance":
            return self._performance(spec, seen)
        return self._labels(spec, seen, now)

    def _drift(self, spec: TriggerSpec, since: datetime | None) -> str | None:
        query = sa.select(monitor_runs).where(monitor_runs.c.monitor == spec.monitor).order_by(monitor_runs.c.id.desc())
        with self.db.read() as conn:
            latest = conn.execute(query.limit(1)).first()
        if latest is None or latest.status != "drift" or (since is not None and latest.ran_at <= since):
            return None
        drifted = latest.summary.get("n_drifted")
        return f"monitor {spec.monitor!r} found drift at {latest.ran_at.isoformat()} ({drifted} columns)"

    def _performance(self, spec: TriggerSpec, since: datetime | None) -> str | None:
        """The newest run's points of the metric, every version (a healthy canary must not hide a decaying
        primary); decay is below the limit, or above it for metrics where lower is better."""
        newest = sa.select(sa.func.max(monitor_points.c.at)).where(
            monitor_points.c.monitor == spec.monitor,
            monitor_points.c.kind == "performance",
            monitor_points.c.series == spec.metric,
        )
        with self.db.read() as conn:
            at = conn.execute(newest).scalar_one_or_none()
            if at is None or (since is not None and at <= since):
                return None
            points = conn.execute(
                sa.select(monitor_points).where(
                    monitor_points.c.monitor == spec.monitor,
                    monitor_points.c.kind == "performance",
                    monitor_points.c.series == spec.metric,
                    monitor_points.c.at == at,
                )
            ).all()
        higher = HIGHER_IS_BETTER.get(str(spec.metric), True)
        if spec.model is not None:  # only the live champion: a retired version's labels still arrive for a while
            try:
                live = self.models.get_version(f"{spec.model}@champion").version
            except NotFoundError:
                live = None
            points = [p for p in points if live is None or p.version == live]
        for point in points:
            if point.value is None:
                continue
            if spec.below is not None:
                limit, what = spec.below, f"the limit {spec.below:g}"
            else:
                try:
                    baseline = self.models.get_version(f"{spec.model}/{point.version}").metrics.get(str(spec.metric))
                except NotFoundError:
                    continue
                if baseline is None:
                    continue
                margin = float(spec.margin or 0)
                limit = float(baseline) - margin if higher else float(baseline) + margin
                what = f"version {point.version}'s {baseline:.4g} {'-' if higher else '+'} {margin:g}"
            if (point.value < limit) if higher else (point.value > limit):
                direction = "fell below" if higher else "rose above"
                return (
                    f"{spec.metric} {point.value:.4g} (version {point.version}) on {spec.monitor!r} {direction} {what}"
                )
        return None

    def _labels(self, spec: TriggerSpec, since: datetime | None, now: datetime) -> str | None:
        """Labels that arrived since the job's last run (by when the label came, not the prediction)."""
        lookback = None if since is None else since - LABEL_LOOKBACK
        frame = self.log.read(str(spec.endpoint), start=lookback, end=now, with_labels=True, columns=["request_id"])
        arrived = frame["label"].notna()
        if since is not None and len(frame):
            arrived &= pd.to_datetime(frame["label_time"], utc=True) > since
        count = int(arrived.sum()) if len(frame) else 0
        if count < int(spec.min_labels or 0):
            return None
        return f"{count} newly labelled predictions on {spec.endpoint!r} (at least {spec.min_labels})"

    # --- firing ----------------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> list[Firing]:
        """Fire every unpaused trigger whose reason holds now (the agent calls this periodically)."""
        now = now or datetime.now(UTC)
        fired: list[Firing] = []
        for spec, paused in self.list_triggers():
            # Checked one after another: once a trigger ran the job, the evidence of the others is older
            # than that run, so one tick retrains a job once however many of its triggers held.
            try:
                why = None if paused else self.reason(spec, now)
                wait = None if why is None or self.busy is None else self.busy(spec)
            except Exception:  # one broken trigger must not stop the others
                logger.exception("trigger %s could not be checked", spec.name)
                continue
            if wait is not None:  # the evidence stays: it fires once the job may run again
                logger.info("trigger %s holds (%s) but waits: %s", spec.name, why, wait)
            elif why is not None:
                fired.append(self.fire(spec, why, now=now))
        return fired

    def run_now(self, name: str, *, reason: str = "run now") -> Firing:
        spec, _ = self.get(name)
        return self.fire(spec, f"manual: {reason}")

    def fire(self, spec: TriggerSpec, reason: str, *, now: datetime | None = None) -> Firing:
        """Run the trigger's job unless one is in flight; the run and its outcome are recorded."""
        now = now or datetime.now(UTC)
        with self.db.write() as conn:  # the check and the claim in one transaction: two agents cannot both run
            running = conn.execute(
                sa.select(training_runs.c.id, training_runs.c.started_at).where(
                    training_runs.c.job == spec.job, training_runs.c.status == "running"
                )
            ).all()
            for run in running:
                if now - run.started_at > STALE_RUN:
                    conn.execute(training_runs.update().where(training_runs.c.id == run.id).values(
                        status="abandoned", finished_at=now))  # fmt: skip
                else:
                    logger.info("trigger %s: job %s is already running (run %d); skipped", spec.name, spec.job, run.id)
                    return Firing(spec.name, spec.job, reason, "skipped", detail=f"run {run.id} is in flight")
            run_id = int(
                conn.execute(
                    training_runs.insert()
                    .values(job=spec.job, trigger=spec.name, reason=reason, status="running", started_at=now, detail={})
                    .returning(training_runs.c.id)
                ).scalar_one()
            )
        logger.info("trigger %s fired: %s", spec.name, reason)
        try:
            version = self.runner(spec)
        except Exception as exc:  # the job's own failure: recorded, never raised into the agent
            logger.exception("job %s failed (trigger %s)", spec.job, spec.name)
            self._finish(run_id, "failed", None, {"error": f"{type(exc).__name__}: {exc}"})
            return Firing(spec.name, spec.job, reason, "failed", detail=f"{type(exc).__name__}: {exc}")
        self._finish(run_id, "succeeded", version, {})
        return Firing(spec.name, spec.job, reason, "succeeded", version)

    def _finish(self, run_id: int, status: str, version: str | None, detail: JSONDict) -> None:
        with self.db.write() as conn:
            conn.execute(
                training_runs.update().where(training_runs.c.id == run_id, training_runs.c.status == "running").values(
                    status=status, finished_at=datetime.now(UTC), version=version, detail=detail
                )
            )  # fmt: skip

    def _last_fired(self, conn: Connection, trigger: str) -> datetime | None:
        value: datetime | None = conn.execute(
            sa.select(sa.func.max(training_runs.c.started_at)).where(training_runs.c.trigger == trigger)
        ).scalar_one_or_none()
        return value

    def _last_job_run(self, conn: Connection, job: str) -> datetime | None:
        value: datetime | None = conn.execute(
            sa.select(sa.func.max(training_runs.c.started_at)).where(
                training_runs.c.job == job, training_runs.c.status != "abandoned"
            )
        ).scalar_one_or_none()
        return value

    def runs(self, job: str | None = None, limit: int = 50) -> list[JSONDict]:
        query = sa.select(training_runs).order_by(training_runs.c.id.desc()).limit(limit)
        if job is not None:
            query = query.where(training_runs.c.job == job)
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return [_run_dict(r) for r in reversed(rows)]


def _run_dict(row: Any) -> JSONDict:
    return {
        "id": row.id,
        "job": row.job,
        "trigger": row.trigger,
        "reason": row.reason,
        "status": row.status,
        "started_at": row.started_at.isoformat(),
        "finished_at": None if row.finished_at is None else row.finished_at.isoformat(),
        "version": row.version,
        "detail": row.detail,
    }
