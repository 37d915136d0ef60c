"""The monitor page's charts as data: the performance charts' scales."""

from __future__ import annotations

from typing import Any

import pandas as pd

from weir.ui.charts import performance_charts

RUNS = pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03"], utc=True)


def point(at: int, kind: str, series: str, value: float | None, **fields: Any) -> dict[str, Any]:
    return {
        "at": RUNS[at],
        "kind": kind,
        "series": series,
        "version": fields.get("version"),
        "value": value,
        "p_value": fields.get("p_value"),
        "threshold": fields.get("threshold"),
        "flagged": fields.get("flagged", False),
        "detail": {},
    }


def line_ys(chart: dict[str, Any]) -> list[float]:
    return [d["y"] for line in chart["lines"] for d in line["dots"]]


def test_each_metric_gets_its_own_chart_and_range() -> None:
    points = pd.DataFrame(
        [
            point(0, "performance", "rmse", 12.0, version=1),
            point(1, "performance", "rmse", 18.0, version=1),
            point(2, "performance", "rmse", 30.0, version=1),
            point(0, "performance", "accuracy", 0.90, version=1),
            point(1, "performance", "accuracy", 0.80, version=1),
            point(2, "performance", "accuracy", 0.85, version=2),
            point(0, "drift", "x", 0.3, p_value=0.01, flagged=True, threshold=0.05),  # not a performance point
        ]
    )
    charts = performance_charts(points, width=560, height=120)
    assert [c["metric"] for c in charts] == ["accuracy", "rmse"]
    accuracy, rmse = charts
    assert rmse["low"] < 12.0 and rmse["high"] > 30.0 and rmse["high"] < 40.0
    assert accuracy["low"] < 0.80 and accuracy["high"] > 0.90 and accuracy["high"] < 1.0
    ys = line_ys(rmse)  # values above 1 are not flattened: each run at its own height, 30 the highest
    assert len(set(ys)) == 3 and ys[2] < ys[1] < ys[0]
    assert all(10 <= y <= 110 for y in ys + line_ys(accuracy))
    assert [line["label"] for line in accuracy["lines"]] == ["accuracy v1", "accuracy v2"]
    assert [d["value"] for d in rmse["lines"][0]["dots"]] == [12.0, 18.0, 30.0]


def test_a_flat_metric_is_drawn_mid_chart_and_estimates_share_their_metrics_chart() -> None:
    points = pd.DataFrame(
        [
            point(0, "performance", "log_loss", 2.5, version=1),
            point(1, "performance", "log_loss", 2.5, version=1),
            point(1, "estimated", "log_loss", 2.7),
        ]
    )
    (chart,) = performance_charts(points, height=120)
    assert chart["low"] < 2.5 < chart["high"]
    assert [line["label"] for line in chart["lines"]] == ["log_loss (estimated)", "log_loss v1"]
    measured = chart["lines"][1]["dots"]
    assert measured[0]["y"] == measured[1]["y"] and 10 < measured[0]["y"] < 110
    assert performance_charts(pd.DataFrame([point(0, "drift", "x", 0.1, p_value=0.5)])) == []
