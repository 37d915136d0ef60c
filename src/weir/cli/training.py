"""``weir train``: run a training job (frame → model → evaluation → registered candidate → gate)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from weir.cli.context import console, err_console, print_json, state
from weir.errors import ValidationError


def train(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A Python file defining TrainingJob objects.")],
    job: Annotated[str | None, typer.Option(help="Which job (required when the file defines several).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Build the point-in-time training frame, train, evaluate on the newest rows, register the candidate
    with its lineage and, with a gate, validate it against the champion."""
    from weir.training.jobs import load_jobs, run_job

    jobs = load_jobs(path)
    if job is None:
        if len(jobs) > 1:
            raise ValidationError(f"{path} defines several jobs ({', '.join(jobs)}); pick one with --job.")
        chosen = next(iter(jobs.values()))
    elif job in jobs:
        chosen = jobs[job]
    else:
        raise ValidationError(f"{path} has no job {job!r}; it defines {', '.join(jobs)}.")
    ws = state(ctx).workspace()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err_console,
                  transient=True, disable=as_json) as bar:  # fmt: skip
        bar.add_task(f"training job {chosen.name}", total=None)
        result = run_job(chosen, ws.features, ws.models, ws.rollouts)
    if as_json:
        print_json(result.to_dict())
        return
    table = Table("metric", "held-out value", title=f"{result.version.ref}: {result.train_rows} rows trained, "
                  f"{result.holdout_rows} held out")  # fmt: skip
    for name, value in result.metrics.items():
        table.add_row(name, f"{value:.4f}")
    console.print(table)
    if result.gate is not None:
        verdict = "[green]passed[/]" if result.gate.passed else "[red]failed[/]"
        console.print(f"gate {verdict}" + (f"; now {chosen.promote_to}" if result.promoted else ""))
        for check in result.gate.checks:
            console.print(f"  {'✓' if check.passed else '✗'} {check.name}: {check.reason}")
    if result.rollout_error is not None:
        console.print(f"[yellow]its rollout did not start[/]: {result.rollout_error}")
    if result.rollout is not None:
        console.print(f"rollout {result.rollout} started on endpoint {chosen.rollout} (`weir rollouts show "
                      f"{result.rollout}`)")  # fmt: skip


triggers_app = typer.Typer(help="Retraining triggers: schedule, drift, performance, new labels, manual.",
                           no_args_is_help=True)  # fmt: skip
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@triggers_app.command("add")
def add_trigger(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The trigger's name.")],
    job_file: Annotated[Path, typer.Option(help="The Python file defining the job.")],
    job: Annotated[str, typer.Option(help="The job to run.")],
    kind: Annotated[str, typer.Option(help="schedule, drift, performance, labels or manual.")],
    cron: Annotated[str | None, typer.Option(help="schedule: a cron expression, e.g. '0 3 * * *' (UTC).")] = None,
    monitor: Annotated[str | None, typer.Option(help="drift, performance: the monitor to follow.")] = None,
    metric: Annotated[str | None, typer.Option(help="performance: the metric, e.g. accuracy.")] = None,
    below: Annotated[float | None, typer.Option(help="performance: fire below this value.")] = None,
    margin: Annotated[float | None, typer.Option(help="performance: fire below the version's metric - margin.")] = None,
    model: Annotated[str | None, typer.Option(help="performance with --margin: the registered model.")] = None,
    endpoint: Annotated[str | None, typer.Option(help="labels: the endpoint whose labels are counted.")] = None,
    min_labels: Annotated[int | None, typer.Option(help="labels: fire at this many new labelled predictions.")] = None,
    cooldown_hours: Annotated[float, typer.Option(help="Do not fire again within this many hours.")] = 6.0,
    replace: Annotated[bool, typer.Option("--replace", help="Change an existing trigger.")] = False,
) -> None:
    """Define when a training job runs by itself."""
    from weir.training.triggers import TriggerSpec

    spec = TriggerSpec(
        name, str(job_file.resolve()), job, kind, cron=cron, monitor=monitor, metric=metric, below=below,
        margin=margin, model=model, endpoint=endpoint, min_labels=min_labels, cooldown_hours=cooldown_hours,
    )  # fmt: skip
    state(ctx).workspace().triggers.add(spec, replace=replace)
    console.print(f"trigger {name}: {kind} → job {job}")


@triggers_app.command("list")
def list_triggers(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every trigger and whether it is paused."""
    found = state(ctx).workspace().triggers.list_triggers()
    if as_json:
        print_json([{**spec.to_dict(), "paused": paused} for spec, paused in found])
        return
    table = Table("name", "kind", "job", "when", "paused")
    for spec, paused in found:
        when = spec.cron or spec.monitor or (f"{spec.min_labels} labels on {spec.endpoint}" if spec.endpoint else "-")
        table.add_row(spec.name, spec.kind, spec.job, str(when), "yes" if paused else "")
    console.print(table)


@triggers_app.command("pause")
def pause(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The trigger.")]) -> None:
    """Stop a trigger from firing (run-now still works)."""
    state(ctx).workspace().triggers.set_paused(name, True)
    console.print(f"trigger {name} paused")


@triggers_app.command("resume")
def resume(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The trigger.")]) -> None:
    """Let a paused trigger fire again."""
    state(ctx).workspace().triggers.set_paused(name, False)
    console.print(f"trigger {name} resumed")


def _show(firings: list[Any], as_json: bool) -> None:
    if as_json:
        print_json([f.to_dict() for f in firings])
        return
    for f in firings:
        console.print(f"{f.trigger} → {f.job}: {f.status}{' ' + f.version if f.version else ''} ({f.reason})"
                      + (f"; {f.detail}" if f.detail else ""))  # fmt: skip
    if not firings:
        console.print("nothing is due")


@triggers_app.command("run-now")
def run_now(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The trigger.")], as_json: JsonOption = False
) -> None:
    """Run a trigger's job now (unless that job is already running)."""
    _show([state(ctx).workspace().triggers.run_now(name)], as_json)


@triggers_app.command("tick")
def tick(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Check every trigger once and run the jobs that are due (what the agent does periodically)."""
    _show(state(ctx).workspace().triggers.tick(), as_json)


@triggers_app.command("runs")
def runs(
    ctx: typer.Context,
    job: Annotated[str | None, typer.Option(help="Only this job.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Every training run: trigger, reason, status, version."""
    found = state(ctx).workspace().triggers.runs(job)
    if as_json:
        print_json(found)
        return
    table = Table("id", "job", "trigger", "status", "version", "started", "reason")
    for r in found:
        table.add_row(str(r["id"]), r["job"], r["trigger"] or "-", r["status"], r["version"] or "-",
                      r["started_at"][:19], r["reason"])  # fmt: skip
    console.print(table)
