"""``weir demo``: the whole loop on a simulated year of loan applications (:mod:`weir.datasets.loans`).

Features are defined as code and materialised; v1 is trained from a point-in-time training frame,
validated and deployed behind the real server, which reads each application's features online. Then the
year is replayed in 15-day periods: traffic through the server, labels as they arrive (a week late), the
drift monitor, and the agent's tick (triggers and rollouts). The downturn (a covariate shift) is detected
and retraining is tried but the gate refuses a candidate that is not better; the change in who defaults
(a concept change) shows in live performance, the retrained model passes the gate on paired statistics
and is rolled out through shadow and canary steps to champion. A timeline with the figures and the HTML
monitoring report follow; then the server keeps running until interrupted (``--no-serve`` exits).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from weir.cli.context import console
from weir.cli.demo_repo import write_repo
from weir.datasets import LOAN_FEATURES, LoanData, simulate_loans

if TYPE_CHECKING:
    import httpx

    from weir.app import Workspace
    from weir.training.agent import Tick

ENDPOINT = MODEL = "loans"
MONITOR = "loans-drift"
ESTIMATE = "loans-estimate"  # performance without labels, from the first period served (once it is labelled)
DAYS, PER_DAY, SHIFT_DAY, CONCEPT_DAY, LABEL_DELAY = 360, 40, 150, 210, 7
FIRST_TRAINING_DAY, PERIOD_DAYS = 120, 15
COOLDOWN_HOURS = 0.001
POLICY = {"steps": [25, 50, 100], "min_seconds": 0, "min_requests": 150, "max_divergence": 1.0, "min_agreement": 0.6}


@dataclass
class Timeline:
    """What happened, by simulated date: the demo's story with its figures."""

    rows: list[tuple[str, str, str]] = field(default_factory=list)
    periods: list[tuple[str, str, str]] = field(default_factory=list)  # date, drift, live ROC AUC per version
    drift_detected: datetime | None = None

    def add(self, when: datetime, what: str, figures: str = "") -> None:
        self.rows.append((f"{when:%Y-%m-%d}", what, figures))

    def table(self) -> Table:
        table = Table("simulated date", "what happened", "figures", title="weir demo: one year of loans")
        for row in self.rows:
            table.add_row(*row)
        return table

    def monitoring(self) -> Table:
        table = Table(
            "period ending",
            "drifted columns",
            "live ROC AUC by version (labels so far)",
            title=f"monitor {MONITOR}, after each {PERIOD_DAYS}-day period",
        )
        for row in self.periods:
            table.add_row(*row)
        return table


def run_demo(ws: Workspace) -> Timeline:
    """Run the loop; returns the timeline (also printed)."""
    started = time.perf_counter()
    data = simulate_loans(
        days=DAYS, per_day=PER_DAY, shift_day=SHIFT_DAY, concept_day=CONCEPT_DAY, label_delay_days=LABEL_DELAY, seed=0
    )
    folder = ws.settings.home / "demo"
    write_repo(folder, features=LOAN_FEATURES, train_days=30, holdout_days=10, policy=POLICY)
    source = data.applications.assign(
        event_timestamp=data.applications["event_timestamp"].astype("datetime64[us, UTC]")
    )
    source.to_parquet(folder / "applications.parquet", index=False)
    timeline = Timeline()
    now = data.start + timedelta(days=FIRST_TRAINING_DAY)
    _known_labels(data, now).to_parquet(folder / "labels.parquet", index=False)
    ws.features.apply(folder / "features.py")
    ws.features.materialize(None, now)
    timeline.add(
        data.start,
        f"{FIRST_TRAINING_DAY} days of history",
        f"{(data.applications['event_timestamp'] < now).sum():,} applications",
    )
    _first_model(ws, folder, now, timeline)
    app = ws.server_app()
    try:
        asyncio.run(_replay(ws, app, data, folder, timeline))
    finally:
        app.state.service.close()
    report = folder / "monitoring-report.html"
    _write_report(ws, report)
    console.print(timeline.monitoring())
    console.print(timeline.table())
    console.print(_summary(ws, data, timeline, report, time.perf_counter() - started))
    return timeline


def _known_labels(data: LoanData, now: datetime) -> pd.DataFrame:
    labels = data.labels[data.labels["label_timestamp"] < now]
    return labels.assign(event_timestamp=labels["event_timestamp"].astype("datetime64[us, UTC]")).reset_index(drop=True)


