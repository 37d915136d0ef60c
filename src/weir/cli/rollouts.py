"""``weir rollouts``: progressive rollout by hand (start, watch, pause, resume, promote, abort), and
``weir agent``, which runs monitors, triggers and rollouts by itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from weir.cli.context import console, print_json, state
from weir.errors import ValidationError

if TYPE_CHECKING:
    from weir.training.agent import Tick
    from weir.training.rollouts import Rollout

app = typer.Typer(
    help="Progressive rollouts: shadow, canary steps, promotion, automatic rollback.", no_args_is_help=True
)
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
RolloutId = Annotated[int, typer.Argument(help="The rollout's id (`weir rollouts list`).")]
Reason = Annotated[str, typer.Option(help="Why (kept in the audit log).")]


def _policy(value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    text = Path(value).read_text() if not value.lstrip().startswith("{") and Path(value).is_file() else value
    try:
        policy = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"--policy is neither a JSON object nor a JSON file: {exc}.", field="policy") from exc
    if not isinstance(policy, dict):
        raise ValidationError("--policy must be a JSON object, such as '{\"steps\": [10, 50, 100]}'.", field="policy")
    return policy


def _line(r: Rollout) -> str:
    where = "shadow" if r.phase == "shadow" else f"{r.weight:g} %" if r.phase == "canary" else r.phase
    return f"rollout {r.id}: {r.candidate} on {r.endpoint}, {r.state} ({where})" + (f": {r.reason}" if r.reason else "")


@app.command("start")
def start(
    ctx: typer.Context,
    endpoint: Annotated[str, typer.Argument(help="The endpoint.")],
    candidate: Annotated[str, typer.Argument(help="The version to roll out: model/version or model@alias.")],
    policy: Annotated[str | None, typer.Option(help="The policy as JSON, or a JSON file (docs/training.md).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Roll out a version without a passed validation.")] = False,
    reason: Reason = "",
    as_json: JsonOption = False,
) -> None:
    """Start rolling a validated version out: shadow, then canary steps, then promotion."""
    rollout = state(ctx).workspace().rollouts.start(endpoint, candidate, _policy(policy), force=force, reason=reason)
    print_json(rollout.to_dict()) if as_json else console.print(_line(rollout))


@app.command("list")
def list_rollouts(
    ctx: typer.Context,
    endpoint: Annotated[str | None, typer.Option(help="Only this endpoint.")] = None,
    active: Annotated[bool, typer.Option("--active", help="Only running or paused rollouts.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Rollouts, newest first."""
    found = state(ctx).workspace().rollouts.list_rollouts(endpoint, active=active)
    if as_json:
        print_json([r.to_dict() for r in found])
        return
    table = Table("id", "endpoint", "candidate", "state", "phase", "weight %", "failures", "updated")
    for r in found:
        table.add_row(
            str(r.id),
            r.endpoint,
            r.candidate,
            r.state,
            r.phase,
            f"{r.weight:g}",
            str(r.failures),
            f"{r.updated_at:%Y-%m-%d %H:%M:%S}",
        )
    console.print(table)


@app.command("show")
def show(ctx: typer.Context, rollout_id: RolloutId, as_json: JsonOption = False) -> None:
    """A rollout and every analysis of it: each measurement Successful, Failed or Inconclusive."""
    rollouts = state(ctx).workspace().rollouts
    rollout, steps = rollouts.get(rollout_id), rollouts.steps(rollout_id)
    if as_json:
        print_json({**rollout.to_dict(), "steps": steps})
        return
    console.print(_line(rollout))
    table = Table("at", "phase", "weight %", "verdict", "action", "measurements")
    for s in steps:
        shown = "; ".join(f"{m['metric']} {m['status']}: {m['detail']}" for m in s.get("measurements", []))
        table.add_row(
            s["at"][11:19], s["phase"], f"{s['weight']:g}", s["status"], s["action"], shown or s.get("reason", "")
        )
    console.print(table)


def _act(ctx: typer.Context, action: str, rollout_id: int, reason: str) -> None:
    rollouts = state(ctx).workspace().rollouts
    console.print(_line(getattr(rollouts, action)(rollout_id, reason=reason)))


@app.command("pause")
def pause(ctx: typer.Context, rollout_id: RolloutId, reason: Reason = "") -> None:
    """Hold a rollout where it is (its traffic stays as it is)."""
    _act(ctx, "pause", rollout_id, reason)


@app.command("resume")
def resume(ctx: typer.Context, rollout_id: RolloutId, reason: Reason = "") -> None:
    """Go on with a paused rollout; its current phase is judged afresh."""
    _act(ctx, "resume", rollout_id, reason)


@app.command("promote")
def promote(ctx: typer.Context, rollout_id: RolloutId, reason: Reason = "") -> None:
    """Promote now: the candidate becomes the primary and champion."""
    _act(ctx, "promote_now", rollout_id, reason)


@app.command("abort")
def abort(ctx: typer.Context, rollout_id: RolloutId, reason: Reason = "") -> None:
    """Stop and take all traffic off the candidate."""
    _act(ctx, "abort", rollout_id, reason)


@app.command("tick")
def tick(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Analyse every running rollout once and move those whose evidence is in (what the agent does)."""
    moved = state(ctx).workspace().rollouts.tick()
    if as_json:
        print_json([r.to_dict() for r in moved])
        return
    for r in moved:
        console.print(_line(r))
    if not moved:
        console.print("no rollout moved")


def agent(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Run one tick, then exit.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between ticks.")] = 10.0,
) -> None:
    """Run due monitors, retraining triggers and rollouts until interrupted; one agent per store."""
    import signal
    import threading

    ws = state(ctx).workspace()
    worker = ws.agent(interval=interval)
    if once:
        worker.acquire()
        try:
            _print_tick(worker.tick())
        finally:
            worker.lease.release()
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    console.print(f"weir agent: every {interval:g} s on {ws.db.redacted_url}; Ctrl-C stops it")
    try:
        worker.run(stop, on_tick=_print_tick)
    except KeyboardInterrupt:
        console.print("agent stopped")


def _print_tick(done: Tick) -> None:
    stamp = f"{done.at:%Y-%m-%d %H:%M:%S}"
    for run in done.monitor_runs:
        console.print(
            f"{stamp} monitor {run.monitor}: {run.status}, {run.rows} rows" + (" (alert raised)" if run.alerted else "")
        )
    for f in done.firings:
        console.print(f"{stamp} trigger {f.trigger} → job {f.job}: {f.status} {f.version or ''} ({f.reason})")
    for r in done.rollouts:
        console.print(f"{stamp} {_line(r)}")
