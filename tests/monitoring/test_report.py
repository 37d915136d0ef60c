"""The drift report: self-contained, well-formed, escaped HTML whose charts carry their data, and its JSON."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from weir.errors import ValidationError
from weir.monitoring import DataDriftDetector, DataDriftResult
from weir.monitoring.report import DEFAULT_BINS, drift_report_html, drift_report_json, write_report

HOSTILE = '<script>alert("x")</script>&'
VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "embed", "source", "track", "wbr"}


class _Tree(HTMLParser):
    """Checks that tags balance and collects charts, cards and the embedded JSON."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.charts: list[dict[str, str | None]] = []
        self.cards: list[dict[str, str | None]] = []
        self.marks: list[tuple[str, dict[str, str | None]]] = []  # (tag, attrs) of bars and points
        self.scripts: list[dict[str, str | None]] = []
        self.data: list[str] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "svg":
            self.charts.append(found)
        elif tag == "article":
            self.cards.append(found)
        elif tag == "script":
            self.scripts.append(found)
        elif "data-series" in found and tag in ("rect", "circle"):
            self.marks.append((tag, found))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass  # <line .../> and the like: balanced by construction

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "script":
            self.data.append(data)
        else:
            self.texts.append(data)


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(7)
    n_ref, n_cur = 2000, 1500
    reference = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n_ref),
            "income": rng.lognormal(10, 0.5, n_ref),
            HOSTILE: rng.normal(0, 1, n_ref),
            "plan": rng.choice(["basic", "pro", "team"], n_ref, p=[0.6, 0.3, 0.1]),
            "country": rng.choice([f"c{i:02d}" for i in range(15)], n_ref),
            "ok": rng.normal(0, 1, n_ref),
        }
    )
    current = pd.DataFrame(
        {
            "age": rng.normal(48, 10, n_cur),  # shifted
            "income": rng.lognormal(10, 0.5, n_cur),
            HOSTILE: rng.normal(1.5, 1, n_cur),  # shifted
            "plan": rng.choice(["basic", "pro", "team"], n_cur, p=[0.3, 0.3, 0.4]),  # shifted
            "country": rng.choice([f"c{i:02d}" for i in range(15)], n_cur),
            "ok": rng.normal(0, 1, n_cur),
        }
    )
    return reference, current