def _first_model(ws: Workspace, folder: Any, now: datetime, timeline: Timeline) -> None:
    from weir.monitoring.monitor_spec import MonitorSpec
    from weir.training.jobs import load_jobs, run_job
    from weir.training.triggers import TriggerSpec

    job = load_jobs(folder / "jobs.py")["loans"]
    result = run_job(job, ws.features, ws.models)  # no deployment yet: nothing to roll out
    version = result.version
    ws.models.set_alias(MODEL, "champion", version.version, reason="first model: passed the gate's absolute rules")
    ws.deployments.deploy(
        ENDPOINT, f"{MODEL}@champion", options={"feature_service": "loan_features"}, reason="demo: first model"
    )
    timeline.add(
        now,
        f"{version.ref} trained, validated, deployed as champion",
        f"holdout ROC AUC {result.metrics['roc_auc']:.3f}, accuracy {result.metrics['accuracy']:.3f}",
    )
    fingerprint = version.lineage["data_fingerprint"]
    spec = MonitorSpec(
        MONITOR, ENDPOINT, reference={"frame": fingerprint}, window={"last_n": 600}, columns=LOAN_FEATURES
    )
    ws.monitors.create(spec, replace=True)
    jobs = str(folder / "jobs.py")
    ws.triggers.add(TriggerSpec("retrain-on-drift", jobs, "loans", "drift", monitor=MONITOR), replace=True)
    # A simulated year passes in about a minute here, so the decay trigger's cool-down is seconds, not hours.
    ws.triggers.add(
        TriggerSpec(
            "retrain-on-decay",
            jobs,
            "loans",
            "performance",
            monitor=MONITOR,
            metric="roc_auc",
            margin=0.08,
            model=MODEL,
            cooldown_hours=COOLDOWN_HOURS,
        ),
        replace=True,
    )


async def _replay(ws: Workspace, app: Any, data: LoanData, folder: Any, timeline: Timeline) -> None:
    import httpx

    service = app.state.service
    agent = ws.agent()
    agent.acquire()
    first = data.start + timedelta(days=FIRST_TRAINING_DAY)
    periods = [first + timedelta(days=d) for d in range(0, DAYS - FIRST_TRAINING_DAY + 1, PERIOD_DAYS)]
    total = int((data.applications["event_timestamp"] >= first).sum())
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://weir") as client:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as bar:
                task = bar.add_task("replaying the year through the server", total=total)
                first_served: list[datetime] = []
                for n, (start, end) in enumerate(itertools.pairwise(periods)):
                    if n < 2:  # the first period's requests, by wall-clock time in the log
                        first_served.append(datetime.now(UTC))
                    ws.features.materialize(start, end)
                    apps, _ = data.between(start, end)
                    bar.update(task, description=f"{start:%Y-%m-%d}: serving {len(apps)} applications")
                    for chunk in range(0, len(apps), 150):
                        ids = apps["application_id"].iloc[chunk : chunk + 150].tolist()
                        await _serve(client, ids)
                        bar.advance(task, len(ids))
                        service.predictions.flush()
                        _note(agent.tick(), end, ws, timeline)
                        service.refresh()
                    await _labels(client, data, start, end, folder)
                    if n == 1:  # the first period's labels are all in (a week late)
                        _estimate_monitor(ws, first_served)
                    _monitor(ws, end, timeline)
                    _note(agent.tick(), end, ws, timeline)
                    service.refresh()
    finally:
        agent.lease.release()


async def _serve(client: httpx.AsyncClient, ids: list[str]) -> None:
    for aid in ids:
        body = {"id": aid, "route_key": aid, "entities": [{"application_id": aid}]}
        response = await client.post(f"/v1/endpoints/{ENDPOINT}/predict", json=body)
        response.raise_for_status()


async def _labels(client: httpx.AsyncClient, data: LoanData, start: datetime, end: datetime, folder: Any) -> None:
    """Labels that arrive within [start, end): back to the server by request id, and into the job's file."""
    labels = data.labels
    arrived = labels[(labels["label_timestamp"] >= start) & (labels["label_timestamp"] < end)]
    served = arrived[arrived["event_timestamp"] >= data.start + timedelta(days=FIRST_TRAINING_DAY)]
    if len(served):
        body = {
            "labels": [
                {"id": a, "label": int(y)} for a, y in zip(served["application_id"], served["defaulted"], strict=True)
            ]
        }
        (await client.post(f"/v1/endpoints/{ENDPOINT}/feedback", json=body)).raise_for_status()
    _known_labels(data, end).to_parquet(folder / "labels.parquet", index=False)


def _estimate_monitor(ws: Workspace, window: list[datetime]) -> None:
    """A second monitor whose reference is the first period served, scores and labels: each run estimates
    ROC AUC, accuracy and F1 without labels (CBPE) beside what the labels that came back show."""
    from weir.monitoring.monitor_spec import MonitorSpec

    reference = {"window": [at.isoformat() for at in window]}
    spec = MonitorSpec(ESTIMATE, ENDPOINT, reference=reference, window={"last_n": 600}, columns=LOAN_FEATURES)
    ws.monitors.create(spec, replace=True)


