"""The monitor page's charts as data: the drift heat-map's shading and the performance charts' scales."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from weir.ui.charts import FAINTEST, drift_heatmap, drift_strength, performance_charts

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


def cells(heat: dict[str, Any], column: str) -> list[dict[str, Any]]:
    return next(row["cells"] for row in heat["rows"] if row["column"] == column)


def test_stable_cells_are_one_colour_whatever_their_p_value() -> None:
    points = pd.DataFrame(
        [
            point(0, "drift", "x", 0.1, p_value=0.9, threshold=0.05),
            point(1, "drift", "x", 0.2, p_value=0.06, threshold=0.05),
            point(2, "drift", "psi", 0.01, threshold=0.2),
        ]
    )
    heat = drift_heatmap(points)
    stable = cells(heat, "x") + cells(heat, "psi")
    assert [c["flagged"] for c in stable] == [False, False, False]
    assert {c["opacity"] for c in stable} == {1.0}


def test_drifted_p_value_cells_darken_with_how_far_below_alpha_they_are() -> None:
    points = pd.DataFrame(
        [
            point(0, "drift", "x", 1.0, p_value=0.04, flagged=True, threshold=0.05),
            point(1, "drift", "x", 2.0, p_value=0.0005, flagged=True, threshold=0.05),  # alpha / p = 100
            point(2, "drift", "x", 9.0, p_value=1e-9, flagged=True, threshold=0.05),  # past the cap
        ]
    )
    opacities = [c["opacity"] for c in cells(drift_heatmap(points), "x")]
    assert opacities[0] == pytest.approx(FAINTEST + (1 - FAINTEST) * 0.0323, abs=1e-3)  # log10(1.25) / 3
    assert opacities[1] == pytest.approx(FAINTEST + (1 - FAINTEST) * 2 / 3, abs=1e-3)
    assert opacities[2] == 1.0
    assert opacities[0] < opacities[1] < opacities[2]


def test_drifted_distance_cells_darken_with_statistic_over_threshold() -> None:
    points = pd.DataFrame(
        [
            point(0, "drift", "psi", 0.2, flagged=True, threshold=0.2),  # at the threshold: the faintest
            point(1, "drift", "psi", 0.4, flagged=True, threshold=0.2),  # twice: halfway
            point(2, "drift", "psi", 5.0, flagged=True, threshold=0.2),  # far past the cap
        ]
    )
    opacities = [c["opacity"] for c in cells(drift_heatmap(points), "psi")]
    assert opacities == [FAINTEST, round(FAINTEST + (1 - FAINTEST) * 0.5, 3), 1.0]


def test_drift_strength_without_the_numbers_is_halfway() -> None:
    assert drift_strength(None, None, 0.05) == 0.5
    assert drift_strength(0.01, None, None) == 0.5
    assert drift_strength(0.5, None, 0.05) == 0.0  # flagged above alpha (never darker than the faintest)


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
