"""What happens to online values, watermarks and frames when definitions and sources change."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

import weir
from tests.features.repo import write_repo
from weir.errors import BreakingChangeError, ValidationError
from weir.features import Entity, FeatureView, SqlSource

END = datetime(2026, 11, 10, tzinfo=UTC)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[weir.Workspace]:
    with weir.connect(home=tmp_path / "o'brien home", user="ada") as workspace:  # a quote in every path
        yield workspace


def test_a_field_added_to_a_view_is_not_found_until_materialised_again(ws: weir.Workspace, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    ws.features.apply(write_repo(repo, service_features='"driver_stats:trips"'))
    ws.features.materialize_incremental(END)
    data = pd.read_parquet(repo / "driver_stats.parquet").assign(rating=[1.0, 2.0, 3.0, 4.0])
    data.to_parquet(repo / "driver_stats.parquet", index=False)
    fields = '{"conv_rate": "float64", "trips": "int64", "rating": "float64"}'
    ws.features.apply(write_repo(repo, fields=fields, service_features='"driver_stats:trips"'))
    assert ws.features.catalog.watermark("driver_stats") is None  # reset: the next run stores every key again
    stale = ws.features.get_online(["driver_stats:rating", "driver_stats:trips"], [{"driver_id": 1}])
    assert stale.values["rating"] == [None] and stale.statuses["rating"] == ["NOT_FOUND"]
    assert stale.statuses["trips"] == ["PRESENT"]
    assert ws.features.materialize_incremental(END) == {"driver_stats": 3}
    fresh = ws.features.get_online(["driver_stats:rating"], [{"driver_id": 1}])
    assert (fresh.values["rating"], fresh.statuses["rating"]) == ([2.0], ["PRESENT"])


def test_a_window_that_skips_past_the_watermark_does_not_move_it(ws: weir.Workspace, tmp_path: Path) -> None:
    ws.features.apply(write_repo(tmp_path / "repo"))
    ws.features.materialize(None, datetime(2026, 1, 1, tzinfo=UTC))
    ws.features.materialize(datetime(2026, 11, 2, 6, tzinfo=UTC), END)  # a gap: Jan 1 to Nov 2 06:00
    assert ws.features.catalog.watermark("driver_stats") == datetime(2026, 1, 1, tzinfo=UTC)
    ws.features.materialize_incremental(END)  # fills the gap
    online = ws.features.get_online("driver_service", [{"driver_id": 1}, {"driver_id": 2}])
    assert online.values["trips"] == [20, 50]


def test_taking_a_served_view_offline_is_breaking(ws: weir.Workspace, tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "repo")
    ws.features.apply(repo)
    from sklearn.dummy import DummyClassifier

    ws.models.register("eta", DummyClassifier().fit([[0.0]], [0]), input_example=[[0.0]], code_path=None)
    ws.deployments.deploy("eta", "eta/1", options={"feature_service": "driver_service"})
    repo.write_text(repo.read_text().replace("ttl=timedelta(days=0),", "ttl=timedelta(days=0), online=False,"))
    with pytest.raises(BreakingChangeError, match="goes offline.*deployment 'eta'"):
        ws.features.apply(repo)


def test_rows_pushed_before_a_field_existed_read_as_null(ws: weir.Workspace, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    ws.features.apply(write_repo(repo))
    pushed = {"driver_id": [5], "event_timestamp": ["2026-11-04"], "conv_rate": [0.7], "trips": [70]}
    ws.features.push("driver_stats", pd.DataFrame(pushed))
    data = pd.read_parquet(repo / "driver_stats.parquet").assign(rating=[1.0, 2.0, 3.0, 4.0])
    data.to_parquet(repo / "driver_stats.parquet", index=False)
    ws.features.apply(write_repo(repo, fields='{"conv_rate": "float64", "trips": "int64", "rating": "float64"}'))
    entities = pd.DataFrame({"driver_id": [5, 1], "event_timestamp": pd.to_datetime(["2026-11-05"] * 2, utc=True)})
    frame = ws.features.training_frame(entities, ["driver_stats:trips", "driver_stats:rating"]).to_pandas()
    assert frame["trips"].tolist() == [70, 20]
    assert pd.isna(frame["rating"].iloc[0]) and frame["rating"].iloc[1] == 2.0


def test_a_push_with_empty_keys_or_times_is_refused_and_writes_nothing(ws: weir.Workspace, tmp_path: Path) -> None:
    ws.features.apply(write_repo(tmp_path / "repo"))
    rows = {"driver_id": [5], "event_timestamp": [None], "conv_rate": [0.7], "trips": [70]}
    with pytest.raises(ValidationError, match="'event_timestamp' has 1 empty values"):
        ws.features.push("driver_stats", pd.DataFrame(rows))
    assert not list((ws.settings.feature_root / "pushed").glob("*/*.parquet"))


def test_a_sql_source_fingerprint_follows_duplicate_rows(ws: weir.Workspace, tmp_path: Path) -> None:
    data = tmp_path / "rows.csv"
    driver = Entity("driver", join_keys={"driver_id": "int64"})
    view = FeatureView("sql_view", entities=[driver], event_time="ts", fields={"x": "float64"},
                       source=SqlSource(f"SELECT * FROM read_csv('{data}')"))  # fmt: skip
    ws.features.apply([driver, view])
    entities = pd.DataFrame({"driver_id": [1], "event_timestamp": pd.to_datetime(["2026-02-01"], utc=True)})
    fingerprints = []
    for x in (1.0, 7.0):
        data.write_text(f"driver_id,ts,x\n1,2026-01-01T00:00:00Z,{x}\n1,2026-01-01T00:00:00Z,{x}\n")
        fingerprints.append(ws.features.training_frame(entities, ["sql_view:x"]).fingerprint)
    assert fingerprints[0] != fingerprints[1]
