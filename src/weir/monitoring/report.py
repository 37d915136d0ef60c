"""The drift report: one self-contained HTML file (and the same content as JSON) for a :class:`DataDriftResult`.

The HTML needs nothing but a browser: CSS and charts are inline (SVG from :mod:`weir.monitoring.svg`), no
script runs, nothing is fetched. It shows a dataset verdict banner (share of drifted columns against
``drift_share``), an optional performance-over-time line chart, and per tested column, drifted first and
then by how far past its threshold, the test, statistic, p-value (raw and adjusted) or distance,
threshold, verdict and a chart of reference against current. Columns that were not tested are listed
at the end. Every value, column names and category labels included, is escaped. The report's JSON
(:func:`drift_report_json`) is embedded in a ``<script type="application/json" id="weir-report-data">``
block, and every chart also carries its own data in ``data-*`` attributes.

**Charts.** A numeric column is a histogram of shares on shared equal-width bins spanning the 1st to 99th
percentiles of reference and current together (values beyond fall in the end bins, so a shift shows as
mass piling up at one end). A categorical column, or a numeric one with at most ``top_k`` distinct
values, is a bar pair per category: the ``top_k`` most frequent categories over both frames, the rest
summed as "other (N more)". Missing values are left out, as the tests leave them out.

>>> import numpy as np, pandas as pd
>>> from weir.monitoring import DataDriftDetector
>>> rng = np.random.default_rng(0)
>>> ref = pd.DataFrame({"x": rng.normal(size=500), "plan": rng.choice(["a", "b"], 500)})
>>> cur = pd.DataFrame({"x": rng.normal(1.0, size=500), "plan": rng.choice(["a", "b"], 500)})
>>> result = DataDriftDetector().fit(ref).test(cur)
>>> body = drift_report_json(result, ref, cur)
>>> [(c["column"], c["verdict"], c["chart"]["kind"]) for c in body["columns"]]
[('x', 'drift', 'histogram'), ('plan', 'no drift', 'categories')]
>>> drift_report_html(result, ref, cur).startswith("<!DOCTYPE html>")
True
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from weir.errors import ValidationError
from weir.monitoring.data_drift import ColumnDrift, DataDriftResult
from weir.monitoring.svg import bar_chart, line_chart
from weir.types import json_ready

DEFAULT_TITLE = "weir drift report"
DEFAULT_BINS = 20
DEFAULT_TOP_K = 10
_ORDER = {"drift": 0, "no drift": 1, "not enough data": 2}
_VERDICT_CLASS = {"drift": "drift", "no drift": "ok", "not enough data": "unknown"}

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1f2328}
header,main{max-width:1240px;margin:0 auto;padding:16px 24px}
h1{font-size:22px;margin:8px 0}h2{font-size:17px;margin:20px 0 8px}
h3{font-size:15px;margin:0 0 6px;word-break:break-all}
.meta{color:#59636e;margin:0}
.banner{padding:12px 16px;border-radius:8px;font-weight:600;margin:8px 0 4px}
.banner.drift{background:#ffebe9;border:1px solid #cf222e;color:#82071e}
.banner.ok{background:#dafbe1;border:1px solid #1a7f37;color:#0f4d22}
.banner.unknown{background:#fff8c5;border:1px solid #9a6700;color:#4d3800}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(400px,1fr));gap:12px}
.card{background:#fff;border:1px solid #d0d7de;border-left-width:5px;border-radius:8px;padding:10px 12px}
.card.drift{border-left-color:#cf222e}.card.ok{border-left-color:#1a7f37}.card.unknown{border-left-color:#9a6700}
.badge{display:inline-block;font-size:12px;padding:1px 8px;border-radius:10px;color:#fff;vertical-align:middle}
.badge.drift{background:#cf222e}.badge.ok{background:#1a7f37}.badge.unknown{background:#9a6700}
.badge.excluded{background:#6e7781}
table.stats{border-collapse:collapse;font-size:13px;margin-bottom:6px}
table.stats th{text-align:left;font-weight:500;color:#59636e;padding:1px 10px 1px 0}
table.stats td{font-variant-numeric:tabular-nums;padding:1px 10px 1px 0}
table.list{border-collapse:collapse;background:#fff}
table.list th,table.list td{border:1px solid #d0d7de;padding:4px 8px;text-align:left}
.note{color:#59636e;font-size:12px;margin:4px 0 0}
figure{margin:0}.chart{max-width:100%;height:auto}
.chart .axis{stroke:#8c959f;stroke-width:1}.chart text{font-size:10px;fill:#59636e}
"""


