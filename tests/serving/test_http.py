"""The inference routes in-process (httpx ASGI transport): error shapes, statuses, what is refused before predicting."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pandas as pd
import pytest

from weir.app import Workspace

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(iris_ws: Workspace) -> AsyncIterator[httpx.AsyncClient]:
    app = iris_ws.server_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://weir") as c:
        c.app = app  # type: ignore[attr-defined]
        yield c
    app.state.service.close()


def row(X: pd.DataFrame) -> dict:  # type: ignore[type-arg]
    return {"inputs": [{"name": "input-0", "datatype": "FP64", "shape": [1, 4], "data": X.iloc[0].tolist()}]}


async def test_wrong_method_and_path_in_each_protocols_shape(client: httpx.AsyncClient) -> None:
    r = await client.get("/v2/models/iris/infer")
    assert r.status_code == 405 and set(r.json()) == {"error"} and "use POST" in r.json()["error"]
    r = await client.get("/v2/nowhere")
    assert r.status_code == 404 and set(r.json()) == {"error"}
    r = await client.get("/invocations")
    assert r.status_code == 405 and r.json()["error_code"] == "METHOD_NOT_ALLOWED"
    r = await client.get("/v1/endpoints/iris/predict")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    r = await client.get("/api/v1/models/iris")  # the control plane is still behind
    assert r.status_code == 200


async def test_refused_requests_are_neither_predicted_nor_logged(client: httpx.AsyncClient, iris) -> None:  # type: ignore[no-untyped-def]
    X, _ = iris
    service = client.app.state.service  # type: ignore[attr-defined]
    body = {**row(X), "outputs": [{"name": "logits"}]}
    r = await client.post("/v2/models/iris/infer", json=body)
    assert r.status_code == 400 and "logits" in r.json()["error"]
    empty = {"inputs": [{"name": "input-0", "datatype": "FP64", "shape": [0, 4], "data": []}]}
    r = await client.post("/v2/models/iris/infer", json=empty)
    assert r.status_code in (400, 422) and "no rows" in r.json()["error"]
    r = await client.post("/v2/models/iris/infer", json=row(X))
    assert r.status_code == 200 and [o["name"] for o in r.json()["outputs"]] == ["predictions", "probabilities"]
    service.predictions.flush()
    assert service.predictions.log.count("iris") == 1


async def test_unknown_endpoints_do_not_grow_metric_labels(client: httpx.AsyncClient, iris) -> None:  # type: ignore[no-untyped-def]
    X, _ = iris
    for i in range(5):
        assert (await client.post(f"/v2/models/random-{i}/infer", json=row(X))).status_code == 404
    metrics = (await client.get("/metrics")).text
    assert "random-" not in metrics and 'endpoint="_unknown"' in metrics
