"""Every route answers failures in the one error shape (DESIGN.md 4); a new route must add a case here."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI

import weir
from tests.api.conftest import API, app_routes
from weir.store import Database

pytestmark = pytest.mark.anyio

M = f"{API}/models/{{name}}"
D = f"{API}/deployments/{{endpoint}}"
F = f"{API}/features"


def break_database(ws: weir.Workspace, tmp_path: Path) -> None:
    """Swap in a database that cannot be opened (its file is a folder): the store is unavailable."""
    folder = tmp_path / "not-a-database"
    folder.mkdir()
    broken = Database(f"sqlite:///{folder}", timeout=0.5)
    ws.models.db = broken
    ws.models.audit.db = broken


@dataclass(frozen=True)
class Case:
    method: str
    template: str
    url: str
    status: int
    code: str
    json: Any = None
    content: bytes | None = None
    setup: Callable[[weir.Workspace, Path], None] | None = field(default=None, compare=False)

    @property
    def id(self) -> str:
        return f"{self.method} {self.url} -> {self.status} {self.code}"


CASES: list[Case] = [
    Case("GET", f"{API}/health", f"{API}/health", 503, "store_unavailable", setup=break_database),
    Case("GET", f"{API}/models", f"{API}/models", 503, "store_unavailable", setup=break_database),
    Case("GET", M, f"{API}/models/nope", 404, "model_not_found"),
    Case("GET", M, f"{API}/models/-bad", 400, "invalid_input"),
    Case("GET", f"{M}/versions", f"{API}/models/nope/versions", 404, "model_not_found"),
    Case("GET", f"{M}/versions/{{version}}", f"{API}/models/iris/versions/99", 404, "version_not_found"),
    Case("GET", f"{M}/versions/{{version}}", f"{API}/models/iris/versions/0", 400, "invalid_input"),
    Case("GET", f"{M}/versions/{{version}}", f"{API}/models/iris/versions/nobody", 404, "alias_not_found"),
    Case("GET", f"{M}/versions/{{version}}", f"{API}/models/iris/versions/%C2%B2", 400, "invalid_input"),
    Case(
        "GET", f"{M}/versions/{{version}}/artifact", f"{API}/models/iris/versions/3/artifact", 404, "version_not_found"
    ),
    Case("GET", f"{M}/aliases", f"{API}/models/nope/aliases", 404, "model_not_found"),
    Case("GET", f"{M}/aliases/{{alias}}", f"{API}/models/iris/aliases/champion", 404, "alias_not_found"),
    Case("GET", f"{M}/aliases/{{alias}}", f"{API}/models/iris/aliases/champion?at=yesterday", 422, "invalid_request"),
    Case("GET", f"{M}/aliases/{{alias}}", f"{API}/models/iris/aliases/latest", 400, "invalid_input"),
    Case(
        "PUT",
        f"{M}/aliases/{{alias}}",
        f"{API}/models/iris/aliases/champion",
        404,
        "version_not_found",
        json={"version": 99},
    ),
    Case(
        "PUT",
        f"{M}/aliases/{{alias}}",
        f"{API}/models/iris/aliases/champion",
        422,
        "invalid_request",
        json={"version": "1"},
    ),
    Case(
        "PUT",
        f"{M}/aliases/{{alias}}",
        f"{API}/models/iris/aliases/champion",
        422,
        "invalid_request",
        json={"version": 1, "resaon": "typo"},
    ),
    Case(
        "PUT", f"{M}/aliases/{{alias}}", f"{API}/models/iris/aliases/latest", 400, "invalid_input", json={"version": 1}
    ),
    Case(
        "PUT",
        f"{M}/aliases/{{alias}}",
        f"{API}/models/nope/aliases/champion",
        404,
        "model_not_found",
        json={"version": 1},
    ),
    Case("DELETE", f"{M}/aliases/{{alias}}", f"{API}/models/iris/aliases/champion", 404, "alias_not_found"),
    Case(
        "GET", f"{M}/aliases/{{alias}}/history", f"{API}/models/iris/aliases/champion/history", 404, "alias_not_found"
    ),
    Case(
        "POST",
        f"{M}/versions/{{version}}/validations",
        f"{API}/models/iris/versions/1/validations",
        422,
        "invalid_request",
        json={"name": "gate"},
    ),
    Case(
        "POST",
        f"{M}/versions/{{version}}/validations",
        f"{API}/models/iris/versions/1/validations",
        422,
        "invalid_request",
        json={"name": "", "passed": True},
    ),
    Case(
        "POST",
        f"{M}/versions/{{version}}/validations",
        f"{API}/models/iris/versions/7/validations",
        404,
        "version_not_found",
        json={"name": "gate", "passed": True},
    ),
    Case(
        "GET",
        f"{M}/versions/{{version}}/validations",
        f"{API}/models/nope/versions/1/validations",
        404,
        "model_not_found",
    ),
    Case("GET", f"{API}/audit", f"{API}/audit?limit=0", 422, "invalid_request"),
    Case("GET", f"{API}/audit/verify", f"{API}/audit/verify", 503, "store_unavailable", setup=break_database),
    Case("GET", f"{API}/deployments", f"{API}/deployments", 503, "store_unavailable", setup=break_database),
    Case("GET", D, f"{API}/deployments/nope", 404, "deployment_not_found"),
    Case("GET", f"{D}/history", f"{API}/deployments/nope/history", 404, "deployment_not_found"),
    Case("PUT", D, f"{API}/deployments/e", 404, "version_not_found", json={"primary": "iris/99"}),
    Case("PUT", D, f"{API}/deployments/bad%20name", 400, "invalid_input", json={"primary": "iris/1"}),
    Case("PUT", D, f"{API}/deployments/e", 422, "invalid_request", json={"primary": "iris/1", "canary_wieght": 5}),
    Case("PUT", f"{D}/canary", f"{API}/deployments/nope/canary", 404, "deployment_not_found", json={"ref": "iris/2"}),
    Case("PUT", f"{D}/shadows", f"{API}/deployments/nope/shadows", 404, "deployment_not_found", json={"ref": "iris/2"}),
    Case("POST", f"{D}/promote", f"{API}/deployments/nope/promote", 404, "deployment_not_found", json={}),
    Case("POST", f"{D}/rollback", f"{API}/deployments/nope/rollback", 404, "deployment_not_found", json={}),
    Case("DELETE", D, f"{API}/deployments/nope", 404, "deployment_not_found"),
    Case("GET", f"{API}/tokens", f"{API}/tokens", 503, "store_unavailable", setup=break_database),
    Case("POST", f"{API}/tokens", f"{API}/tokens", 400, "invalid_input", json={"name": "t", "scopes": ["root"]}),
    Case("DELETE", f"{API}/tokens/{{name}}", f"{API}/tokens/nobody", 404, "not_found"),
    Case("GET", F, f"{API}/features?kind=model", 400, "invalid_input"),
    Case("GET", f"{F}/{{kind}}/{{name}}", f"{API}/features/view/nope", 404, "feature_not_found"),
    Case("POST", f"{F}/online", f"{API}/features/online", 400, "invalid_input", content=b"{not json"),
    Case(
        "POST",
        f"{F}/online",
        f"{API}/features/online",
        404,
        "feature_not_found",
        json={"features": "nope", "entities": [{"driver_id": 1}]},
    ),
    Case("GET", f"{API}/rollouts", f"{API}/rollouts", 503, "store_unavailable", setup=break_database),
    Case("GET", f"{API}/rollouts/{{rollout_id}}", f"{API}/rollouts/7", 404, "not_found"),
    Case(
        "POST",
        f"{API}/rollouts",
        f"{API}/rollouts",
        404,
        "deployment_not_found",
        json={"endpoint": "nope", "candidate": "iris/2"},
    ),
    Case("POST", f"{API}/rollouts/{{rollout_id}}/{{action}}", f"{API}/rollouts/7/pause", 404, "not_found", json={}),
    Case(
        "POST",
        f"{API}/rollouts/{{rollout_id}}/{{action}}",
        f"{API}/rollouts/7/explode",
        422,
        "invalid_request",
        json={},
    ),
]


def assert_error_shape(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert {"code", "message", "status"} <= set(error) <= {"code", "message", "status", "details"}
    assert (error["code"], error["status"]) == (code, status)
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in response.text
    if "details" in error:
        assert isinstance(error["details"], dict) and error["details"]
    return dict(error)


def test_every_route_has_an_error_case(app: FastAPI) -> None:
    covered = {(c.method, c.template) for c in CASES}
    missing = app_routes(app) - covered
    assert not missing, f"add a failing request to CASES for each new route: {sorted(missing)}"
    stale = covered - app_routes(app)
    assert not stale, f"CASES name routes that no longer exist: {sorted(stale)}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_route_fails_in_the_error_shape(
    case: Case, client: httpx.AsyncClient, seeded_workspace: weir.Workspace, tmp_path: Path
) -> None:
    if case.setup is not None:
        case.setup(seeded_workspace, tmp_path)
    response = await client.request(case.method, case.url, json=case.json, content=case.content)
    assert_error_shape(response, case.status, case.code)


async def test_unknown_route_is_404(client: httpx.AsyncClient) -> None:
    error = assert_error_shape(await client.get(f"{API}/nowhere"), 404, "not_found")
    assert f"{API}/nowhere" in error["message"]


async def test_wrong_method_is_405(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{API}/models/iris")
    error = assert_error_shape(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET"
    assert "POST" in error["message"] and "GET" in error["message"]


async def test_malformed_json_is_422_naming_the_body(client: httpx.AsyncClient) -> None:
    response = await client.put(
        f"{API}/models/iris/aliases/champion", content=b'{"version": 1,', headers={"content-type": "application/json"}
    )
    error = assert_error_shape(response, 422, "invalid_request")
    assert "body" in error["message"]
    assert error["details"]["errors"][0]["type"] == "json_invalid"


async def test_invalid_field_is_named(client: httpx.AsyncClient) -> None:
    response = await client.put(f"{API}/models/iris/aliases/champion", json={"version": 0})
    error = assert_error_shape(response, 422, "invalid_request")
    assert "body.version" in error["message"]
    assert [e["location"] for e in error["details"]["errors"]] == ["body.version"]


async def test_unexpected_exception_is_500_and_not_leaked(
    client: httpx.AsyncClient,
    seeded_workspace: weir.Workspace,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def explode() -> None:
        raise RuntimeError("secret connection string postgres://u:hunter2@db")

    monkeypatch.setattr(seeded_workspace.models, "list_models", explode)
    with caplog.at_level(logging.ERROR, logger="weir.api.errors"):
        response = await client.get(f"{API}/models")
    error = assert_error_shape(response, 500, "internal_error")
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    assert "log" in error["message"]
    assert any(r.exc_info and "hunter2" in str(r.exc_info[1]) for r in caplog.records)


def test_every_route_declares_its_scope(seeded_workspace: weir.Workspace) -> None:
    """DESIGN: every route declares the scope it needs, the inference routes included."""
    from starlette.routing import Mount

    from weir.api.auth import declared_scope

    app = seeded_workspace.server_app()
    try:
        routes = [r for r in app.routes if not isinstance(r, Mount)]
        ui = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/ui")
        routes += [r for r in ui.routes if not isinstance(r, Mount)]  # the dashboard's pages (not /ui/static)
        iterate = getattr(fastapi.routing, "iter_route_contexts", None)
        control = seeded_workspace.asgi_app().routes
        for route in list(iterate(control)) if iterate is not None else control:
            if getattr(route, "path", "") not in _FRAMEWORK:
                routes.append(getattr(route, "original_route", route))
        undeclared = [getattr(r, "path", r) for r in routes if declared_scope(r) is None]
        assert not undeclared, f"routes without a scope: {undeclared}"
        assert len(routes) > 30
    finally:
        app.state.service.close()


_FRAMEWORK = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
