"""`weir serve --engine ray` on a real Ray cluster (`ray start --head`, token authentication, loopback).

One Ray Serve application per endpoint; its replicas run the embedded server's own routing, hot swap and
logging code. Checked through Ray's HTTP proxy: both protocols and the tokens; the sticky canary picks
the same keys as the embedded server's splitter; shadows are logged; replicas scale up under a burst and
back down after it; an alias move reaches every replica without a failed request; a stopped driver
removes its applications.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import weir
from tests.ray_cluster import RayCluster, ray_cluster
from tests.serving.conftest import RunningServer
from weir.serving.routing import Splitter
from weir.store import PredictionLog

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]


def v2_body(rows: pd.DataFrame) -> dict[str, object]:
    return {"inputs": [{"name": c, "datatype": "FP64", "shape": [len(rows)], "data": rows[c].tolist()} for c in rows]}


@dataclass
class RayWeir:
    home: Path
    url: str
    token: str
    cluster: RayCluster
    server: RunningServer
    X: pd.DataFrame
    models: list[object]

    def post(self, path: str, **kwargs: object) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        return httpx.post(self.url + path, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]

    def infer(self, rows: pd.DataFrame, key: str | None = None) -> httpx.Response:
        body = {
            "inputs": [{"name": c, "datatype": "FP64", "shape": [len(rows)], "data": rows[c].tolist()} for c in rows]
        }
        return self.post("/bc/v2/models/bc/infer", json=body, headers={"x-weir-route-key": key} if key else {})

    def weir(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "weir", "--home", str(self.home), *args], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def replicas(self) -> dict[str, int]:
        """Ray's own view of the endpoint's replicas (this test process is a client of the cluster); empty
        while the application is not RUNNING."""
        from ray import serve

        app = serve.status().applications.get("bc")
        if app is None or "weir" not in app.deployments or str(getattr(app.status, "value", "")) != "RUNNING":
            return {}
        return {str(getattr(k, "value", k)): n for k, n in app.deployments["weir"].replica_states.items()}

    def wait_for_replicas(self, running: int, timeout: float, load: Load | None = None) -> float:
        start = time.monotonic()
        while self.replicas() != {"RUNNING": running}:
            assert time.monotonic() - start < timeout, f"not {running} replicas in {timeout} s: {self.replicas()}"
            assert load is None or not load.failures, load.failures[:3]
            time.sleep(0.5)
        return time.monotonic() - start


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayCluster]:
    yield from ray_cluster()


@pytest.fixture(scope="module")
def served(cluster: RayCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayWeir]:
    home = tmp_path_factory.mktemp("ray") / "ws"
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X.columns = [c.replace(" ", "_") for c in X.columns]
    models: list[object] = []
    with weir.connect(home=home, user="tester") as ws:
        for c in (1.0, 0.001, 0.05):
            model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=500)).fit(X, y)
            models.append(model)
            ws.models.register("bc", model, input_example=X.head(10))
        ws.models.set_alias("bc", "champion", 1)
        options = {"min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 1}
        ws.deployments.deploy("bc", "bc@champion", options={**options, "upscale_delay_s": 1, "downscale_delay_s": 3})
        _, token = ws.tokens.create("ray-test", ["predict"])
    import ray  # this process uses the cluster's token: conftest.py set it before Ray was imported

    args = ("--engine", "ray", "--address", cluster.address)
    server = RunningServer(home, env=cluster.env, args=args, ready="/bc/v2/health/ready", timeout=120)
    try:
        ray.init(address=cluster.address, namespace="weir", logging_level="ERROR", log_to_driver=False)
        yield RayWeir(home, server.url, token, cluster, server, X, models)
    finally:
        ray.shutdown()
        server.stop()


class Load:
    """Requests from ``threads`` threads until stopped; keeps the answering version of each and any failure."""

    def __init__(self, served: RayWeir, threads: int) -> None:
        self.served = served
        self.versions: list[str] = []
        self.replicas: list[tuple[str, str]] = []
        """(replica, version) of each answer."""
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)]

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)

    def _run(self, n: int) -> None:
        rows = self.served.X.iloc[n * 5 : n * 5 + 5]
        with httpx.Client(headers={"authorization": f"Bearer {self.served.token}"}, timeout=30) as client:
            body = v2_body(rows)
            while not self._stop.is_set():
                try:
                    r = client.post(self.served.url + "/bc/v2/models/bc/infer", json=body)
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                if r.status_code != 200:
                    self.failures.append(f"{r.status_code} {r.text[:200]}")
                else:
                    self.versions.append(r.headers["x-weir-version"])
                    self.replicas.append((r.headers["x-weir-replica"], r.headers["x-weir-version"]))


def test_both_protocols_and_tokens_on_the_ray_proxy(served: RayWeir) -> None:
    rows = served.X.iloc[100:110]
    expected = served.models[0].predict(rows).tolist()  # type: ignore[attr-defined]
    v2 = served.infer(rows)
    assert v2.status_code == 200, v2.text
    assert v2.headers["x-weir-version"] == "1"
    assert next(o for o in v2.json()["outputs"] if o["name"] == "predictions")["data"] == expected
    mlflow = served.post("/bc/invocations", json={"dataframe_split": rows.to_dict(orient="split")})
    assert mlflow.status_code == 200, mlflow.text
    assert mlflow.json()["predictions"] == expected
    refused = httpx.post(served.url + "/bc/v2/models/bc/infer", json={"inputs": []}, timeout=30)
    assert refused.status_code == 401
    assert httpx.get(served.url + "/bc/v2/models/bc", timeout=30).status_code == 401  # metadata needs the token too
    assert httpx.get(served.url + "/bc/v2/health/live", timeout=30).status_code == 200
    body = {"inputs": [{"name": "x", "datatype": "FP64", "shape": [1], "data": [0.0]}]}
    unknown = served.post("/bc/v2/models/other/infer", json=body)
    assert unknown.status_code == 404 and "bc" in unknown.json()["error"]  # one endpoint per application


def test_canary_picks_the_embedded_servers_keys_and_shadows_are_logged(served: RayWeir) -> None:
    served.weir("deployments", "set-canary", "bc", "bc/2", "--weight", "30")
    served.weir("deployments", "set-shadow", "bc", "bc/3")
    keys = [f"customer-{i}" for i in range(40)]
    rows = served.X.iloc[:3]
    deadline = time.monotonic() + 30
    while "canary" not in {served.infer(rows, key=k).headers.get("x-weir-route") for k in keys[:10]}:
        assert time.monotonic() < deadline, "the replicas did not follow the canary within 30 s"
        time.sleep(0.3)
    splitter = Splitter("bc")
    for key in keys:
        answer = served.infer(rows, key=key)
        assert answer.status_code == 200, answer.text
        expected = "canary" if splitter.to_canary(30.0, key) else "primary"
        assert answer.headers["x-weir-route"] == expected, key
    deadline = time.monotonic() + 30
    log = PredictionLog(served.home / "predictions")
    while True:
        rows_logged = log.read("bc")
        if {"canary", "shadow"} <= set(rows_logged["route"]):
            break
        assert time.monotonic() < deadline, f"no shadow rows in the log: {rows_logged['route'].value_counts()}"
        time.sleep(0.5)
    served.weir("deployments", "set-canary", "bc", "none")
    served.weir("deployments", "set-shadow", "bc", "bc/3", "--percent", "0")


def test_replicas_scale_up_under_a_burst_and_back_down(served: RayWeir) -> None:
    assert "replicas 1–2" in served.weir("deployments", "show", "bc")
    served.wait_for_replicas(1, 180)
    with Load(served, threads=8) as load:
        served.wait_for_replicas(2, 180, load)
    assert not load.failures, load.failures[:3]
    assert len({replica for replica, _ in load.replicas}) >= 1
    served.wait_for_replicas(1, 180)


def test_an_alias_move_reaches_every_replica_without_failed_requests(served: RayWeir) -> None:
    served.wait_for_replicas(1, 180)
    first = served.infer(served.X.iloc[:1]).headers["x-weir-replica"]
    served.weir("deployments", "scale", "bc", "--min", "2", "--max", "2")
    served.wait_for_replicas(2, 180)
    with Load(served, threads=6) as load:
        time.sleep(1)
        served.weir("models", "alias", "bc", "champion", "2")
        deadline = time.monotonic() + 30
        while True:  # every replica answers with v2, and the last 60 answers all came from v2
            recent = load.replicas[-60:]
            both = {replica for replica, version in load.replicas if version == "2"}
            if len(recent) == 60 and {v for _, v in recent} == {"2"} and len(both) == 2:
                break
            assert time.monotonic() < deadline, f"not every replica follows the move: {recent[-5:]}, {both}"
            time.sleep(0.2)
    assert not load.failures, load.failures[:3]
    assert "1" in load.versions  # the move happened under load
    assert first in {replica for replica, _ in load.replicas}  # the scaling change restarted nothing


def test_stopping_the_driver_deletes_its_applications(served: RayWeir) -> None:
    from ray import serve

    os.killpg(served.server.process.pid, signal.SIGTERM)
    served.server.process.wait(60)
    assert "bc" not in serve.status().applications
