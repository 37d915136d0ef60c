"""``weir monitor …``: drift between two data files, as a table and a self-contained HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import pandas as pd
import typer
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

from weir.cli.context import console, err_console
from weir.errors import ValidationError

app = typer.Typer(help="Check data for drift.", no_args_is_help=True)
DRIFT_EXIT = 3


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
        f"(threshold {result.drift_share:.0%}). Report: {out}"
    )
    if fail_on_drift and result.dataset_drift:
        raise typer.Exit(DRIFT_EXIT)
