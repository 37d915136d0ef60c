"""The REST app in-process over httpx's ASGI transport, on a real SQLite workspace holding iris/1 and iris/2."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import weir

API = "/api/v1"
DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def seeded_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding iris/1 and iris/2 (seeded LogisticRegressions), built once and copied per test."""
    home = tmp_path_factory.mktemp("seed")
    X, y = load_iris(return_X_y=True)
    with weir.connect(home=home, user="ada") as ws:
        for c in (1.0, 0.1):
            model = LogisticRegression(C=c, max_iter=1000, random_state=0).fit(X, y)
            ws.models.register(
                "iris",
                model,
                input_example=X[:5],
                metrics={"accuracy": model.score(X, y)},
                code_path=None,
                description=f"C={c}",
            )
    return home


@pytest.fixture
def seeded_workspace(seeded_home: Path, tmp_path: Path) -> Iterator[weir.Workspace]:
    home = tmp_path / "home"
    shutil.copytree(seeded_home, home)
    ws = weir.connect(home=home, user="ada")
    yield ws
    ws.close()


@pytest.fixture
def app(seeded_workspace: weir.Workspace) -> FastAPI:
    return seeded_workspace.asgi_app()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://weir.test") as c:
        yield c


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every route but the docs, included routers flattened whatever the version."""
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = list(iterate(app.routes)) if iterate is not None else list(app.routes)
    found = set()
    for route in routes:
        path = getattr(route, "path", None)
        assert path is not None, f"route {route!r} has no path; teach this test to enumerate it"
        if path not in DOCS:
            methods = getattr(route, "methods", None) or {"WEBSOCKET"}
            found |= {(m, path) for m in methods if m != "HEAD"}
    return found
