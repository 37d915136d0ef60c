"""A workspace with three versions of a classifier on one endpoint, the real inference service in front of
it, and a function that sends it traffic: what rollout and agent tests stand on."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

import weir
from weir.app import Workspace
from weir.serving.prediction_logger import PredictionLogger
from weir.serving.service import InferenceService
from weir.store import PredictionBuffer, PredictionLog

FAST = {"steps": [50, 100], "min_seconds": 0, "min_requests": 40, "min_labels": 30}


def data(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    X, y = make_classification(n_samples=n, n_features=4, n_informative=3, n_redundant=0, random_state=seed)
    return pd.DataFrame(X, columns=["a", "b", "c", "d"]), y


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """v1 champion and v2 (slightly different regularisation), both validated; v3 needs a column the
    callers do not send (it passed validation offline, and fails on every live request)."""
    workspace = weir.connect(home=tmp_path / "ws", user="tester")
    X, y = data()
    for c in (1.0, 0.5):
        v = workspace.models.register("m", LogisticRegression(C=c).fit(X, y), input_example=X.head(10))
        workspace.models.add_validation(v.ref, "gate", passed=True)
    wide = X.assign(e=X["a"] * 2)
    v3 = workspace.models.register("m", LogisticRegression().fit(wide, y), input_example=wide.head(10))
    workspace.models.add_validation(v3.ref, "gate", passed=True)
    workspace.models.set_alias("m", "champion", 1)
    workspace.deployments.deploy("m", "m@champion")
    yield workspace
    workspace.close()


@pytest.fixture
def service(ws: Workspace) -> Iterator[InferenceService]:
    log = PredictionLogger(PredictionBuffer(PredictionLog(ws.settings.prediction_log), max_seconds=0.05))
    svc = InferenceService(ws.models, ws.deployments, ws.tokens, predictions=log, poll_interval=30)
    yield svc.start()
    svc.close()


def drive(service: InferenceService, n: int, *, seed: int = 1, labels: bool = False) -> None:
    """``n`` single-row requests through the service as the server sends them, then the log is flushed."""
    service.refresh()
    X, y = data()
    answered = []
    for i in np.random.default_rng(seed).choice(len(X), n, replace=False):
        row = {c: X[c].to_numpy()[i : i + 1] for c in X}
        out = service.predict("m", row, route_key=f"k{seed}-{i}", request_id=f"r{seed}-{i}")
        answered.append((out.request_id, int(y[i])))
    deadline = time.monotonic() + 10
    while service._shadow_pending and time.monotonic() < deadline:
        time.sleep(0.01)
    assert service.predictions is not None
    service.predictions.flush()
    if labels:
        service.feedback("m", answered)
