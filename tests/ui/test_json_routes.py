"""The dashboard's ``.json`` routes: the rollout's data, and failures in the API's one error shape (DESIGN.md 4)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sklearn.linear_model import LogisticRegression

import weir
from tests.api.test_error_shape import assert_error_shape

pytestmark = pytest.mark.anyio


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """The server app in-process over a workspace with one rollout and tokens for reading and predicting."""
    ws = weir.connect(home=tmp_path / "ws", user="setup")
    X, y = [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]
    ws.models.register("churn", LogisticRegression().fit(X, y), input_example=X, aliases=["champion"])
    ws.models.register("churn", LogisticRegression(C=0.5).fit(X, y), input_example=X)
    ws.deployments.deploy("churn", "churn@champion")
    ws.rollouts.start("churn", "churn/2", {"steps": [20, 100]}, force=True)
    tokens = {
        "reader": ws.tokens.create("reader", ["read"])[1],
        "predictor": ws.tokens.create("predictor", ["predict"])[1],
    }
    app = ws.server_app()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://weir.test") as client:
            yield client, tokens
    finally:
        app.state.service.close()
        ws.close()


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def signed_in(client: httpx.AsyncClient, url: str, token: str) -> httpx.Response:
    """GET ``url`` with the sign-in cookie (as the browser sends it) rather than a header."""
    client.cookies.set("weir_token", token)
    try:
        return await client.get(url)
    finally:
        client.cookies.clear()


async def test_the_rollout_data_is_what_the_page_draws_and_the_page_links_to_it(
    served: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    client, tokens = served
    data = (await signed_in(client, "/ui/rollouts/1/data.json", tokens["reader"])).json()
    api = (await client.get("/api/v1/rollouts/1", headers=bearer(tokens["reader"]))).json()
    assert data == api
    assert (data["id"], data["endpoint"], data["candidate"], data["state"]) == (1, "churn", "churn/2", "running")
    assert [s["weight"] for s in data["steps"]] == [s["weight"] for s in api["steps"]] and data["steps"]
    page = await signed_in(client, "/ui/rollouts/1", tokens["reader"])
    assert page.status_code == 200 and 'href="/ui/rollouts/1/data.json"' in page.text
    assert "/api/v1/rollouts/1" not in page.text


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("/ui/rollouts/7/data.json", "not_found"),
        ("/ui/monitors/nope/data.json", "not_found"),
        ("/ui/monitors/nope/runs/1.json", "not_found"),
        ("/ui/models/nope/1/data.json", "model_not_found"),
        ("/ui/models/churn/9/data.json", "version_not_found"),
        ("/ui/monitors/nope/runs/first.json", "not_found"),  # no route matches (a run's id is a number)
    ],
)
async def test_an_unknown_thing_is_a_404_in_the_error_shape(
    served: tuple[httpx.AsyncClient, dict[str, str]], url: str, code: str
) -> None:
    client, tokens = served
    error = assert_error_shape(await client.get(url, headers=bearer(tokens["reader"])), 404, code)
    assert error["message"]


@pytest.mark.parametrize("url", ["/ui/rollouts/1/data.json", "/ui/monitors/nope/data.json", "/ui/features/data.json"])
async def test_a_json_route_refuses_in_the_error_shape(
    served: tuple[httpx.AsyncClient, dict[str, str]], url: str
) -> None:
    client, tokens = served
    assert_error_shape(await client.get(url), 401, "unauthenticated")
    error = assert_error_shape(await signed_in(client, url, tokens["predictor"]), 403, "forbidden")
    assert "'read'" in error["message"]


async def test_the_pages_still_answer_errors_as_pages(served: tuple[httpx.AsyncClient, dict[str, str]]) -> None:
    client, tokens = served
    anonymous = await client.get("/ui/rollouts/1")
    assert anonymous.status_code == 401 and anonymous.headers["content-type"].startswith("text/html")
    missing = await client.get("/ui/rollouts/7", headers=bearer(tokens["reader"]))
    assert missing.status_code == 404 and "No rollout 7" in missing.text
    assert missing.headers["content-type"].startswith("text/html")
    nowhere = await client.get("/ui/nowhere", headers=bearer(tokens["reader"]))
    assert (nowhere.status_code, nowhere.text) == (404, "Not Found")
