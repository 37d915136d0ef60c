"""The dashboard in a real browser (Debian's Chromium driven by Playwright) against a real `weir serve`:
every page loads without console errors, every chart draws its data points, a rollout is paused and
resumed from its page (audited with the user), a token without the deploy scope is refused, and an
edited audit entry shows as a broken chain."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sklearn.linear_model import LogisticRegression

import weir
from tests.serving.conftest import RunningServer
from weir.features import Entity, FeatureService, FeatureView, ParquetSource, TrainingFrame
from weir.monitoring.monitor_spec import MonitorSpec
from weir.store import PredictionLog, PredictionRecord
from weir.store.schema import audit_log

PAGES = (
    "/ui/",
    "/ui/models",
    "/ui/models/churn/2",
    "/ui/features",
    "/ui/features/views/customer_stats",
    "/ui/features/services/churn_features",
    "/ui/rollouts/1",
    "/ui/monitors/churn-drift",
    "/ui/monitors/churn-estimate",
)
CUSTOMERS = 200


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Chromium is not installed; `make test` installs Debian's chromium package")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, dict[str, str]]]:
    home = tmp_path_factory.mktemp("ui")
    with weir.connect(home=home, user="setup") as ws:
        frame = customer_features(ws, home)
        X, y = [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]
        ws.models.register("churn", LogisticRegression().fit(X, y), input_example=X, aliases=["champion"])
        v2 = ws.models.register(
            "churn", LogisticRegression(C=0.5).fit(X, y), input_example=X, parent=1, **frame.lineage()
        )
        ws.models.add_validation(v2.ref, "gate", passed=True, metrics={"roc_auc": 0.9}, evidence=GATE)
        ws.models.set_alias("churn", "challenger", 2, reason="passed the gate")
        ws.deployments.deploy("churn", "churn@champion")
        ws.rollouts.start("churn", "churn/2", {"steps": [20, 100]})
        ws.models.add_validation(v2.ref, "legacy", passed=False, evidence=LEGACY)
        watch(ws, home)
        served(ws)
        estimate(ws)
        tokens = {
            "deployer": ws.tokens.create("deployer", ["read", "deploy"])[1],
            "reader": ws.tokens.create("reader", ["read"])[1],
        }
    running = RunningServer(home)
    yield running, tokens
    running.stop()


def watch(ws: weir.Workspace, home: Path) -> None:
    """A monitor with two runs over logged, labelled predictions whose input drifted from the reference."""
    rng = np.random.default_rng(0)
    pd.DataFrame({"x": rng.normal(size=300)}).to_parquet(home / "reference.parquet")
    log = PredictionLog(ws.settings.prediction_log)
    now = datetime.now(UTC)
    values = rng.normal(1.0, 1.0, 300)
    log.append(
        [
            PredictionRecord(f"p{i}", now, "churn", "churn", 1, "primary", {"x": float(v)}, {"prediction": int(v > 1)})
            for i, v in enumerate(values)
        ]
    )
    log.append_labels("churn", {f"p{i}": int(v > 0.8) for i, v in enumerate(values)})
    spec = MonitorSpec(
        "churn-drift", "churn", reference={"file": str(home / "reference.parquet")}, window={"last_n": 300}
    )
    ws.monitors.create(spec)
    ws.monitors.run("churn-drift")
    ws.monitors.run("churn-drift")


# Traffic of "churn" half an hour ago, besides the 300 primary rows (latency 0) that ``watch`` logs now:
# primary rows with known latencies (every tenth failed), canary rows, and shadow rows that are slow (they
# are copies of requests, so they must not count as requests, errors or latency).
PRIMARY_MS = [float(i) for i in range(1, 101)]
FAILED = set(range(0, 100, 10))
CANARY_MS = [5.0] * 20
SHADOW_MS = [1000.0] * 50


def served(ws: weir.Workspace) -> None:
    log = PredictionLog(ws.settings.prediction_log)
    at = datetime.now(UTC) - timedelta(minutes=30)
    rows = []
    for route, latencies in (("primary", PRIMARY_MS), ("canary", CANARY_MS), ("shadow", SHADOW_MS)):
        for i, ms in enumerate(latencies):
            failed = route == "primary" and i in FAILED
            outputs: dict[str, str | int] = {"error": "boom"} if failed else {"prediction": 1}
            rows.append(
                PredictionRecord(f"{route}-{i}", at, "churn", "churn", 1, route, {"x": 0.0}, outputs, latency_ms=ms)
            )
    log.append(rows)


def expected_traffic() -> tuple[str, str, str]:
    """The overview's request rate, error rate and p99 for "churn": primary and canary rows only."""
    answered = [0.0] * 300 + [ms for i, ms in enumerate(PRIMARY_MS) if i not in FAILED] + CANARY_MS
    requests = 300 + len(PRIMARY_MS) + len(CANARY_MS)
    return (
        f"{requests / 60:.1f}",
        f"{100 * len(FAILED) / requests:.2f} %",
        f"{float(np.percentile(answered, 99)):.2f} ms",
    )