def drift_report_json(
    result: DataDriftResult,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    title: str = DEFAULT_TITLE,
    performance: pd.DataFrame | None = None,
    bins: int = DEFAULT_BINS,
    top_k: int = DEFAULT_TOP_K,
) -> dict[str, Any]:
    """The report as a JSON-safe dict (``json.dumps(..., allow_nan=False)`` works): ``title``, ``dataset``,
    ``columns`` (in report order, each :meth:`DataDriftResult.to_dict`'s fields plus ``chart``, ``None``
    for untested columns) and ``performance`` (``None`` without a performance frame)."""
    if not isinstance(result, DataDriftResult):
        raise ValidationError(f"drift report needs a DataDriftResult; got {type(result).__name__}.")
    if bins < 1 or top_k < 1:
        raise ValidationError(f"drift report 'bins' and 'top_k' must be at least 1; got {bins} and {top_k}.")
    columns, fields = [], {c["column"]: c for c in result.to_dict()["columns"]}
    charts = distributions(result, reference, current, bins=bins, top_k=top_k)
    for outcome in sorted(result.columns, key=_sort_key):
        body = {k: json_ready(v) for k, v in fields[outcome.column].items()}
        columns.append({**body, "chart": charts.get(outcome.column)})
    tested = result.n_columns_tested
    dataset = {
        "verdict": "drift" if result.dataset_drift else ("no drift" if tested else "not enough data"),
        "dataset_drift": result.dataset_drift,
        "n_columns_tested": tested,
        "n_drifted": result.n_drifted,
        "share_drifted": json_ready(result.share_drifted),
        "drift_share": json_ready(result.drift_share),
        "alpha": json_ready(result.alpha),
        "correction": result.correction,
        "reason": result.reason,
        "ignored_columns": list(result.ignored_columns),
    }
    perf = None if performance is None else _performance(performance)
    return {"title": str(title), "dataset": dataset, "columns": columns, "performance": perf}


def distributions(
    result: DataDriftResult,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    bins: int = DEFAULT_BINS,
    top_k: int = DEFAULT_TOP_K,
) -> dict[str, dict[str, Any]]:
    """Reference against current for each tested column, as the report charts it (see the module
    docstring): ``{column: {"kind": "histogram" | "categories", "labels", "reference", "current", ...}}``."""
    charts = {}
    for outcome in result.columns:
        if outcome.test is not None:
            ref, cur = _column(reference, outcome.column, "reference"), _column(current, outcome.column, "current")
            charts[outcome.column] = _chart(outcome, ref, cur, bins, top_k)
    return charts


def drift_report_html(
    result: DataDriftResult,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    title: str = DEFAULT_TITLE,
    performance: pd.DataFrame | None = None,
    bins: int = DEFAULT_BINS,
    top_k: int = DEFAULT_TOP_K,
) -> str:
    """The report as one self-contained HTML page; see the module docstring."""
    return render_html(
        drift_report_json(result, reference, current, title=title, performance=performance, bins=bins, top_k=top_k)
    )


def render_html(body: dict[str, Any]) -> str:
    """The HTML page of a report already computed by :func:`drift_report_json`."""
    dataset = body["dataset"]
    tested = [c for c in body["columns"] if c["chart"] is not None]
    untested = [c for c in body["columns"] if c["chart"] is None]
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>{escape(body['title'])}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{escape(body['title'])}</h1>",
        f'<p class="meta">{dataset["n_columns_tested"]} columns tested · correction {escape(dataset["correction"])}'
        f" · α {_fmt(dataset['alpha'])}</p>",
        _banner(dataset),
        "</header><main>",
    ]
    if body["performance"] is not None:
        perf = body["performance"]
        parts.append('<section class="performance"><h2>Performance over time</h2><figure>')
        parts.append(line_chart(perf["windows"], perf["metrics"]))
        parts.append("</figure></section>")
    parts.append('<section class="columns"><h2>Columns</h2><div class="grid">')
    parts.extend(_card(c) for c in tested)
    parts.append("</div></section>")
    if untested:
        parts.append('<section class="untested"><h2>Not tested</h2><table class="list">')
        parts.append("<tr><th>column</th><th>type</th><th>verdict</th></tr>")
        for c in untested:
            parts.append(
                f'<tr data-column="{escape(c["column"], quote=True)}"><td>{escape(c["column"])}</td>'
                f'<td>{escape(str(c["type"]))}</td><td><span class="badge excluded">{escape(c["verdict"])}</span>'
                "</td></tr>"
            )
        parts.append("</table></section>")
    parts.append(f'</main><script type="application/json" id="weir-report-data">{_script_json(body)}</script>')
    parts.append("</body></html>")
    return "".join(parts)


