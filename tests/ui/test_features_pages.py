"""What the features pages read: a view's online freshness, and the page when the online store is down."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from tests.redis_server import RedisServer
from weir.features import Entity, FeatureStore, FeatureView, ParquetSource
from weir.features.online import OnlineRow, encode_key
from weir.store import Database
from weir.ui.features import freshness

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z in µs


def test_freshness_counts_the_values_online_then_says_unavailable_when_redis_is_down(tmp_path: Path) -> None:
    from weir.features.online.redis import RedisOnlineStore

    server = RedisServer()
    if not server.available:
        pytest.skip("redis-server not installed; `make test` installs it")
    url = server.start()
    db = Database("sqlite://")
    db.migrate()
    pd.DataFrame({"driver_id": [1], "ts": [pd.Timestamp("2026-01-01", tz="UTC")], "trips": [3]}).to_parquet(
        tmp_path / "trips.parquet"
    )
    driver = Entity("driver", join_keys={"driver_id": "int64"})
    view = FeatureView(
        "trips",
        entities=[driver],
        source=ParquetSource(str(tmp_path / "trips.parquet")),
        event_time="ts",
        fields={"trips": "int64"},
    )
    fs = FeatureStore(db, root=tmp_path / "fs", online=RedisOnlineStore(url, prefix="pages"))
    try:
        fs.apply([driver, view])
        fs.online.write("trips", [OnlineRow(encode_key([i]), T0 + i, 0, b"{}") for i in range(5)])
        now = datetime(2026, 1, 1, 0, 2, 1, tzinfo=UTC)
        held = freshness(fs, "trips", True, now)
        newest = datetime.fromtimestamp((T0 + 4) / 1e6, UTC)
        assert (held["values"], held["newest"], held["age"]) == (5, newest, "2 minutes")
        assert "unavailable" not in held
        server.stop()  # the page still renders: the watermark from the catalog, the online side marked
        down = freshness(fs, "trips", True, now)
        assert down["values"] is None and down["newest"] is None
        assert "failed" in down["unavailable"] or "answer" in down["unavailable"]
    finally:
        server.stop()
        fs.close()
        db.dispose()
