"""The dashboard's charts as plain data for its SVG templates (no JavaScript charting library)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

PALETTE = ("#5b8def", "#e07b39", "#3aa675", "#a25ddc", "#c9a227", "#d94f70")


P_CAP = 1000.0
"""A p-value this many times below its alpha (or lower) shades a drifted cell fully."""
DISTANCE_CAP = 3.0
"""A distance this many times its threshold (or more) shades a drifted cell fully."""
FAINTEST = 0.35
"""The opacity of a cell that drifted just past its threshold."""


def drift_heatmap(points: pd.DataFrame) -> dict[str, Any]:
    """Columns × runs: stable cells in one light colour; drifted cells shaded by how far past the threshold
    they are (:func:`drift_strength`)."""
    drift = [r for r in _records(points) if r["kind"] == "drift"]
    if not drift:
        return {"rows": [], "runs": []}
    runs = sorted({r["at"] for r in drift})
    index = {at: i for i, at in enumerate(runs)}
    columns: dict[str, list[dict[str, Any]]] = {}
    for r in drift:
        p = None if _missing(r["p_value"]) else float(r["p_value"])
        value = None if _missing(r["value"]) else float(r["value"])
        threshold = None if _missing(r.get("threshold")) else float(r["threshold"])
        flagged = bool(r["flagged"])
        strength = drift_strength(p, value, threshold) if flagged else 0.0
        columns.setdefault(str(r["series"]), []).append(
            {
                "run": index[r["at"]],
                "flagged": flagged,
                "p": p,
                "value": value,
                "threshold": threshold,
                "opacity": round(FAINTEST + (1 - FAINTEST) * strength, 3) if flagged else 1.0,
            }
        )
    rows = [{"column": column, "cells": cells} for column, cells in sorted(columns.items())]
    return {"rows": rows, "runs": [pd.Timestamp(at).isoformat() for at in runs]}


def drift_strength(p: float | None, statistic: float | None, threshold: float | None) -> float:
    """How far past its threshold a drifted test is, in [0, 1]: for a p-value test alpha / p on a log scale
    up to :data:`P_CAP`; for a distance (PSI, Wasserstein, …) statistic / threshold up to
    :data:`DISTANCE_CAP`. Without the numbers to tell, halfway.

    >>> drift_strength(0.05, 1.2, 0.05), drift_strength(0.00005, 9.0, 0.05)
    (0.0, 1.0)
    >>> drift_strength(None, 0.4, 0.2)  # a PSI twice its threshold
    0.5
    """
    if threshold is None or threshold <= 0:
        return 0.5
    if p is not None:
        ratio = threshold / max(p, 1e-300)
        return max(0.0, min(1.0, math.log10(max(ratio, 1.0)) / math.log10(P_CAP)))
    if statistic is not None:
        return max(0.0, min(1.0, (statistic / threshold - 1) / (DISTANCE_CAP - 1)))
    return 0.5


def performance_charts(points: pd.DataFrame, width: float = 360, height: float = 120) -> list[dict[str, Any]]:
    """One small chart per metric, each on its own y range (accuracy in 0..1, RMSE in its units): a polyline
    per (version, measured or estimated) over the runs, scaled into ``width`` × ``height``."""
    performance = [
        r for r in _records(points) if r["kind"] in ("performance", "estimated") and not _missing(r["value"])
    ]
    if not performance:
        return []
    runs = sorted({r["at"] for r in performance})
    x = {at: 50 + (width - 60) * (i / max(1, len(runs) - 1)) for i, at in enumerate(runs)}
    metrics: dict[str, dict[tuple[str, int], list[dict[str, Any]]]] = {}
    for r in performance:
        version = -1 if _missing(r["version"]) else int(r["version"])
        metrics.setdefault(str(r["series"]), {}).setdefault((str(r["kind"]), version), []).append(r)
    charts = []
    for metric, groups in sorted(metrics.items()):
        values = [float(r["value"]) for records in groups.values() for r in records]
        low, high = _padded_range(min(values), max(values))

        def y(value: float, low: float = low, high: float = high) -> float:
            return height - 10 - (height - 20) * (value - low) / (high - low)

        lines = []
        for n, ((kind, version), records) in enumerate(sorted(groups.items())):
            pts = [(x[r["at"]], y(float(r["value"]))) for r in records]
            label = metric + ("" if version == -1 else f" v{version}") + (" (estimated)" if kind == "estimated" else "")
            lines.append(
                {
                    "label": label,
                    "color": PALETTE[n % len(PALETTE)],
                    "points": " ".join(f"{a:.1f},{b:.1f}" for a, b in pts),
                    "dots": [
                        {"x": a, "y": b, "value": float(r["value"])} for (a, b), r in zip(pts, records, strict=True)
                    ],
                }
            )
        charts.append({"metric": metric, "low": low, "high": high, "width": width, "height": height, "lines": lines})
    return charts


def _padded_range(low: float, high: float) -> tuple[float, float]:
    """``low``..``high`` with 5 % room either side; a flat series gets room around its value."""
    span = high - low
    if span <= 0:
        span = max(abs(high) * 0.1, 0.1)
        return low - span / 2, high + span / 2
    return low - 0.05 * span, high + 0.05 * span


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict(orient="records")]


def estimated_bands(points: pd.DataFrame, width: float = 560, height: float = 160) -> list[dict[str, Any]]:
    """Per metric estimated without labels (CBPE): the estimate over the runs inside its confidence band,
    the alert thresholds, and the same metric from labels per version when there is one."""
    estimated = points[points["kind"] == "estimated"].dropna(subset=["value"])
    charts = []
    for metric, group in estimated.groupby("series", sort=True):
        records = _records(group)
        realised = points[(points["kind"] == "performance") & (points["series"] == metric)].dropna(subset=["value"])
        runs = sorted(set(group["at"]) | set(realised["at"]))
        x = {at: 40 + (width - 50) * (i / max(1, len(runs) - 1)) for i, at in enumerate(runs)}
        details = [r["detail"] or {} for r in records]
        seen = [float(r["value"]) for r in records] + [float(v) for v in realised["value"]]
        for d in details:
            seen += [float(d[k]) for k in ("lower", "upper", "lower_threshold", "upper_threshold") if k in d]
        low, high = max(0.0, min(seen) - 0.02), min(1.0, max(seen) + 0.02)
        if not high > low:
            low, high = low - 0.05, high + 0.05

        def y(value: float, low: float = low, high: float = high) -> float:
            return 10 + (height - 30) * (high - max(low, min(high, value))) / (high - low)

        def line(values: list[tuple[Any, float]], x: dict[Any, float] = x) -> str:
            return " ".join(f"{x[at]:.1f},{y(v):.1f}" for at, v in values)

        ats = [r["at"] for r in records]
        upper = [(at, float(d.get("upper", r["value"]))) for at, d, r in zip(ats, details, records, strict=True)]
        lower = [(at, float(d.get("lower", r["value"]))) for at, d, r in zip(ats, details, records, strict=True)]
        versions = []
        for n, (version, rows) in enumerate(realised.groupby(realised["version"].fillna(-1).astype(int), sort=True)):
            pts = [(r["at"], float(r["value"])) for r in _records(rows)]
            dots = [{"x": x[at], "y": y(v), "value": v} for at, v in pts]
            label = f"{metric} from labels" + ("" if version == -1 else f", v{version}")
            versions.append(
                {"label": label, "color": PALETTE[(n + 1) % len(PALETTE)], "points": line(pts), "dots": dots}
            )
        charts.append(
            {
                "metric": str(metric),
                "band": line(upper) + " " + line(list(reversed(lower))),
                "estimate": line([(r["at"], float(r["value"])) for r in records]),
                "dots": [
                    {
                        "x": x[r["at"]],
                        "y": y(float(r["value"])),
                        "value": float(r["value"]),
                        "alert": bool(r["flagged"]),
                        "lower": d.get("lower"),
                        "upper": d.get("upper"),
                    }
                    for r, d in zip(records, details, strict=True)
                ],
                "thresholds": [
                    line([(at, float(d[k])) for at, d in zip(ats, details, strict=True) if k in d])
                    for k in ("lower_threshold", "upper_threshold")
                ],
                "realised": versions,
                "low": low,
                "high": high,
                "height": height,
                "width": width,
            }
        )
    return charts
