"""``weir features …``: apply definitions, inspect them, build training frames, materialise, read online."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from weir.cli.context import console, err_console, print_json, state
from weir.errors import ValidationError
from weir.features.catalog import KINDS

app = typer.Typer(
    help="Feature registry: definitions, training frames, materialisation, online values.", no_args_is_help=True
)
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ViewsOption = Annotated[list[str] | None, typer.Option("--view", help="Only this view (repeatable).")]


def _when(value: str | None, what: str) -> datetime | None:
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except ValueError as exc:
        raise ValidationError(
            f"--{what} {value!r} is not a date or time (use ISO 8601, e.g. 2026-11-01T00:00)."
        ) from exc
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")).to_pydatetime()


@app.command("apply")
def apply(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(help="A Python file (or folder of files) defining entities, views, services.")
    ],
    force: Annotated[bool, typer.Option("--force", help="Apply even a change that breaks consumers.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Register the definitions in PATH; a changed definition becomes a new version."""
    applied = state(ctx).workspace().features.apply(path, force=force)
    if as_json:
        print_json([a.to_dict() for a in applied])
        return
    table = Table("kind", "name", "version", "status")
    for a in applied:
        table.add_row(a.kind, a.name, str(a.version), a.status)
    console.print(table)


@app.command("list")
def list_(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Option(help="entity, view or service.")] = None,
    as_json: JsonOption = False,
) -> None:
    """The registered definitions (latest versions)."""
    if kind is not None and kind not in KINDS:
        raise ValidationError(f"--kind {kind!r}: use one of {', '.join(KINDS)}.")
    found = state(ctx).workspace().features.catalog.definitions(kind)
    if as_json:
        print_json([r.to_dict() for r in found])
        return
    table = Table("kind", "name", "version", "created", "by")
    for r in found:
        table.add_row(r.kind, r.name, str(r.version), f"{r.created_at:%Y-%m-%d %H:%M}", r.created_by)
    console.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="entity, view or service.")],
    name: Annotated[str, typer.Argument(help="Its name.")],
    as_json: JsonOption = False,
) -> None:
    """Every version of one definition, newest last (views also show their materialisation watermark)."""
    if kind not in KINDS:
        raise ValidationError(f"Kind {kind!r}: use one of {', '.join(KINDS)}.")
    features = state(ctx).workspace().features
    versions = features.catalog.history(kind, name)
    watermark = features.catalog.watermark(name) if kind == "view" else None
    if as_json:
        print_json({"versions": [v.to_dict() for v in versions], "watermark": watermark})
        return
    for v in versions:
        console.print(f"[bold]{kind} {name} v{v.version}[/] ({v.created_at:%Y-%m-%d %H:%M} by {v.created_by})")
        console.print_json(data=v.spec)
    if kind == "view":
        console.print(f"materialised up to: {watermark.isoformat() if watermark else 'never'}")


@app.command("training-frame")
def training_frame(
    ctx: typer.Context,
    entities: Annotated[Path, typer.Argument(help="Entity rows: a Parquet or CSV file with join keys and timestamps.")],
    features: Annotated[str, typer.Argument(help="A feature service, or view:feature references joined by commas.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the frame (Parquet).")],
    timestamp_column: Annotated[str, typer.Option(help="The entity rows' timestamp column.")] = "event_timestamp",
    as_json: JsonOption = False,
) -> None:
    """Build a point-in-time correct training frame and record its fingerprint and profile."""
    if not entities.is_file():
        raise ValidationError(f"Entity file {str(entities)!r} does not exist.")
    frame_in = pd.read_parquet(entities) if entities.suffix != ".csv" else pd.read_csv(entities)
    if entities.suffix == ".csv" and timestamp_column in frame_in:
        try:
            frame_in[timestamp_column] = pd.to_datetime(frame_in[timestamp_column], utc=True, format="ISO8601")
        except ValueError as exc:
            raise ValidationError(
                f"{entities}: column {timestamp_column!r} holds a value that is not ISO 8601: {exc}"
            ) from exc
    wanted: str | list[str] = features if ":" not in features else [f.strip() for f in features.split(",")]
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=as_json,
    ) as bar:
        bar.add_task(f"joining {len(frame_in):,} entity rows", total=None)
        frame = state(ctx).workspace().features.training_frame(frame_in, wanted, timestamp_column=timestamp_column)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_pandas().to_parquet(out, index=False)
    summary = {"rows": len(frame), "features": frame.features, "fingerprint": frame.fingerprint, "out": str(out)}
    if as_json:
        print_json(summary)
        return
    console.print(f"wrote {len(frame):,} rows × {len(frame.features)} features to {out}")
    console.print(f"fingerprint {frame.fingerprint}")


def _progress_run(as_json: bool, run: object) -> dict[str, int]:
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,} keys"),
        TimeElapsedColumn(),
        console=err_console,
        disable=as_json,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(view: str, rows: int) -> None:
            if view not in tasks:
                tasks[view] = bar.add_task(view, total=None)
            bar.advance(tasks[view], rows)

        return run(progress)  # type: ignore[operator, no-any-return]


def _report(stored: dict[str, int], as_json: bool) -> None:
    if as_json:
        print_json(stored)
        return
    for view, count in stored.items():
        console.print(f"{view}: {count:,} values stored online")


@app.command("materialize")
def materialize(
    ctx: typer.Context,
    start: Annotated[str, typer.Option(help="Rows with event time from here (ISO 8601; naive = UTC).")],
    end: Annotated[str, typer.Option(help="… up to here, exclusive.")],
    view: ViewsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Store online the latest value per key of rows with START <= event time < END."""
    features = state(ctx).workspace().features
    begin, stop = _when(start, "start"), _when(end, "end")
    assert stop is not None
    _report(_progress_run(as_json, lambda p: features.materialize(begin, stop, view, progress=p)), as_json)


@app.command("materialize-incremental")
def materialize_incremental(
    ctx: typer.Context,
    end: Annotated[str | None, typer.Option(help="Up to here (default now).")] = None,
    view: ViewsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Materialise each online view from its watermark (its last materialisation's end) to END."""
    features = state(ctx).workspace().features
    stop = _when(end, "end")
    _report(_progress_run(as_json, lambda p: features.materialize_incremental(stop, view, progress=p)), as_json)


@app.command("get-online")
def get_online(
    ctx: typer.Context,
    features: Annotated[str, typer.Argument(help="A feature service, or view:feature references joined by commas.")],
    keys: Annotated[list[str], typer.Argument(help="Join keys as KEY=VALUE (one entity).")],
) -> None:
    """The online values of one entity, with their status."""
    row: dict[str, str] = {}
    for item in keys:
        name, sep, value = item.partition("=")
        if not sep:
            raise ValidationError(f"Join key {item!r} is not KEY=VALUE.")
        row[name] = value
    wanted: str | list[str] = features if ":" not in features else [f.strip() for f in features.split(",")]
    result = state(ctx).workspace().features.get_online(wanted, [row])
    print_json(
        {
            name: {"value": values[0], "status": result.statuses.get(name, ["KEY"])[0]}
            for name, values in result.values.items()
        }
    )