def write_report(path: str | os.PathLike[str], html: str) -> Path:
    """Write ``html`` to ``path`` atomically (a temporary file renamed over it); returns the path."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(html)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _sort_key(c: ColumnDrift) -> tuple[int, float, str]:
    """Drifted first, then no drift, not enough data, excluded; within each the furthest past its threshold."""
    score = -math.inf
    if c.threshold is not None and c.threshold > 0:
        if c.kind == "p_value" and c.adjusted_p_value is not None and not math.isnan(c.adjusted_p_value):
            score = math.log(c.threshold / max(c.adjusted_p_value, 1e-300))
        elif c.kind != "p_value" and math.isfinite(c.statistic) and c.statistic > 0:
            score = math.log(c.statistic / c.threshold)
    return _ORDER.get(c.verdict, 3), -score, c.column


def _column(frame: pd.DataFrame, name: str, which: str) -> pd.Series:
    if not isinstance(frame, pd.DataFrame) or name not in frame.columns:
        raise ValidationError(
            f"The {which} frame passed to the drift report lacks column {name!r} that the result tested; "
            f"pass the frames the result was computed on.",
            column=name,
        )
    return frame[name].dropna()


def _chart(c: ColumnDrift, ref: pd.Series, cur: pd.Series, bins: int, top_k: int) -> dict[str, Any]:
    numeric = c.type == "numeric"
    if numeric:
        r = pd.to_numeric(ref, errors="coerce").to_numpy(dtype=np.float64)
        k = pd.to_numeric(cur, errors="coerce").to_numpy(dtype=np.float64)
        r, k = r[np.isfinite(r)], k[np.isfinite(k)]
        if len(np.unique(np.concatenate([r, k]))) > top_k:
            return _histogram(r, k, bins)
        ref, cur = pd.Series(r), pd.Series(k)
    return _categories(ref, cur, top_k, numeric)


def _histogram(r: np.ndarray[Any, Any], k: np.ndarray[Any, Any], bins: int) -> dict[str, Any]:
    both = np.concatenate([r, k])
    low, high = (float(v) for v in np.quantile(both, [0.01, 0.99]))
    if not high > low:
        low, high = float(both.min()), float(both.max())
    if not high > low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, bins + 1)
    shares = {}
    for name, values in (("reference", r), ("current", k)):
        counts, _ = np.histogram(np.clip(values, low, high), bins=edges)
        shares[name] = (counts / max(len(values), 1)).tolist()
    labels = [f"{edges[i]:.4g} – {edges[i + 1]:.4g}" for i in range(bins)]
    return {"kind": "histogram", "labels": labels, "edges": edges.tolist(), **shares,
            "n_reference": len(r), "n_current": len(k)}  # fmt: skip


def _categories(ref: pd.Series, cur: pd.Series, top_k: int, numeric: bool) -> dict[str, Any]:
    r_counts, c_counts = ref.value_counts(), cur.value_counts()
    total = r_counts.add(c_counts, fill_value=0)
    ranked = sorted(total.index, key=lambda v: (-total[v], str(v)))
    top = ranked[:top_k]
    if numeric:
        top = sorted(top, key=float)
    labels = [f"{v:.4g}" if numeric else str(v) for v in top]
    rest = ranked[top_k:]
    series = {}
    for name, counts, n in (("reference", r_counts, len(ref)), ("current", c_counts, len(cur))):
        values = [float(counts.get(v, 0)) / max(n, 1) for v in top]
        if rest:
            values.append(float(sum(counts.get(v, 0) for v in rest)) / max(n, 1))
        series[name] = values
    if rest:
        labels.append(f"other ({len(rest)} more)")
    return {"kind": "categories", "labels": labels, **series, "n_reference": len(ref), "n_current": len(cur)}


def _performance(frame: pd.DataFrame) -> dict[str, Any]:
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(
            f"'performance' must be a DataFrame (window, metric columns); got {type(frame).__name__}."
        )
    windows = frame["window"] if "window" in frame.columns else frame.index.to_series()
    metrics = [n for n in frame.columns if n != "window" and pd.api.types.is_numeric_dtype(frame[n])]
    if not metrics:
        raise ValidationError(
            f"The 'performance' frame has no numeric metric column (columns: {list(map(str, frame.columns))}); "
            "pass one row per window with a 'window' column and one column per metric."
        )
    values = {str(n): [json_ready(float(v)) for v in frame[n].to_numpy(dtype=np.float64)] for n in metrics}
    return {"windows": [str(w) for w in windows], "metrics": values}


def chart_svg(chart: dict[str, Any], *, width: int = 380, height: int = 170) -> str:
    """The SVG of one chart of :func:`distributions` (its ``reference`` and ``current`` series, or just
    one of them): a histogram on shared bins or a bar pair per category."""
    series: dict[str, list[float]] = {name: chart[name] for name in ("reference", "current") if name in chart}
    if chart["kind"] != "histogram":
        return bar_chart(chart["labels"], series, overlay=False, width=width, height=height)
    edges, n = chart["edges"], len(chart["labels"])
    ticks = [
        (0.0, f"{edges[0]:.3g}"),
        (0.5, f"{edges[n // 2]:.3g}" if n % 2 == 0 else ""),
        (1.0, f"{edges[-1]:.3g}"),
    ]
    return bar_chart(chart["labels"], series, overlay=True, x_ticks=ticks, width=width, height=height)


def _fmt(value: object, p_value: bool = False) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return escape(str(value))
    if p_value:
        return f"{value:.2e}" if 0 < value < 1e-4 else f"{value:.4f}"
    return f"{value:.4g}"


def _banner(dataset: dict[str, Any]) -> str:
    verdict = dataset["verdict"]
    tested, drifted = dataset["n_columns_tested"], dataset["n_drifted"]
    if tested:
        text = (
            f"Dataset {'drift' if dataset['dataset_drift'] else 'no drift'}: {drifted} of {tested} tested columns "
            f"drifted ({dataset['share_drifted']:.0%}; the dataset drifts at {dataset['drift_share']:.0%})."
        )
    else:
        text = f"Not enough data: {dataset['reason'] or 'no column was tested.'}"
    return (
        f'<div class="banner {_VERDICT_CLASS[verdict]}" data-verdict="{escape(verdict, quote=True)}">'
        f"{escape(text)}</div>"
    )


def _card(c: dict[str, Any]) -> str:
    css, chart = _VERDICT_CLASS.get(c["verdict"], "unknown"), c["chart"]
    rows = [("test", f"{escape(str(c['test']))} ({escape(str(c['kind']))})"), ("type", escape(str(c["type"])))]
    if c["kind"] == "p_value":
        rows += [("statistic", _fmt(c["statistic"])), ("p-value", _fmt(c["p_value"], True)),
                 ("adjusted p-value", _fmt(c["adjusted_p_value"], True)), ("alpha", _fmt(c["threshold"]))]  # fmt: skip
    else:
        rows += [("distance", _fmt(c["statistic"])), ("threshold", _fmt(c["threshold"]))]
    rows.append(("rows", f"{c['n_reference']} reference · {c['n_current']} current"))
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    svg = chart_svg(chart)
    note = f'<p class="note">{escape(c["note"])}</p>' if c.get("note") else ""
    name = escape(c["column"], quote=True)
    return (
        f'<article class="card {css}" data-column="{name}" data-verdict="{escape(c["verdict"], quote=True)}">'
        f'<h3>{escape(c["column"])} <span class="badge {css}">{escape(c["verdict"])}</span></h3>'
        f'<table class="stats">{table}</table><figure data-column="{name}">{svg}'
        f'<figcaption class="note">share of rows per {"bin" if chart["kind"] == "histogram" else "category"}'
        f"</figcaption></figure>{note}</article>"
    )


def _script_json(body: dict[str, Any]) -> str:
    """JSON for a ``<script type="application/json">`` block: ``<``, ``>`` and ``&`` as ``\\u`` escapes, so no
    value can close the block."""
    text = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


__all__ = ["DEFAULT_BINS", "DEFAULT_TITLE", "DEFAULT_TOP_K", "drift_report_html", "drift_report_json", "write_report"]
