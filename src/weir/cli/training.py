"""``weir train``: run a training job (frame → model → evaluation → registered candidate → gate)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
        result = run_job(chosen, ws.features, ws.models)
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
