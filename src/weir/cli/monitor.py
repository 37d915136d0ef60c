"""``weir monitor …``: drift between two data files, as a table and a self-contained HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import pandas as pd
import typer
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

from weir.cli.context import console, err_console, print_json, state
from weir.errors import ValidationError

app = typer.Typer(
    help="Drift reports between files, and monitors over a deployment's predictions.", no_args_is_help=True
)
DRIFT_EXIT = 3
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def read_table(path: Path) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame, with a clear error naming the file."""
    if not path.is_file():
        raise ValidationError(f"{path} does not exist or is not a file; give a CSV or Parquet file.")
    try:
        if path.suffix.lower() in {".parquet", ".pq"}:
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except ImportError as exc:
        raise ValidationError(f"Reading {path} needs pyarrow: pip install pyarrow (or give a CSV file).") from exc
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise ValidationError(f"Cannot read {path}: {exc}.") from exc


@app.command("report")
def report(
    reference: Annotated[Path, typer.Argument(help="Reference data (training frame), CSV or Parquet.")],
    current: Annotated[Path, typer.Argument(help="Current data to compare, CSV or Parquet.")],
    out: Annotated[Path, typer.Option(help="Where to write the HTML report.")] = Path("drift-report.html"),
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the report as JSON here.")] = None,
    alpha: Annotated[float, typer.Option(help="Significance level of p-value tests.")] = 0.05,
    correction: Annotated[str, typer.Option(help="bh, bonferroni or none.")] = "bh",
    drift_share: Annotated[float, typer.Option(help="Share of drifted columns that makes the dataset drift.")] = 0.5,
    fail_on_drift: Annotated[
        bool, typer.Option("--fail-on-drift", help=f"Exit with status {DRIFT_EXIT} when the dataset drifts.")
    ] = False,
) -> None:
    """Compare CURRENT with REFERENCE column by column; print the verdicts and write the HTML report."""
    from weir.monitoring import DataDriftDetector, drift_report_json, write_report
    from weir.monitoring.report import render_html

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=err_console, transient=True) as bar:
        bar.add_task("reading data", total=None)
        ref, cur = read_table(reference), read_table(current)
        bar.add_task(f"testing {len(ref.columns)} columns", total=None)
        detector = DataDriftDetector(alpha=alpha, correction=correction, drift_share=drift_share)
        result = detector.fit(ref).test(cur)
        bar.add_task("writing the report", total=None)
        title = f"weir drift report: {current.name} vs {reference.name}"
        body = drift_report_json(result, ref, cur, title=title)
        write_report(out, render_html(body))
        if json_out is not None:
            json_out.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))

    print_drift(result)
    console.print(f"Report: {out}")
    if fail_on_drift and result.dataset_drift:
        raise typer.Exit(DRIFT_EXIT)


def print_drift(result: Any) -> None:
    table = Table("column", "type", "test", "score", "threshold", "verdict", title="Drift by column")
    for c in result.columns:
        score = c.adjusted_p_value if c.adjusted_p_value is not None else c.statistic
        colour = "red" if c.drifted else ("green" if c.verdict == "no drift" else "yellow")
        table.add_row(
            c.column,
            c.type,
            c.test or "-",
            f"{score:.4g}",
            "-" if c.threshold is None else f"{c.threshold:g}",
            f"[{colour}]{c.verdict}[/{colour}]",
        )
    console.print(table)
    verdict = "[bold red]dataset drift[/]" if result.dataset_drift else "[bold green]no dataset drift[/]"
    console.print(
        f"{verdict}: {result.n_drifted} of {result.n_columns_tested} tested columns drifted "
        f"(threshold {result.drift_share:.0%})."
    )


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The monitor's name.")],
    endpoint: Annotated[str, typer.Option(help="The deployment whose prediction log it watches.")],
    reference_frame: Annotated[str | None, typer.Option(help="A training frame's fingerprint (sha256:…).")] = None,
    reference_window: Annotated[
        str | None, typer.Option(help="START,END (ISO times with zone) of the same prediction log.")
    ] = None,
    reference_file: Annotated[Path | None, typer.Option(help="A CSV or Parquet file of reference inputs.")] = None,
    last_n: Annotated[int | None, typer.Option(help="Window: the last N predictions.")] = None,
    last_hours: Annotated[float | None, typer.Option(help="Window: the last H hours.")] = None,
    column: Annotated[list[str] | None, typer.Option(help="An input to test (repeatable; default all).")] = None,
    alpha: Annotated[float, typer.Option(help="Significance level of p-value tests.")] = 0.05,
    correction: Annotated[str, typer.Option(help="bh, bonferroni or none.")] = "bh",
    drift_share: Annotated[float, typer.Option(help="Share of drifted columns that makes the dataset drift.")] = 0.5,
    task: Annotated[str, typer.Option(help="classification or regression (performance from labels).")] = (
        "classification"
    ),
    schedule: Annotated[str | None, typer.Option(help="'every 30m', 'every 1h', 'every 1d'.")] = None,
    cooldown_hours: Annotated[float, typer.Option(help="An alert repeats at most this often.")] = 6.0,
    webhook: Annotated[str | None, typer.Option(help="POST alerts here as JSON.")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Change an existing monitor.")] = False,
) -> None:
    """Define a monitor over a deployment's prediction log."""
    from weir.monitoring.monitor_spec import MonitorSpec

    references = {"frame": reference_frame, "window": reference_window, "file": reference_file}
    given: dict[str, Any] = {k: v for k, v in references.items() if v is not None}
    if len(given) != 1:
        raise ValidationError("Give exactly one of --reference-frame, --reference-window and --reference-file.")
    if "window" in given:
        given["window"] = [part.strip() for part in str(given["window"]).split(",")]
    if "file" in given:
        given["file"] = str(Path(str(given["file"])).resolve())
    windows = {"last_n": last_n, "last_hours": last_hours}
    window = {k: v for k, v in windows.items() if v is not None}
    if len(window) != 1:
        raise ValidationError("Give exactly one of --last-n and --last-hours.")
    spec = MonitorSpec(
        name, endpoint, reference=given, window=window, columns=tuple(column) if column else None, alpha=alpha,
        correction=correction, drift_share=drift_share, task=task, schedule=schedule,
        cooldown_hours=cooldown_hours, webhook=webhook,
    )  # fmt: skip
    state(ctx).workspace().monitors.create(spec, replace=replace)
    console.print(f"monitor {name} watches {endpoint} ({', '.join(f'{k}={v}' for k, v in window.items())})")


