"""Stored monitor runs read back: the newest runs' points only, and run lists without their summaries."""

from __future__ import annotations

from datetime import timedelta

import weir
from tests.monitoring.test_monitors import NOW, log_predictions, window_spec
from tests.monitoring.test_monitors import ws as ws  # the fixture: a workspace in a temporary home


def test_the_newest_runs_points_and_a_light_run_list(ws: weir.Workspace) -> None:
    monitors = ws.monitors
    monitors.create(window_spec())
    log_predictions(ws, start=NOW - timedelta(hours=1, minutes=30), n=300, shift=0.0, version=1, seed=2)
    done = [monitors.run("churn-drift", now=NOW + timedelta(minutes=i)) for i in range(3)]
    every = monitors.series("churn-drift")
    newest = monitors.series("churn-drift", last_runs=2)
    assert sorted(set(every["at"])) == [r.ran_at for r in done]
    assert sorted(set(newest["at"])) == [r.ran_at for r in done[1:]]
    assert len(newest) == len(every[every["at"] != done[0].ran_at])
    light = monitors.runs("churn-drift", limit=2, summary=False)
    assert [r.run_id for r in light] == [r.run_id for r in done[1:]] and all(r.summary == {} for r in light)
    full = monitors.runs("churn-drift", limit=2)
    assert [r.summary["distributions"].keys() for r in full] == [r.summary["distributions"].keys() for r in done[1:]]
    assert [(r.status, r.alerted, r.ran_at) for r in light] == [(r.status, r.alerted, r.ran_at) for r in full]