# A record written by hand: a check without a name, and paired evidence without the confidence.
LEGACY = {"checks": [{"passed": False, "evidence": {"improvement": -0.01, "ci_low": -0.03, "ci_high": 0.01}}]}

GATE = {
    "checks": [
        {
            "name": "better roc_auc 0.01",
            "passed": True,
            "reason": "improvement CI [0.04, 0.12] > 0.01",
            "evidence": {
                "champion": 0.8,
                "challenger": 0.88,
                "improvement": 0.08,
                "ci_low": 0.04,
                "ci_high": 0.12,
                "confidence": 0.95,
                "resamples": 500,
            },
        },
        {
            "name": "non_inferior accuracy 0.02",
            "passed": True,
            "reason": "improvement CI [-0.01, 0.05] > -0.02",
            "evidence": {
                "champion": 0.75,
                "challenger": 0.77,
                "improvement": 0.02,
                "ci_low": -0.01,
                "ci_high": 0.05,
                "confidence": 0.95,
                "resamples": 500,
            },
        },
        {"name": "signature", "passed": True, "reason": "inputs match the champion's"},
    ]
}


def customer_features(ws: weir.Workspace, home: Path) -> TrainingFrame:
    """A feature view (a numeric and a text feature) and a service over it, materialised, and one
    training frame built from the service (its profile is the features' reference)."""
    rng = np.random.default_rng(1)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = pd.DataFrame(
        {
            "customer_id": np.arange(CUSTOMERS),
            "ts": pd.date_range(start, periods=CUSTOMERS, freq="h", tz="UTC"),
            "tenure": rng.normal(24, 6, CUSTOMERS),
            "plan": rng.choice(["basic", "pro", "team"], CUSTOMERS),
        }
    )
    rows.to_parquet(home / "customers.parquet")
    customer = Entity("customer", join_keys={"customer_id": "int64"})
    stats = FeatureView(
        "customer_stats",
        entities=[customer],
        source=ParquetSource(str(home / "customers.parquet")),
        event_time="ts",
        fields={"tenure": "float64", "plan": "string"},
    )
    ws.features.apply([customer, stats, FeatureService("churn_features", features=[stats])])
    ws.features.materialize(None, start + timedelta(days=30))
    entities = pd.DataFrame({"customer_id": rows["customer_id"], "event_timestamp": rows["ts"] + timedelta(minutes=1)})
    return ws.features.training_frame(entities, "churn_features")


def estimate(ws: weir.Workspace) -> None:
    """A monitor whose reference is a labelled window of the log with scores: performance is estimated
    without labels (CBPE) in two runs, the second over less confident scores (a lower estimate)."""
    rng = np.random.default_rng(2)
    log = PredictionLog(ws.settings.prediction_log)
    now = datetime.now(UTC)
    parts = {
        "reference": (now - timedelta(hours=6), rng.uniform(0, 1, 300)),
        "confident": (now - timedelta(hours=3), rng.uniform(0, 1, 300)),
        "unsure": (now - timedelta(minutes=50), rng.beta(4, 4, 300)),
    }
    for part, (at, scores) in parts.items():
        log.append(
            [
                PredictionRecord(
                    f"{part}-{i}",
                    at + timedelta(seconds=i),
                    "scores",
                    "churn",
                    1,
                    "primary",
                    {"x": float(p)},
                    {"prediction": int(p > 0.5), "proba_0": float(1 - p), "proba_1": float(p)},
                )
                for i, p in enumerate(scores)
            ]
        )
    labels = {f"reference-{i}": int(rng.random() < p) for i, p in enumerate(parts["reference"][1])}
    log.append_labels("scores", labels)
    reference = [(now - timedelta(hours=7)).isoformat(), (now - timedelta(hours=5)).isoformat()]
    spec = MonitorSpec("churn-estimate", "scores", reference={"window": reference}, window={"last_hours": 1})
    ws.monitors.create(spec)
    ws.monitors.run("churn-estimate", now=now - timedelta(hours=2, minutes=30))
    ws.monitors.run("churn-estimate", now=now)


