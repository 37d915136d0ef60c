"""A real `weir serve` process: tritonclient with binary tensors, MLflow, limits, tokens, workers, swaps under load."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import tritonclient.http as triton

import weir
from tests.serving.conftest import RunningServer, register_iris

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, iris: tuple[pd.DataFrame, pd.Series]) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp("served")
    with weir.connect(home=home, user="tester") as ws:
        register_iris(ws, iris)
        ws.deployments.deploy("iris", "iris@champion")
    running = RunningServer(home, workers=2, env={"WEIR_LOG_LEVEL": "INFO"})
    yield running
    running.stop()


def test_tritonclient_with_binary_tensors(server: RunningServer, iris: tuple[pd.DataFrame, pd.Series]) -> None:
    X, _ = iris
    client = triton.InferenceServerClient(server.url.removeprefix("http://"))
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("iris")
    meta = client.get_model_metadata("iris")
    assert [i["name"] for i in meta["inputs"]] == list(X.columns) and meta["platform"] == "onnxruntime"
    data = X.to_numpy(np.float32)[:10]
    tensor = triton.InferInput("input-0", list(data.shape), "FP32")
    tensor.set_data_from_numpy(data)  # binary by default
    outputs = [triton.InferRequestedOutput("predictions"), triton.InferRequestedOutput("probabilities")]
    result = client.infer("iris", [tensor], outputs=outputs)
    with weir.connect(home=server.home) as ws:
        expected = ws.models.load("iris/1")
        np.testing.assert_array_equal(result.as_numpy("predictions"), expected.predict(X[:10]))
        np.testing.assert_allclose(result.as_numpy("probabilities"), expected.predict_proba(X[:10]), atol=1e-5)
    with pytest.raises(triton.InferenceServerException, match="4 columns"):
        bad = triton.InferInput("input-0", [2, 3], "FP32")
        bad.set_data_from_numpy(np.zeros((2, 3), np.float32))
        client.infer("iris", [bad])


def test_mlflow_protocol_and_errors(server: RunningServer, iris: tuple[pd.DataFrame, pd.Series]) -> None:
    X, _ = iris
    with httpx.Client(base_url=server.url) as http:
        split = {"dataframe_split": X[:3].to_dict(orient="split", index=False)}
        r = http.post("/invocations", json=split)
        assert r.status_code == 200 and len(r.json()["predictions"]) == 3
        r = http.post(
            "/endpoints/iris/invocations", content=X[:2].to_csv(index=False), headers={"content-type": "text/csv"}
        )
        assert r.status_code == 200 and len(r.json()["predictions"]) == 2
        r = http.post("/invocations", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["error_code"] == "BAD_REQUEST" and "byte" in r.json()["message"]
        r = http.post(
            "/v2/models/iris/infer",
            json={"inputs": [{"name": "sepal_length", "datatype": "FP32", "shape": [1], "data": [1.0]}]},
        )
        assert r.status_code in (400, 422) and "missing column" in r.json()["error"]
        r = http.post("/v1/endpoints/iris/predict", content=b"x" * (17 * 1024 * 1024))
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
        r = http.post("/v1/endpoints/iris/predict", json={"records": X[:1].to_dict("records"), "id": "abc"})
        assert r.status_code == 200 and r.json()["id"] == "abc" and r.headers["x-weir-route"] == "primary"
        assert http.get("/v2/health/live").status_code == 200  # still alive after all that
        metrics = http.get("/metrics").text
        assert 'weir_requests_total{endpoint="iris"' in metrics and "weir_request_errors_total" in metrics


def test_tokens_and_scopes_over_http(server: RunningServer, iris: tuple[pd.DataFrame, pd.Series]) -> None:
    X, _ = iris
    body = {"records": X[:1].to_dict("records")}
    with weir.connect(home=server.home) as ws:
        _, predict = ws.tokens.create("client", ["predict"])
        _, admin = ws.tokens.create("ops", ["admin"])
    try:
        with httpx.Client(base_url=server.url) as http:
            deadline = time.monotonic() + 3
            while http.post("/v1/endpoints/iris/predict", json=body).status_code != 401:
                assert time.monotonic() < deadline, "tokens were not enforced within 3 s"
                time.sleep(0.1)
            assert http.get("/v2/health/ready").status_code == 200  # probes stay public
            ok = http.post("/v1/endpoints/iris/predict", json=body, headers={"authorization": f"Bearer {predict}"})
            assert ok.status_code == 200
            denied = http.get("/api/v1/deployments", headers={"authorization": f"Bearer {predict}"})
            assert denied.status_code == 403 and "needs 'read'" in denied.json()["error"]["message"]
            wrong = http.post("/invocations", json={"inputs": [[1, 2, 3, 4]]}, headers={"authorization": "Bearer nope"})
            assert wrong.status_code == 401 and wrong.json()["error_code"] == "UNAUTHENTICATED"
            listed = http.get("/api/v1/tokens", headers={"authorization": f"Bearer {admin}"})
            assert listed.status_code == 200 and predict not in listed.text
    finally:
        with weir.connect(home=server.home) as ws:
            for token in ws.tokens.list_tokens():
                ws.tokens.revoke(token.name)
    time.sleep(1.5)  # every worker has seen the revocation
    with httpx.Client(base_url=server.url) as http:  # revoking every token does not switch auth off
        assert http.post("/v1/endpoints/iris/predict", json=body).status_code == 401
        assert http.post("/api/v1/tokens", json={"name": "x", "scopes": ["admin"]}).status_code == 401
        gone = http.post("/v1/endpoints/iris/predict", json=body, headers={"authorization": f"Bearer {predict}"})
        assert gone.status_code == 401


def test_twenty_swaps_under_load_without_a_failed_request(
    server: RunningServer, iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, _ = iris
    body = {"records": X[:2].to_dict("records")}
    statuses: list[int] = []
    versions: set[str] = set()
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=server.url, timeout=10, headers=headers) as http:
            while not stop.is_set():
                r = http.post("/v1/endpoints/iris/predict", json=body)
                statuses.append(r.status_code)
                versions.add(r.headers.get("x-weir-version", "?"))

    with weir.connect(home=server.home) as ws:  # tokens may exist (an earlier test): bring one
        _, secret = ws.tokens.create(f"load-{time.monotonic_ns()}", ["predict"])
    headers = {"authorization": f"Bearer {secret}"}
    time.sleep(1.5)
    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    with weir.connect(home=server.home, user="swapper") as ws:
        for i in range(20):
            if i % 2:
                ws.deployments.set_canary("iris", "iris/3", 20 + i)
            else:
                ws.models.set_alias("iris", "champion", 1 + (i // 2) % 2)
            time.sleep(0.25)
        ws.deployments.set_canary("iris", None)
        ws.models.set_alias("iris", "champion", 1)
    time.sleep(1)
    stop.set()
    for t in threads:
        t.join()
    assert len(statuses) > 100 and set(statuses) == {200}
    assert versions == {"1", "2", "3"}


def test_refuses_public_address_without_auth(tmp_path: Path) -> None:
    with weir.connect(home=tmp_path / "ws") as ws:
        from weir.errors import ConfigError
        from weir.server import check_exposure

        public = socket.gethostbyname(socket.gethostname())
        object.__setattr__(ws.settings, "host", "0.0.0.0" if public.startswith("127.") else public)
        with pytest.raises(ConfigError, match="without authentication"):
            check_exposure(ws, allow_unauthenticated=False)
        check_exposure(ws, allow_unauthenticated=True)
        ws.tokens.create("t", ["predict"])
        check_exposure(ws, allow_unauthenticated=False)