@pytest.fixture(scope="module")
def case() -> tuple[DataDriftResult, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    reference, current = _frames()
    result = DataDriftDetector().fit(reference).test(current)
    performance = pd.DataFrame(
        {"window": [f"2024-01-{d:02d}" for d in range(1, 9)], "accuracy": np.linspace(0.9, 0.8, 8), "f1": 0.7}
    )
    performance.loc[3, "f1"] = np.nan
    return result, reference, current, performance


def _parse(html: str) -> _Tree:
    tree = _Tree()
    tree.feed(html)
    tree.close()
    return tree


def test_the_html_is_well_formed_and_shows_every_verdict(case: Any) -> None:
    result, reference, current, performance = case
    html = drift_report_html(result, reference, current, performance=performance, title="weekly <check>")
    tree = _parse(html)
    assert tree.errors == [] and tree.stack == []
    assert html.startswith("<!DOCTYPE html>") and "<title>weekly &lt;check&gt;</title>" in html
    verdicts = {c.column: c.verdict for c in result.columns}
    assert {c["data-column"]: c["data-verdict"] for c in tree.cards} == verdicts
    assert {"drift", "no drift"} <= set(verdicts.values())
    assert verdicts["age"] == verdicts["plan"] == verdicts[HOSTILE] == "drift"
    assert verdicts["ok"] == "no drift"
    assert result.dataset_drift  # 3 of 6 columns drifted, drift_share 0.5
    assert '<div class="banner drift" data-verdict="drift">' in html
    shown = "".join(tree.texts)
    assert f"{result.n_drifted} of {result.n_columns_tested} tested columns drifted" in shown


def test_one_chart_per_tested_column_carrying_its_data(case: Any) -> None:
    result, reference, current, performance = case
    tree = _parse(drift_report_html(result, reference, current, performance=performance))
    column_charts = [c for c in tree.charts if c["data-chart"] != "line"]
    assert len(column_charts) == result.n_columns_tested == len(result.columns)
    by_kind = {c["data-chart"] for c in column_charts}
    assert by_kind == {"histogram", "categories"}
    bars = [attrs for tag, attrs in tree.marks if tag == "rect"]
    for chart in column_charts:
        labels = json.loads(chart["data-labels"] or "")
        ref, cur = json.loads(chart["data-reference"] or ""), json.loads(chart["data-current"] or "")
        assert len(ref) == len(cur) == len(labels)
        assert sum(ref) == pytest.approx(1.0) and sum(cur) == pytest.approx(1.0)
        if chart["data-chart"] == "histogram":
            assert len(labels) == DEFAULT_BINS
    # 4 numeric columns × 20 bins × 2 series; plan 3 categories, country top 10 + "other" (× 2 series)
    assert len(bars) == 4 * DEFAULT_BINS * 2 + (3 + 11) * 2
    body = json.loads("".join(tree.data))
    country = next(c for c in body["columns"] if c["column"] == "country")
    assert country["chart"]["labels"][-1] == "other (5 more)"
    (line,) = [c for c in tree.charts if c["data-chart"] == "line"]
    series = json.loads(line["data-series"] or "")
    assert series["accuracy"] == pytest.approx(list(np.linspace(0.9, 0.8, 8)))
    assert series["f1"][3] is None
    points = [attrs for tag, attrs in tree.marks if tag == "circle"]
    assert len(points) == 8 + 7  # the missing f1 value has no point


def test_hostile_names_are_escaped_and_nothing_is_fetched(case: Any) -> None:
    result, reference, current, _ = case
    html = drift_report_html(result, reference, current)
    assert HOSTILE not in html and "<script>alert" not in html
    tree = _parse(html)
    assert [s.get("type") for s in tree.scripts] == ["application/json"]  # no executable script at all
    assert HOSTILE in {c["data-column"] for c in tree.cards}  # the name survives, escaped
    assert HOSTILE in "".join(tree.texts)
    assert not re.search(r"https?://", html)
    assert not re.search(r"<(link|img|iframe)\b|@import|url\(", html)
    embedded = json.loads("".join(tree.data))
    assert HOSTILE in [c["column"] for c in embedded["columns"]]


def test_the_json_round_trips_with_the_result_verdicts(case: Any) -> None:
    result, reference, current, performance = case
    body = drift_report_json(result, reference, current, performance=performance)
    again = json.loads(json.dumps(body, allow_nan=False))
    assert again == body
    assert {c["column"]: c["verdict"] for c in again["columns"]} == {c.column: c.verdict for c in result.columns}
    assert again["dataset"]["dataset_drift"] == result.dataset_drift
    assert again["dataset"]["share_drifted"] == pytest.approx(result.share_drifted)
    order = [c["verdict"] for c in again["columns"]]
    assert order == sorted(order, key=lambda v: v != "drift")  # drifted first
    html = drift_report_html(result, reference, current, performance=performance)
    assert json.loads("".join(_parse(html).data)) == again  # the HTML embeds the same JSON


def test_untested_columns_are_listed_without_a_chart() -> None:
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"x": rng.normal(size=300), "id": np.arange(300)})
    current = pd.DataFrame({"x": rng.normal(size=300), "id": np.arange(300, 600)})
    result = DataDriftDetector(column_types={"id": "id"}).fit(reference).test(current)
    tree = _parse(drift_report_html(result, reference, current))
    assert len(tree.charts) == 1 and [c["data-column"] for c in tree.cards] == ["x"]
    body = drift_report_json(result, reference, current)
    assert [(c["column"], c["chart"] is None) for c in body["columns"]] == [("x", False), ("id", True)]


def test_missing_frames_columns_and_bad_performance_raise_clear_errors(case: Any) -> None:
    result, reference, current, _ = case
    with pytest.raises(ValidationError, match="current frame .* lacks column 'age'"):
        drift_report_json(result, reference, current.drop(columns=["age"]))
    with pytest.raises(ValidationError, match="no numeric metric column"):
        drift_report_json(result, reference, current, performance=pd.DataFrame({"window": ["a"]}))


def test_write_report_writes_the_file(tmp_path: Path, case: Any) -> None:
    result, reference, current, _ = case
    html = drift_report_html(result, reference, current)
    path = write_report(tmp_path / "report.html", html)
    assert path.read_text(encoding="utf-8") == html
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