def _monitor(ws: Workspace, when: datetime, timeline: Timeline) -> None:
    if any(m.name == ESTIMATE for m in ws.monitors.list_monitors()):
        ws.monitors.run(ESTIMATE)
    run = ws.monitors.run(MONITOR)
    points = ws.monitors.series(MONITOR)
    newest = points[
        (points["kind"] == "performance") & (points["series"] == "roc_auc") & (points["at"] == points["at"].max())
    ]
    live = ", ".join(f"v{int(p.version)} {p.value:.3f}" for p in newest.itertuples() if p.value == p.value)
    drifted = run.summary.get("n_drifted", 0)
    if run.status == "drift" and timeline.drift_detected is None:
        timeline.drift_detected = when
        names = ", ".join(c.column for c in run.drift.columns if c.drifted) if run.drift else ""
        timeline.add(when, "monitor: data drift detected", f"{drifted} of {len(LOAN_FEATURES)} columns ({names})")
    timeline.periods.append((f"{when:%Y-%m-%d}", f"{drifted} of {len(LOAN_FEATURES)}", live or "-"))


def _note(done: Tick, when: datetime, ws: Workspace, timeline: Timeline) -> None:
    for firing in done.firings:
        if firing.status != "succeeded" or firing.version is None:
            timeline.add(when, f"trigger {firing.trigger}: retraining {firing.status}", firing.detail or firing.reason)
            continue
        gate = next(r for r in ws.models.validations(firing.version) if r.name == "gate")
        rule: dict[str, Any] = next(
            (
                c
                for c in gate.evidence.get("checks", [])
                if c.get("name", "").startswith("better roc_auc") and c.get("slice") is None
            ),
            {},
        )
        verdict = "passed the gate" if gate.passed else "refused by the gate"
        why = "drift found by the monitor" if firing.trigger == "retrain-on-drift" else firing.reason.split(" on ")[0]
        started = [r for r in ws.rollouts.list_rollouts(ENDPOINT) if r.candidate == firing.version]
        then = f"; rollout {started[0].id} starts: shadow" if started else ""
        timeline.add(when, f"{firing.trigger} ({why}) → {firing.version} {verdict}{then}", rule.get("reason", ""))
    for rollout in done.rollouts:
        where = {"canary": f"canary {rollout.weight:g} %", "done": rollout.state}.get(rollout.phase, rollout.phase)
        last = ws.rollouts.steps(rollout.id)[-1]
        judged = "shadow" if last["phase"] == "shadow" else f"canary {last['weight']:g} %"
        shown = ", ".join(_measured(m) for m in last.get("measurements", []))
        timeline.add(when, f"rollout {rollout.id}: {judged} {last['status']} → {where}", shown)


def _measured(m: dict[str, Any]) -> str:
    mark = {"Successful": "✓", "Failed": "✗"}.get(m["status"], "…")
    value = m["value"]
    if m["metric"] == "live_accuracy" and m["status"] == "Inconclusive":
        return f"live_accuracy … ({m['n']} labels so far)"
    if value is None:
        return f"{m['metric']} {mark}"
    shown = (
        f"{value:.2f} ms"
        if m["metric"].startswith("latency")
        else f"{value:.3g}"
        if "psi" in m["metric"]
        else f"{value:.1%}"
    )
    return f"{m['metric']} {shown} {mark}"


def _write_report(ws: Workspace, path: Any) -> None:
    from weir.monitoring import write_report

    run = ws.monitors.run(MONITOR)
    html = ws.monitors.report_html(run, title=f"weir demo: monitor {MONITOR} over the last {run.rows} predictions")
    if html is not None:
        write_report(path, html)


def _summary(ws: Workspace, data: LoanData, timeline: Timeline, report: Any, seconds: float) -> Panel:
    champion = ws.models.get_version(f"{MODEL}@champion")
    audit = ws.models.audit.verify()
    detected = f"{timeline.drift_detected:%Y-%m-%d}" if timeline.drift_detected else "never"
    lines = [
        f"covariate shift began {data.shift_at:%Y-%m-%d}; drift detected {detected}",
        f"concept change began {data.concept_at:%Y-%m-%d}",
        f"champion now {champion.ref} (holdout ROC AUC {champion.metrics.get('roc_auc', float('nan')):.3f})",
        f"audit log: {audit.entries} entries, chain {'intact' if audit.ok else 'BROKEN'}",
        f"monitoring report: {report}",
        f"finished in {seconds:.0f} s",
    ]
    return Panel.fit("\n".join(lines), title="weir demo")
