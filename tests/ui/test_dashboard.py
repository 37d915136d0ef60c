"""The dashboard in a real browser (Debian's Chromium driven by Playwright) against a real `weir serve`:
every page loads without console errors, the rollout chart draws its steps, a rollout is paused and
resumed from its page (audited with the user), and a token without the deploy scope is refused."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sklearn.linear_model import LogisticRegression

import weir
from tests.serving.conftest import RunningServer
from weir.monitoring.monitor_spec import MonitorSpec
from weir.store import PredictionLog, PredictionRecord

PAGES = ("/ui/", "/ui/models", "/ui/models/churn/2", "/ui/rollouts/1", "/ui/monitors/churn-drift")


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
        X, y = [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]
        ws.models.register("churn", LogisticRegression().fit(X, y), input_example=X, aliases=["champion"])
        v2 = ws.models.register("churn", LogisticRegression(C=0.5).fit(X, y), input_example=X)
        ws.models.add_validation(v2.ref, "gate", passed=True, metrics={"roc_auc": 0.9})
        ws.deployments.deploy("churn", "churn@champion")
        ws.rollouts.start("churn", "churn/2", {"steps": [20, 100]})
        watch(ws, home)
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
    page.goto("/ui/models/churn/2")
    assert page.locator("#artifacts tbody tr").count() >= 1 and "gate" in page.inner_text("#validations")
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
