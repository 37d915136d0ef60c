"""Fixtures: a workspace with three versions of an iris classifier, and a real `weir serve` process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import weir
from weir.app import Workspace


@pytest.fixture(scope="session")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = [c.replace(" (cm)", "").replace(" ", "_") for c in X.columns]
    return X, y


def register_iris(ws: Workspace, iris: tuple[pd.DataFrame, pd.Series]) -> None:
    """Versions 1-3: different regularisation, so that their probabilities differ."""
    X, y = iris
    for c in (1.0, 0.01, 0.001):
        ws.models.register(
            "iris", LogisticRegression(C=c, max_iter=500).fit(X, y), input_example=X.sample(20, random_state=0)
        )
    ws.models.set_alias("iris", "champion", 1)


@pytest.fixture
def iris_ws(tmp_path: Path, iris: tuple[pd.DataFrame, pd.Series]) -> Iterator[Workspace]:
    ws = weir.connect(home=tmp_path / "ws", user="tester")
    register_iris(ws, iris)
    ws.deployments.deploy("iris", "iris@champion")
    yield ws
    ws.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RunningServer:
    """`weir serve` (with ``args`` added) as a real process, waited on until ``ready`` answers 200."""

    def __init__(
        self,
        home: Path,
        workers: int = 1,
        env: dict[str, str] | None = None,
        *,
        args: tuple[str, ...] = (),
        ready: str = "/v2/health/ready",
        timeout: float = 60,
    ) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "weir", "--home", str(home), "serve", "--port", str(self.port)]
        command += ["--workers", str(workers), *args]
        self.log = (home / "server.log").open("wb")
        self.process = subprocess.Popen(
            command,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"weir serve exited: {self.output()[-3000:]}")
            try:
                if httpx.get(self.url + ready, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"weir serve did not become ready in {timeout:.0f} s: {self.output()[-3000:]}")

    def output(self) -> str:
        return (self.home / "server.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
        self.log.close()
