"""Shared fixtures: an isolated environment, workspaces on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.postgres import PostgresServer
from weir.app import Workspace, connect

_counter = itertools.count()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No WEIR_* variable or weir.toml from the developer's machine leaks into a test."""
    for key in list(os.environ):
        if key.startswith("WEIR_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of the maintenance database of a PostgreSQL server that lives for the session."""
    url = os.environ.get("WEIRTEST_POSTGRES_URL")
    if url:
        yield url
        return
    server = PostgresServer()
    if not server.available:
        if os.environ.get("WEIRTEST_POSTGRES") == "required":
            pytest.fail("PostgreSQL is required (WEIRTEST_POSTGRES=required) but initdb/pg_ctl are not installed")
        pytest.skip("PostgreSQL binaries not installed; run `make test`, which installs them")
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    name = f"weir_{os.getpid()}_{next(_counter)}"
    engine = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return postgres_server.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on the embedded default and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ws' / 'weir.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def workspace(database_url: str, tmp_path: Path) -> Iterator[Workspace]:
    ws = connect(home=tmp_path / "ws", database_url=database_url, user="tester")
    yield ws
    ws.close()


@pytest.fixture
def sqlite_workspace(tmp_path: Path) -> Iterator[Workspace]:
    ws = connect(home=tmp_path / "ws", user="tester")
    yield ws
    ws.close()