@app.command("list")
def list_monitors(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every monitor."""
    found = state(ctx).workspace().monitors.list_monitors()
    if as_json:
        print_json([m.to_dict() for m in found])
        return
    table = Table("name", "endpoint", "reference", "window", "schedule")
    for m in found:
        ((kind, value),) = m.reference.items()
        ((size_kind, size),) = m.window.items()
        table.add_row(m.name, m.endpoint, f"{kind}: {value}", f"{size_kind}={size}", m.schedule or "-")
    console.print(table)


@app.command("run")
def run(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The monitor.")],
    as_json: JsonOption = False,
    fail_on_drift: Annotated[
        bool, typer.Option("--fail-on-drift", help=f"Exit with status {DRIFT_EXIT} when the dataset drifts.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Also write the HTML report (drift and performance over time).")
    ] = None,
) -> None:
    """Run a monitor once now: drift per column and performance per version; results are stored."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=err_console, transient=True,
                  disable=as_json) as bar:  # fmt: skip
        bar.add_task(f"running monitor {name}", total=None)
        monitors = state(ctx).workspace().monitors
        result = monitors.run(name)
        if out is not None:
            from weir.monitoring import write_report

            title = f"weir monitor {name}: {result.ran_at:%Y-%m-%d %H:%M} UTC, {result.rows} predictions"
            html = monitors.report_html(result, title=title)
            if html is not None:
                write_report(out, html)
    if as_json:
        print_json(result.to_dict())
    else:
        if result.drift is not None:
            print_drift(result.drift)
        else:
            console.print(f"[yellow]{result.status}[/]: {result.summary.get('reason')}")
        console.print(f"{result.rows} predictions, status {result.status}{' (alert raised)' if result.alerted else ''}")
        if out is not None:
            console.print(f"Report: {out}" if result.drift is not None else "No report: nothing was tested.")
    if fail_on_drift and result.status == "drift":
        raise typer.Exit(DRIFT_EXIT)


@app.command("history")
def history(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The monitor.")],
    series: Annotated[str | None, typer.Option(help="One column or metric.")] = None,
    as_json: JsonOption = False,
) -> None:
    """The stored time series of a monitor: one point per run and column (or metric and version)."""
    points = state(ctx).workspace().monitors.series(name, series)
    if as_json:
        print_json(points.assign(at=points["at"].astype(str)).to_dict(orient="records"))
        return
    table = Table("at", "kind", "series", "version", "value", "p-value", "flagged")
    for p in points.to_dict(orient="records"):
        table.add_row(
            str(p["at"])[:19], str(p["kind"]), str(p["series"]), _text(p["version"], "d"), _text(p["value"], ".4g"),
            _text(p["p_value"], ".3g"), "yes" if p["flagged"] else "",
        )  # fmt: skip
    console.print(table)


def _text(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return format(int(value) if spec == "d" else float(value), spec)