def signed_in(browser: Browser, server: RunningServer, token: str) -> Page:
    page = browser.new_context(base_url=server.url).new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(str(e)))  # type: ignore[attr-defined]
    page.goto("/ui/login")
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    page.wait_for_url("**/ui/")
    return page


def test_every_page_loads_and_draws(
    browser: Browser, server: tuple[RunningServer, dict[str, str]], tmp_path: Path
) -> None:
    running, tokens = server
    anonymous = browser.new_page(base_url=running.url)
    response = anonymous.goto("/ui/")
    assert response is not None and response.status == 401 and "Sign in" in anonymous.content()
    page = signed_in(browser, running, tokens["deployer"])
    shots = Path(os.environ.get("WEIRTEST_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    for path in PAGES:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        page.screenshot(path=str(shots / f"{path.strip('/').replace('/', '-') or 'ui'}.png"), full_page=True)
    page.goto("/ui/")
    assert "churn@champion" in page.inner_text("#deployments") and "churn/2" in page.inner_text("#deployments")
    churn = page.locator('#deployments tr[data-endpoint="churn"]')
    figures = tuple(churn.locator(f"td.{c}").inner_text().strip() for c in ("rate", "errors", "p99"))
    assert figures == expected_traffic()  # shadow rows neither requests, errors nor latency
    assert churn.locator("td.routes").inner_text() == "canary 20, primary 400, shadow 50"
    page.goto("/ui/rollouts/1")
    assert page.locator("#weights rect.bar").count() >= 1  # the chart has its data points
    page.goto("/ui/monitors/churn-drift")
    assert page.locator("#heatmap rect.cell.drifted").count() == 2  # column x drifted in both runs
    assert page.locator("#performance circle.dot").count() >= 2  # accuracy of version 1 at each run
    data = page.request.get("/ui/monitors/churn-drift/data.json").json()
    assert {p["kind"] for p in data} >= {"drift", "performance"}
    page.goto("/ui/")
    assert "open alert" in page.inner_text("#monitors")
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_monitor_page_draws_the_latest_distributions_and_the_estimate_in_its_band(
    browser: Browser, server: tuple[RunningServer, dict[str, str]]
) -> None:
    running, tokens = server
    page = signed_in(browser, running, tokens["reader"])
    page.goto("/ui/monitors/churn-drift")
    figures = page.locator("#distributions figure")
    assert [figures.nth(i).get_attribute("data-column") for i in range(figures.count())] == ["x"]  # as tested
    x = page.locator('#distributions figure[data-column="x"]')
    assert "drifted" in (x.get_attribute("class") or "") and "drifted" in x.inner_text()
    assert x.locator("rect.bar.reference").count() == 20 and x.locator("rect.bar.current").count() == 20
    link = page.locator("#distributions").locator("xpath=preceding-sibling::p[1]/a").get_attribute("href")
    run = page.request.get(str(link)).json()
    shares = run["summary"]["distributions"]["x"]
    assert run["status"] == "drift" and sum(shares["current"]) == pytest.approx(1)
    drawn = [float(v) for v in x.locator("rect.bar.current").evaluate_all("rs => rs.map(r => r.dataset.value)")]
    assert drawn == pytest.approx(shares["current"])
    assert "No estimate" in page.inner_text("#no-estimate")  # its reference is a file without scores

    page.goto("/ui/monitors/churn-estimate")
    for metric in ("accuracy", "f1", "roc_auc"):
        chart = page.locator(f"#estimated-{metric}")
        assert chart.locator("circle.dot.estimate").count() == 2  # one estimate per run
        band = chart.locator("polygon.confidence").get_attribute("points") or ""
        assert len(band.split()) == 4  # upper at both runs, then lower back
        assert chart.locator("polyline.threshold").count() == 2
    points = page.request.get("/ui/monitors/churn-estimate/data.json").json()
    estimated = [p for p in points if p["kind"] == "estimated" and p["series"] == "accuracy"]
    assert len(estimated) == 2 and all(p["detail"]["lower"] < p["value"] < p["detail"]["upper"] for p in estimated)
    assert estimated[1]["value"] < estimated[0]["value"] - 0.1  # unsure scores: fewer right answers expected
    dots = page.locator("#estimated-accuracy circle.dot.estimate")
    heights = [float(dots.nth(i).get_attribute("cy") or 0) for i in range(2)]
    assert heights[1] > heights[0]  # drawn lower
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_version_page_draws_lineage_evidence_aliases_and_the_verified_audit_log(
    browser: Browser, server: tuple[RunningServer, dict[str, str]]
) -> None:
    running, tokens = server
    page = signed_in(browser, running, tokens["reader"])
    page.goto("/ui/models/churn/2")
    assert page.locator("#artifacts tbody tr").count() >= 1
    kinds = page.locator("#lineage-graph g.node").evaluate_all("gs => gs.map(g => g.getAttribute('class'))")
    kinds = [k.removeprefix("node node-") for k in kinds if k != "node node-code"]  # code: when run from git
    assert kinds == ["service", "frame", "parent", "version"]
    assert page.locator("#lineage-graph line.edge").count() == page.locator("#lineage-graph g.node").count() - 1
    assert "churn_features v1" in (page.text_content("#lineage-graph") or "")
    checks = page.inner_text("#validations")
    assert "+0.08" in checks and "[0.04, 0.12] one-sided bounds at 95 % (a 90 % interval)" in checks
    assert page.locator("#validations svg.forest line.ci").count() == 3  # the gate's two paired checks, and one
    assert page.locator("#validations svg.forest circle.difference").count() == 3
    # the hand-written record: its check named by position, its bounds without a confidence said so
    assert "check 1" in checks and "[-0.03, 0.01] bootstrap bounds" in checks
    lanes = page.locator("#alias-timeline rect.segment")
    assert lanes.count() == 2  # champion -> 1 and challenger -> 2
    timeline = page.text_content("#alias-timeline") or ""
    assert "v1" in timeline and "v2" in timeline and "now" in timeline
    assert "Hash chain intact" in page.inner_text("#audit-status")
    actions = page.locator("#audit tbody tr td:nth-child(4)").all_inner_texts()
    assert {"model.create", "version.register", "validation.record", "alias.set"} <= set(actions)
    data = page.request.get("/ui/models/churn/2/data.json").json()
    assert data["audit_verification"]["ok"] and data["version"]["lineage"]["feature_service"] == "churn_features"
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_features_pages_show_versions_freshness_and_reference_profiles(
    browser: Browser, server: tuple[RunningServer, dict[str, str]]
) -> None:
    running, tokens = server
    page = signed_in(browser, running, tokens["reader"])
    page.goto("/ui/features")
    view = page.inner_text('#views tr[data-view="customer_stats"]')
    assert "v1" in view and "2026-01-31 00:00" in view and f"{CUSTOMERS:,}" in view  # watermark, values online
    assert "2026-01-09 07:00" in view  # the newest value's event time: the last hour of the data
    service = page.inner_text('#services tr[data-service="churn_features"]')
    assert "v1" in service and "customer_stats" in service and f"{CUSTOMERS:,} rows" in service
    data = page.request.get("/ui/features/data.json").json()
    assert data["views"][0]["freshness"]["values"] == CUSTOMERS
    assert data["services"][0]["newest_frame"]["rows"] == CUSTOMERS

    page.goto("/ui/features/views/customer_stats")
    tenure = page.locator('#profiles figure[data-feature="tenure"]')
    assert tenure.locator("rect.bar.reference").count() == 20  # the profile's 20 bins
    assert page.locator('#profiles figure[data-feature="plan"] rect.bar.reference').count() == 3  # 3 plans
    profile = page.request.get(str(tenure.locator("a").get_attribute("href"))).json()
    counts = profile["features"]["tenure"]["histogram"]["counts"]
    drawn = [float(v) for v in tenure.locator("rect.bar").evaluate_all("rs => rs.map(r => r.dataset.value)")]
    assert sum(counts) == CUSTOMERS and drawn == pytest.approx([c / CUSTOMERS for c in counts])

    page.goto("/ui/features/services/churn_features")
    assert page.locator("#profiles figure").count() == 2
    assert page.locator("#profiles rect.bar.reference").count() == 23
    assert page.locator("#frames tbody tr").count() == 1
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_rollout_is_paused_and_resumed_from_its_page(
    browser: Browser, server: tuple[RunningServer, dict[str, str]]
) -> None:
    running, tokens = server
    page = signed_in(browser, running, tokens["deployer"])
    page.goto("/ui/rollouts/1")
    page.click("#action-pause")
    page.wait_for_url("**/ui/rollouts/1")
    assert "paused" in page.inner_text("#state")
    page.click("#action-resume")
    page.wait_for_url("**/ui/rollouts/1")
    assert "running" in page.inner_text("#state")
    with weir.connect(home=running.home) as ws:
        actions = [(e.action, e.actor) for e in ws.models.audit.entries()]
    assert ("rollout.pause", "deployer") in actions and ("rollout.resume", "deployer") in actions
    assert page.errors == []  # type: ignore[attr-defined]


def test_promote_and_abort_ask_first_and_do_nothing_when_declined(
    browser: Browser, server: tuple[RunningServer, dict[str, str]]
) -> None:
    running, tokens = server
    with weir.connect(home=running.home) as ws:
        before = len(ws.models.audit.entries())
    page = signed_in(browser, running, tokens["deployer"])
    page.goto("/ui/rollouts/1")
    asked: list[str] = []

    def decline(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", decline)
    page.click("#action-promote")
    page.click("#action-abort")
    page.reload()
    assert len(asked) == 2 and "Promote churn/2 on churn now" in asked[0] and "Abort rollout 1" in asked[1]
    assert "running" in page.inner_text("#state")
    with weir.connect(home=running.home) as ws:
        assert ws.rollouts.get(1).state == "running"
        assert len(ws.models.audit.entries()) == before  # nothing was done
    assert page.errors == []  # type: ignore[attr-defined]


def test_an_action_without_the_deploy_scope_is_refused(
    browser: Browser, server: tuple[RunningServer, dict[str, str]]
) -> None:
    running, tokens = server
    page = signed_in(browser, running, tokens["reader"])
    page.goto("/ui/rollouts/1")
    with page.expect_navigation():
        page.click("#action-pause")
    assert "needs 'deploy'" in page.inner_text("#error")
    with weir.connect(home=running.home) as ws:
        assert ws.rollouts.get(1).state == "running"


def test_weir_ui_prints_the_address_and_serves_the_dashboard(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    import httpx

    from tests.serving.conftest import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEIR_")} | {"COLUMNS": "200"}
    command = [sys.executable, "-m", "weir", "--home", str(tmp_path / "ws"), "ui", "--port", str(port)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/ui/", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and process.poll() is None, "weir ui did not start"
                time.sleep(0.2)
        assert response.status_code == 200 and "No deployments yet" in response.text
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=20)[0]
    assert f"dashboard: http://127.0.0.1:{port}/ui/" in output


def test_an_edited_audit_entry_shows_as_a_broken_chain(
    browser: Browser, server: tuple[RunningServer, dict[str, str]]
) -> None:
    running, tokens = server
    page = signed_in(browser, running, tokens["reader"])
    with weir.connect(home=running.home) as ws:
        first = ws.models.audit.entries(entity="model:churn/1")[0]
        edit = audit_log.update().where(audit_log.c.seq == first.seq)
        with ws.models.db.write() as conn:
            conn.execute(edit.values(actor="mallory"))
        broken = f"entry {first.seq} (version.register model:churn/1) was modified"
        try:
            page.goto("/ui/models/churn/1")
            page.click("#verify-now")  # an older entry edited: found when the page asks for a fresh walk
            status = page.inner_text("#audit-status")
            assert "BROKEN" in status and broken in status
            assert not page.request.get("/ui/models/churn/1/data.json?verify=1").json()["audit_verification"]["ok"]
        finally:
            with ws.models.db.write() as conn:
                conn.execute(edit.values(actor=first.actor))
        page.goto("/ui/models/churn/1?verify=1")
        assert "Hash chain intact" in page.inner_text("#audit-status")
        with ws.models.db.write() as conn:
            conn.execute(edit.values(actor="mallory"))
        try:  # a new entry moves the head: the next load walks the chain again, without being asked
            ws.models.add_validation("churn/1", "audit-probe", passed=True)
            page.goto("/ui/models/churn/1")
            status = page.inner_text("#audit-status")
            assert "BROKEN" in status and broken in status
        finally:
            with ws.models.db.write() as conn:
                conn.execute(edit.values(actor=first.actor))
    page.goto("/ui/models/churn/1?verify=1")
    assert "Hash chain intact" in page.inner_text("#audit-status")
