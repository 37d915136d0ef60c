"""The dashboard's charts as plain data for its SVG templates (no JavaScript charting library)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

PALETTE = ("#5b8def", "#e07b39", "#3aa675", "#a25ddc", "#c9a227", "#d94f70")


def drift_heatmap(points: pd.DataFrame) -> dict[str, Any]:
    """Columns × runs: each cell flagged (drifted) or not, shaded by -log10 of its p-value."""
    drift = points[points["kind"] == "drift"]
    if drift.empty:
        return {"rows": [], "runs": []}
    runs = sorted(drift["at"].unique())
    index = {at: i for i, at in enumerate(runs)}
    rows = []
    for column, group in drift.groupby("series", sort=True):
        cells = []
        for r in _records(group):
            p = None if r["p_value"] is None or pd.isna(r["p_value"]) else float(r["p_value"])
            strength = 0.15 if p is None else min(1.0, 0.15 + -math.log10(max(p, 1e-12)) / 12)
            cells.append(
                {
                    "run": index[r["at"]],
                    "flagged": bool(r["flagged"]),
                    "p": p,
                    "value": r["value"],
                    "opacity": round(strength, 3),
                }
            )
        rows.append({"column": str(column), "cells": cells})
    return {"rows": rows, "runs": [pd.Timestamp(at).isoformat() for at in runs]}


def performance_lines(points: pd.DataFrame, width: float = 560, height: float = 140) -> list[dict[str, Any]]:
    """One polyline per (metric, version) over the runs, scaled into ``width`` × ``height`` (values 0..1)."""
    performance = points[points["kind"].isin(["performance", "estimated"])].dropna(subset=["value"])
    if performance.empty:
        return []
    runs = sorted(performance["at"].unique())
    x = {at: 10 + (width - 20) * (i / max(1, len(runs) - 1)) for i, at in enumerate(runs)}
    lines = []
    keyed = performance.assign(v=performance["version"].fillna(-1).astype(int))
    for n, ((kind, series, version), group) in enumerate(keyed.groupby(["kind", "series", "v"], sort=True)):
        records = _records(group)
        pts = [(x[r["at"]], height - 10 - (height - 20) * max(0.0, min(1.0, float(r["value"])))) for r in records]
        label = (
            f"{series}" + ("" if version == -1 else f" v{version}") + (" (estimated)" if kind == "estimated" else "")
        )
        lines.append(
            {
                "label": label,
                "color": PALETTE[n % len(PALETTE)],
                "points": " ".join(f"{a:.1f},{b:.1f}" for a, b in pts),
                "dots": [{"x": a, "y": b, "value": float(r["value"])} for (a, b), r in zip(pts, records, strict=True)],
            }
        )
    return lines


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict(orient="records")]
