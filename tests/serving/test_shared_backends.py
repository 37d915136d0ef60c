"""Several servers, one truth: two real `weir serve` processes on one PostgreSQL, one Redis and one folder
see the same deployments, follow a change made through either (or Python) within 2 s, read the same online
features, and log predictions that do not collide."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import weir
from tests.redis_server import redis_server_url
from tests.serving.conftest import RunningServer
from weir.store import PredictionLog

FEATURES = """
from datetime import timedelta
from weir.features import Entity, FeatureService, FeatureView, ParquetSource

customer = Entity("customer", join_keys={"customer_id": "int64"})
stats = FeatureView("customer_stats", entities=[customer], source=ParquetSource("stats.parquet"),
                    event_time="event_timestamp", fields={"a": "float64", "b": "float64"}, ttl=timedelta(days=30))
service = FeatureService("churn_features", features=[stats])
"""


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    yield from redis_server_url()


def test_two_servers_on_shared_backends_agree(tmp_path: Path, postgres_url: str, redis_url: str) -> None:
    shared = {"WEIR_DATABASE_URL": postgres_url, "WEIR_ONLINE_STORE": redis_url.rsplit("/", 1)[0] + "/7"}  # its own db
    home = tmp_path / "shared"
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = (X["a"] + X["b"] > 0).astype(int)
    (home / "repo").mkdir(parents=True)
    (home / "repo" / "features.py").write_text(FEATURES)
    now = datetime.now(UTC)
    pd.DataFrame(
        {"customer_id": np.arange(200), "event_timestamp": [now - timedelta(hours=1)] * 200, **{c: X[c] for c in X}}
    ).to_parquet(home / "repo" / "stats.parquet")
    with weir.connect(home=home, database_url=postgres_url, online_store=shared["WEIR_ONLINE_STORE"]) as ws:
        ws.models.register("churn", LogisticRegression().fit(X, y), input_example=X.head(), aliases=["champion"])
        ws.models.register("churn", LogisticRegression(C=0.01).fit(X, 1 - y), input_example=X.head())
        ws.features.apply(home / "repo" / "features.py")
        ws.features.materialize(None, now)
        ws.deployments.deploy("churn", "churn@champion", options={"feature_service": "churn_features"})
    servers = [RunningServer(home, env=shared), RunningServer(home, env=shared)]
    try:
        body = {"entities": [{"customer_id": 7}]}
        answers = [httpx.post(f"{s.url}/v1/endpoints/churn/predict", json=body, timeout=10) for s in servers]
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        assert {a.json()["version"] for a in answers} == {1}
        with weir.connect(home=home, database_url=postgres_url, online_store=shared["WEIR_ONLINE_STORE"]) as ws:
            ws.models.set_alias("churn", "champion", 2, reason="moved once, seen by both")
        moved_at = time.monotonic()
        for server in servers:
            while httpx.post(f"{server.url}/v1/endpoints/churn/predict", json=body, timeout=10).json()["version"] != 2:
                assert time.monotonic() - moved_at < 2.0, "a server did not follow the alias move within 2 s"
                time.sleep(0.05)
        for n, server in enumerate(servers):
            for i in range(20):
                request = {"id": f"s{n}-r{i}", "entities": [{"customer_id": i}]}
                assert (
                    httpx.post(f"{server.url}/v1/endpoints/churn/predict", json=request, timeout=10).status_code == 200
                )
    finally:
        for server in servers:
            server.stop()  # flushes each server's prediction log
    with weir.connect(home=home, database_url=postgres_url, online_store=shared["WEIR_ONLINE_STORE"]) as ws:
        rows = PredictionLog(ws.settings.prediction_log).read("churn")
    assert {f"s{n}-r{i}" for n in range(2) for i in range(20)} <= set(rows.request_id)
    assert rows.request_id.is_unique  # two processes, one log, no collision
    np.testing.assert_allclose(rows.set_index("request_id").loc["s1-r7", "input.a"], X["a"][7])
