"""Stored monitor runs and their points, as read back: a run list (with or without the summaries, which hold
the compared distributions and are heavy), one run, and the points of a monitor's newest runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from weir.errors import NotFoundError
from weir.monitoring.data_drift import DataDriftResult
from weir.store import Database
from weir.store.schema import monitor_points, monitor_runs
from weir.types import JSONDict

POINT_COLUMNS = ["at", "kind", "series", "version", "value", "p_value", "threshold", "flagged", "detail"]


@dataclass(frozen=True)
class MonitorRun:
    monitor: str
    run_id: int
    ran_at: datetime
    window_start: datetime | None
    window_end: datetime | None
    rows: int
    status: str  # drift | ok | no data
    alerted: bool
    summary: JSONDict
    drift: DataDriftResult | None
    reference: pd.DataFrame | None = None  # the tested columns, for a report (not stored)
    current: pd.DataFrame | None = None

    def to_dict(self) -> JSONDict:
        return {
            "monitor": self.monitor,
            "run_id": self.run_id,
            "ran_at": self.ran_at.isoformat(),
            "window_start": None if self.window_start is None else self.window_start.isoformat(),
            "window_end": None if self.window_end is None else self.window_end.isoformat(),
            "rows": self.rows,
            "status": self.status,
            "alerted": self.alerted,
            "summary": self.summary,
        }


_LIGHT = [c for c in monitor_runs.c if c.name != "summary"]


def read_runs(db: Database, name: str, *, limit: int = 100, summary: bool = True) -> list[MonitorRun]:
    """The newest ``limit`` runs of monitor ``name``, oldest first; ``summary=False`` leaves the summaries
    unread (``{}``)."""
    columns = list(monitor_runs.c) if summary else _LIGHT
    query = sa.select(*columns).where(monitor_runs.c.monitor == name).order_by(monitor_runs.c.id.desc()).limit(limit)
    with db.read() as conn:
        rows = conn.execute(query).all()
    return [_run(name, r) for r in reversed(rows)]


def read_run(db: Database, name: str, run_id: int) -> MonitorRun:
    with db.read() as conn:
        r = conn.execute(
            sa.select(monitor_runs).where(monitor_runs.c.monitor == name, monitor_runs.c.id == run_id)
        ).first()
    if r is None:
        raise NotFoundError(f"Monitor {name!r} has no run {run_id}; `weir monitor history {name}` lists them.")
    return _run(name, r)


def read_points(db: Database, name: str, series: str | None = None, *, last_runs: int | None = None) -> pd.DataFrame:
    """The stored points of monitor ``name`` (or of one column or metric), oldest first; ``last_runs``: only
    those of its newest runs."""
    query = sa.select(monitor_points).where(monitor_points.c.monitor == name)
    if series is not None:
        query = query.where(monitor_points.c.series == series)
    if last_runs is not None:
        newest = (
            sa.select(monitor_runs.c.id)
            .where(monitor_runs.c.monitor == name)
            .order_by(monitor_runs.c.id.desc())
            .limit(last_runs)
            .subquery()
        )
        query = query.where(monitor_points.c.run_id >= sa.select(sa.func.min(newest.c.id)).scalar_subquery())
    with db.read() as conn:
        rows = conn.execute(query.order_by(monitor_points.c.at, monitor_points.c.id)).all()
    return pd.DataFrame([{c: getattr(r, c) for c in POINT_COLUMNS} for r in rows], columns=POINT_COLUMNS)


def performance_over_time(points: pd.DataFrame) -> pd.DataFrame | None:
    """Stored performance points as one row per run (``window``) and one column per metric (the mean
    over versions), for the report's chart; None without any."""
    performance = points[points["kind"] == "performance"]
    if performance.empty:
        return None
    table = performance.pivot_table(index="at", columns="series", values="value", aggfunc="mean")
    return table.reset_index().rename(columns={"at": "window"})


def _run(name: str, r: Any) -> MonitorRun:
    summary = getattr(r, "summary", None) or {}
    return MonitorRun(name, r.id, r.ran_at, r.window_start, r.window_end, r.rows, r.status, r.alerted, summary, None)
