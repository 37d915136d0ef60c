"""Monitors over a deployment's prediction log: defined once, run on demand or on schedule, results kept.

A run reads the window of predictions (with the labels that arrived), tests every input column (and the
prediction) against the reference with :class:`DataDriftDetector`, measures performance per model
version where labels exist, and stores one point per column and metric (``monitor_points``: a time
series per column) and, in the run's summary, the reference-against-current distribution of each tested
column (``distributions``, as :func:`weir.monitoring.report.distributions` draws them). Dataset drift
raises an alert through :class:`AlertPolicy`, damped across runs: it fires when the monitor turns from
healthy to drifting, and again only after ``cooldown_hours``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from weir.errors import NotFoundError, ValidationError
from weir.events import DriftDetected, EventBus
from weir.monitoring.alerts import AlertPolicy
from weir.monitoring.cbpe import CBPE
from weir.monitoring.data_drift import DataDriftDetector
from weir.monitoring.monitor_runs import MonitorRun, performance_over_time, read_points, read_run, read_runs
from weir.monitoring.monitor_spec import MonitorSpec
from weir.monitoring.performance import metric_names, performance, typed_like
from weir.monitoring.report import distributions
from weir.store import Database, PredictionLog
from weir.store.schema import monitor_points, monitor_runs, monitors
from weir.types import JSONDict, json_ready

logger = logging.getLogger(__name__)

INPUT, OUTPUT = "input.", "output."
MAX_LOOKBACK = timedelta(days=366)
MIN_ESTIMATION_ROWS = 100


class Monitors:
    def __init__(
        self,
        db: Database,
        log: PredictionLog,
        *,
        frame_reference: Callable[[str], pd.DataFrame] | None = None,
        bus: EventBus | None = None,
        actor: str = "unknown",
    ) -> None:
        self.db = db
        self.log = log
        self.frame_reference = frame_reference
        self.bus = bus or EventBus()
        self.actor = actor

    # --- definitions -----------------------------------------------------------------------------

    def create(self, spec: MonitorSpec, *, replace: bool = False) -> MonitorSpec:
        now = datetime.now(UTC)
        with self.db.write() as conn:
            exists = conn.execute(sa.select(monitors.c.name).where(monitors.c.name == spec.name)).first()
            if exists and not replace:
                raise ValidationError(f"Monitor {spec.name!r} exists; pass replace=True (--replace) to change it.")
            if exists:
                conn.execute(
                    monitors.update().where(monitors.c.name == spec.name).values(spec=spec.to_dict(), updated_at=now)
                )
            else:
                conn.execute(
                    monitors.insert().values(
                        name=spec.name, spec=spec.to_dict(), created_at=now, created_by=self.actor, updated_at=now
                    )
                )
        return spec

    def get(self, name: str) -> MonitorSpec:
        with self.db.read() as conn:
            row = conn.execute(sa.select(monitors.c.spec).where(monitors.c.name == name)).first()
            known = [r.name for r in conn.execute(sa.select(monitors.c.name).order_by(monitors.c.name))]
        if row is None:
            hint = f"monitors: {', '.join(known)}" if known else "none exists; create one with `weir monitor create`"
            raise NotFoundError(f"Monitor {name!r} does not exist ({hint}).")
        return MonitorSpec.from_dict(row.spec)

    def list_monitors(self) -> list[MonitorSpec]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(monitors.c.spec).order_by(monitors.c.name)).all()
        return [MonitorSpec.from_dict(r.spec) for r in rows]

    def delete(self, name: str) -> None:
        self.get(name)
        with self.db.write() as conn:
            conn.execute(monitors.delete().where(monitors.c.name == name))

    # --- running ---------------------------------------------------------------------------------

    def run(self, name: str, *, now: datetime | None = None) -> MonitorRun:
        spec = self.get(name)
        now = now or datetime.now(UTC)
        current, start, end = self._current(spec, now)
        inputs = _inputs(current)
        raw_reference = self._reference(spec)
        reference = _inputs(raw_reference) if spec.reference.get("window") else raw_reference
        columns = [c for c in (spec.columns or reference.columns) if c in reference.columns and c in inputs.columns]
        if spec.columns is not None:
            missing = [c for c in spec.columns if c not in reference.columns or c not in inputs.columns]
            if missing and not inputs.empty:
                raise ValidationError(
                    f"Monitor {name!r}: column {missing[0]!r} is not in both the reference and the prediction log."
                )
        summary: JSONDict = {"columns": columns, "reference_rows": len(reference)}
        drift = None
        points: list[JSONDict] = []
        if inputs.empty or not columns:
            status = "no data"
            summary["reason"] = (
                "no predictions in the window" if inputs.empty else "no column in common with the reference"
            )
        else:
            detector = DataDriftDetector(
                alpha=spec.alpha,
                correction=spec.correction,
                drift_share=spec.drift_share,
                tests={c: t for c, t in spec.tests.items() if c in columns} or None,
                thresholds={c: t for c, t in spec.thresholds.items() if c in columns} or None,
            )
            drift = detector.fit(reference[columns]).test(inputs[columns])
            status = "drift" if drift.dataset_drift else "ok"
            summary.update(share_drifted=drift.share_drifted, n_drifted=drift.n_drifted, reason=drift.reason)
            points += [_drift_point(c) for c in drift.columns]
        points += self._performance(spec, current)
        points += self._estimated(spec, raw_reference, current, summary)
        alerted = self._alert(spec, status, now, summary)
        if drift is not None:  # what was compared, kept with the run (the alert above does not carry it)
            summary = {**summary, "distributions": distributions(drift, reference[columns], inputs[columns])}
        run_id = self._store(spec, now, start, end, len(current), status, alerted, summary, points)
        if drift is not None and drift.dataset_drift:
            self.bus.emit(
                DriftDetected(
                    source=f"monitor:{name}",
                    statistic=drift.share_drifted,
                    p_value=None,
                    threshold=spec.drift_share,
                    details={"endpoint": spec.endpoint, "drifted": [c.column for c in drift.columns if c.drifted]},
                )
            )
        logger.info("monitor %s: %s over %d predictions", name, status, len(current))
        tested = (reference[columns], inputs[columns]) if drift is not None else (None, None)
        return MonitorRun(name, run_id, now, start, end, len(current), status, alerted, summary, drift, *tested)

    def _current(self, spec: MonitorSpec, now: datetime) -> tuple[pd.DataFrame, datetime | None, datetime]:
        end = now
        if "last_hours" in spec.window:
            start = now - timedelta(hours=float(spec.window["last_hours"]))
            return self.log.read(spec.endpoint, start=start, end=end, with_labels=True, failed=False), start, end
        wanted = int(spec.window["last_n"])
        span = timedelta(days=1)
        while True:  # look back further until the window holds enough predictions
            start = now - span
            frame = self.log.read(spec.endpoint, start=start, end=end, with_labels=True, failed=False)
            if len(frame) >= wanted or span >= MAX_LOOKBACK:
                frame = frame.tail(wanted).reset_index(drop=True)
                first = None if frame.empty else pd.Timestamp(frame["time"].iloc[0]).to_pydatetime()
                return frame, first, end
            span *= 4

    def _reference(self, spec: MonitorSpec) -> pd.DataFrame:
        ((kind, value),) = spec.reference.items()
        if kind == "frame":
            if self.frame_reference is None:
                raise ValidationError(f"Monitor {spec.name!r} uses a training frame, but no feature store is wired.")
            return self.frame_reference(str(value))
        if kind == "window":
            start, end = (datetime.fromisoformat(v) for v in value)
            return self.log.read(spec.endpoint, start=start, end=end, with_labels=True, failed=False)
        path = Path(str(value))
        if not path.is_file():
            raise ValidationError(f"Monitor {spec.name!r}: reference file {path} does not exist.")
        return pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") else pd.read_csv(path)

    def _performance(self, spec: MonitorSpec, current: pd.DataFrame) -> list[JSONDict]:
        if current.empty or "label" not in current or current["label"].isna().all():
            return []
        prediction = f"{OUTPUT}prediction"
        if prediction not in current:
            return []
        points = []
        probas = sorted(c for c in current.columns if c.startswith(f"{OUTPUT}proba_"))
        for version, rows in current.groupby("version", sort=True):
            scores = None
            labels = None
            if spec.task == "classification" and probas:
                classes = [c.removeprefix(f"{OUTPUT}proba_") for c in probas]
                labels = typed_like(classes, rows[prediction])
                scores = rows[probas].to_numpy(dtype=float)
                if scores.shape[1] == 2:
                    scores, labels = scores[:, 1], labels
            measured = performance(
                typed_like(list(rows["label"]), rows[prediction]),
                rows[prediction].to_numpy(),
                scores,
                task=spec.task,  # type: ignore[arg-type]
                labels=labels,
            )
            for metric in metric_names(spec.task):
                value = measured.get(metric)
                if value is None or (isinstance(value, float) and math.isnan(value)):
                    continue
                points.append(
                    {
                        "kind": "performance",
                        "series": metric,
                        "version": int(str(version)),
                        "value": float(value),
                        "p_value": None,
                        "threshold": None,
                        "flagged": False,
                        "detail": {"n": measured["n"]},
                    }
                )
        return points

    def _estimated(
        self, spec: MonitorSpec, reference: pd.DataFrame, current: pd.DataFrame, summary: JSONDict
    ) -> list[JSONDict]:
        """Performance estimated without labels (CBPE) for a binary classifier, when the reference is a
        window of the log with scores and labels: the decay is visible before the labels arrive."""
        probas = sorted(c for c in current.columns if c.startswith(f"{OUTPUT}proba_"))
        if spec.task != "classification" or len(probas) != 2 or current.empty:
            return []
        score = probas[1]
        if score not in reference or "label" not in reference:
            return []
        labelled = reference[reference["label"].notna()]
        if len(labelled) < MIN_ESTIMATION_ROWS:
            summary["estimation"] = f"needs {MIN_ESTIMATION_ROWS} labelled reference rows, has {len(labelled)}"
            return []
        like = labelled[f"{OUTPUT}prediction"] if f"{OUTPUT}prediction" in labelled else labelled["label"]
        (positive,) = typed_like([probas[1].removeprefix(f"{OUTPUT}proba_")], like)
        truth = np.array([v == positive for v in typed_like(list(labelled["label"]), like)], dtype=int)
        try:  # one chunk: the whole window (the bootstrap resamples the reference with replacement)
            cbpe = CBPE(chunk_size=len(current), n_bootstrap=100).fit(labelled[score].to_numpy(float), truth)
            estimate = cbpe.estimate(current[score].to_numpy(float))
        except ValidationError as exc:
            summary["estimation"] = exc.message
            return []
        estimate = estimate[estimate["chunk"] == 0]
        return [
            {"kind": "estimated", "series": str(r["metric"]), "version": None, "value": float(r["estimate"]),
             "p_value": None, "threshold": None, "flagged": bool(r["alert"]),
             "detail": {k: float(r[k]) for k in ("lower", "upper", "lower_threshold", "upper_threshold")}}
            for r in estimate.to_dict(orient="records")
        ]  # fmt: skip

    def _alert(self, spec: MonitorSpec, status: str, now: datetime, summary: JSONDict) -> bool:
        """Damped across runs: the policy's memory is restored from the stored runs."""
        policy = AlertPolicy(cooldown=timedelta(hours=spec.cooldown_hours), bus=self.bus, webhook_url=spec.webhook)
        key = f"monitor:{spec.name}:drift"
        with self.db.read() as conn:
            recent = (
                sa.select(monitor_runs.c.status)
                .where(monitor_runs.c.monitor == spec.name, monitor_runs.c.status != "no data")
                .order_by(monitor_runs.c.id.desc())
                .limit(1)
            )
            last = conn.execute(recent).first()
            last_alert = conn.execute(
                sa.select(sa.func.max(monitor_runs.c.ran_at)).where(
                    monitor_runs.c.monitor == spec.name, monitor_runs.c.alerted.is_(True)
                )
            ).scalar_one_or_none()
        policy.restore(key, failing=last is not None and last.status == "drift", last_alert=last_alert)
        if status == "no data":
            return False
        message = f"{spec.endpoint}: {summary.get('n_drifted', 0)} of {len(summary['columns'])} columns drifted"
        return policy.observe(key, status == "drift", at=now, message=message, details=summary) is not None

    def _store(
        self,
        spec: MonitorSpec,
        now: datetime,
        start: datetime | None,
        end: datetime,
        rows: int,
        status: str,
        alerted: bool,
        summary: JSONDict,
        points: list[JSONDict],
    ) -> int:
        with self.db.write() as conn:
            run_id = int(
                conn.execute(
                    monitor_runs.insert().values(
                        monitor=spec.name, ran_at=now, window_start=start, window_end=end, rows=rows,
                        status=status, alerted=alerted, summary=json_ready(summary),
                    ).returning(monitor_runs.c.id)
                ).scalar_one()
            )  # fmt: skip
            if points:
                conn.execute(
                    monitor_points.insert(),
                    [{"run_id": run_id, "monitor": spec.name, "at": now, **json_ready(p)} for p in points],
                )
        return run_id

    def due(self, now: datetime | None = None) -> list[str]:
        """The scheduled monitors whose last run is at least one period old (or that never ran)."""
        now = now or datetime.now(UTC)
        with self.db.read() as conn:
            last = dict(
                conn.execute(
                    sa.select(monitor_runs.c.monitor, sa.func.max(monitor_runs.c.ran_at)).group_by(
                        monitor_runs.c.monitor
                    )
                ).all()
            )
        due = []
        for spec in self.list_monitors():
            every = spec.every
            previous = last.get(spec.name)
            if every is not None and (previous is None or previous + every <= now):
                due.append(spec.name)
        return due

    def run_due(self, now: datetime | None = None) -> list[MonitorRun]:
        """Run every monitor that is due (what the agent does each tick). A monitor that fails is logged
        and the others still run."""
        now = now or datetime.now(UTC)
        done = []
        for name in self.due(now):
            try:
                done.append(self.run(name, now=now))
            except Exception:  # one broken monitor must not stop the others
                logger.exception("monitor %s failed", name)
        return done

    # --- reading ---------------------------------------------------------------------------------

    def runs(self, name: str, *, limit: int = 100, summary: bool = True) -> list[MonitorRun]:
        """The newest ``limit`` runs, oldest first (``summary=False``: without their heavy summaries)."""
        self.get(name)
        return read_runs(self.db, name, limit=limit, summary=summary)

    def get_run(self, name: str, run_id: int) -> MonitorRun:
        """One stored run of a monitor (its summary holds the distributions it compared)."""
        self.get(name)
        return read_run(self.db, name, run_id)

    def report_html(self, run: MonitorRun, *, title: str) -> str | None:
        """The self-contained HTML report of ``run``: drift per tested column and performance over the
        monitor's stored runs; ``None`` when the run tested nothing."""
        if run.drift is None or run.reference is None or run.current is None:
            return None
        from weir.monitoring.report import drift_report_html

        performance = performance_over_time(self.series(run.monitor))
        return drift_report_html(run.drift, run.reference, run.current, title=title, performance=performance)

    def series(self, name: str, series: str | None = None, *, last_runs: int | None = None) -> pd.DataFrame:
        """The stored points of a monitor (or of one column or metric), oldest first; ``last_runs``: only
        those of its newest runs."""
        self.get(name)
        return read_points(self.db, name, series, last_runs=last_runs)


def _inputs(frame: pd.DataFrame) -> pd.DataFrame:
    """The model inputs of prediction-log rows under their own names, and the prediction."""
    renamed = {c: c.removeprefix(INPUT) for c in frame.columns if c.startswith(INPUT)}
    if f"{OUTPUT}prediction" in frame:
        renamed[f"{OUTPUT}prediction"] = "prediction"
    return frame[list(renamed)].rename(columns=renamed)


def _drift_point(c: Any) -> JSONDict:
    return {
        "kind": "drift",
        "series": c.column,
        "version": None,
        "value": None if math.isnan(c.statistic) else float(c.statistic),
        "p_value": c.adjusted_p_value if c.adjusted_p_value is not None else c.p_value,
        "threshold": c.threshold,
        "flagged": bool(c.drifted),
        "detail": {"test": c.test, "verdict": c.verdict, "n_reference": c.n_reference, "n_current": c.n_current},
    }
