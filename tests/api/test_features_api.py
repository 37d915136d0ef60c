"""Online features over HTTP, and predictions by entity keys (the server reads the feature service)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import anyio
import httpx
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import weir
from tests.features.repo import write_repo

pytestmark = pytest.mark.anyio
ONLINE = "/api/v1/features/online"
END = datetime(2026, 11, 10, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[weir.Workspace]:
    with weir.connect(home=tmp_path / "home", user="ada") as workspace:
        workspace.features.apply(write_repo(tmp_path / "repo"))
        workspace.features.materialize(None, END)
        X = pd.DataFrame({"conv_rate": [0.1, 0.2, 0.5, 0.9], "trips": [10, 20, 50, 90]})
        model = LogisticRegression().fit(X, [0, 0, 1, 1])
        workspace.models.register("eta", model, input_example=X, code_path=None, feature_service="driver_service")
        workspace.deployments.deploy("eta", "eta/1", options={"feature_service": "driver_service"})
        workspace.deployments.deploy("plain", "eta/1")
        yield workspace


@pytest.fixture
async def client(ws: weir.Workspace) -> AsyncIterator[httpx.AsyncClient]:
    app = ws.server_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://weir") as c:
        yield c
    app.state.service.close()


async def test_online_values_with_statuses(client: httpx.AsyncClient) -> None:
    r = await client.post(ONLINE, json={"features": "driver_service", "entities": [{"driver_id": 1}, {"driver_id": 7}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["features"] == {"driver_id": [1, 7], "conv_rate": [0.2, None], "trips": [20, None]}
    assert body["statuses"]["trips"] == ["PRESENT", "NOT_FOUND"]
    assert body["event_timestamps_us"]["trips"][0] == int(datetime(2026, 11, 2, tzinfo=UTC).timestamp() * 1e6)
    columns = {"features": ["driver_stats:trips"], "entities": {"driver_id": [2, 3]}, "full_feature_names": True}
    r = await client.post(ONLINE, json=columns)
    assert r.json()["features"] == {"driver_id": [2, 3], "driver_stats__trips": [50, 90]}


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"features": "driver_service", "entities": [{"driver": 1}]}, 400, "no join key 'driver_id'"),
        ({"features": "driver_service", "entities": [{"driver_id": "x"}]}, 400, "'driver_id' must be an integer"),
        ({"features": "driver_service", "entities": []}, 400, "No entity rows"),
        ({"features": ["driver_stats:speed"], "entities": [{"driver_id": 1}]}, 404, "has no feature 'speed'"),
        ({"features": 3, "entities": [{"driver_id": 1}]}, 400, '"features" must be'),
        ({"entities": [{"driver_id": 1}]}, 400, '"features" and "entities"'),
    ],
)
async def test_bad_online_requests_name_the_culprit(
    client: httpx.AsyncClient,
    body: dict,
    status: int,
    words: str,  # type: ignore[type-arg]
) -> None:
    r = await client.post(ONLINE, json=body)
    assert r.status_code == status and words in r.json()["error"]["message"], r.text


async def test_definitions_are_listed(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/api/v1/features?kind=view")).json()["definitions"]
    assert [(d["name"], d["version"]) for d in listed] == [("driver_stats", 1)]
    shown = (await client.get("/api/v1/features/view/driver_stats")).json()
    assert shown["watermark"] == END.isoformat() and shown["versions"][0]["spec"]["ttl_seconds"] == 0


async def test_predict_by_entity_keys_reads_the_feature_service(client: httpx.AsyncClient, ws: weir.Workspace) -> None:
    r = await client.post("/v1/endpoints/eta/predict", json={"entities": [{"driver_id": 1}, {"driver_id": 3}]})
    assert r.status_code == 200, r.text
    model = ws.models.load("eta/1")
    expected = model.predict(pd.DataFrame({"conv_rate": [0.2, 0.9], "trips": [20, 90]})).tolist()
    assert r.json()["predictions"] == expected
    r = await client.post("/v1/endpoints/eta/predict", json={"entities": [{"driver_id": 1}, {"driver_id": 99}]})
    assert r.status_code == 422 and "NOT_FOUND" in r.json()["error"]["message"]
    r = await client.post("/v1/endpoints/plain/predict", json={"entities": [{"driver_id": 1}]})
    assert r.status_code == 400 and "--feature-service" in r.json()["error"]["message"]


async def test_online_reads_need_the_read_scope(ws: weir.Workspace, client: httpx.AsyncClient) -> None:
    _, predict_only = ws.tokens.create("client", ["predict"])
    body = {"features": "driver_service", "entities": [{"driver_id": 1}]}
    for _ in range(60):  # the server follows token changes within a second
        r = await client.post(ONLINE, json=body)
        if r.status_code != 200:
            break
        await anyio.sleep(0.05)
    assert r.status_code == 401
    headers = {"authorization": f"Bearer {predict_only}"}
    r = await client.post(ONLINE, headers=headers, json={"features": "driver_service", "entities": [{"driver_id": 1}]})
    assert r.status_code == 403
