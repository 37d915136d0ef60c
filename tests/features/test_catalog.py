"""The feature catalog: applying definitions from code, versions, references and breaking changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sklearn.dummy import DummyClassifier

import weir
from tests.features.repo import write_repo
from weir.errors import BreakingChangeError, FeatureNotFoundError, ValidationError
from weir.features import Entity, FeatureService, FeatureView, ParquetSource, load_definitions


@pytest.fixture
def ws(tmp_path: Path) -> weir.Workspace:
    with weir.connect(home=tmp_path / "home", user="ada") as workspace:
        yield workspace


def test_apply_from_a_file_creates_versions_once(ws: weir.Workspace, tmp_path: Path) -> None:
    path = write_repo(tmp_path / "repo")
    first = ws.features.apply(path)
    assert [(a.kind, a.name, a.version, a.status) for a in first] == [
        ("entity", "driver", 1, "created"),
        ("view", "driver_stats", 1, "created"),
        ("service", "driver_service", 1, "created"),
    ]
    again = ws.features.apply(path)
    assert [a.status for a in again] == ["unchanged"] * 3
    write_repo(tmp_path / "repo", fields='{"conv_rate": "float64", "trips": "int64", "rating": "float64"}')
    (tmp_path / "repo" / "driver_stats.parquet").unlink()
    added = {a.name: a for a in ws.features.apply(tmp_path / "repo")}
    assert (added["driver_stats"].version, added["driver_stats"].status) == (2, "updated")
    assert added["driver_service"].status == "unchanged"
    history = ws.features.catalog.history("view", "driver_stats")
    assert [v.version for v in history] == [1, 2] and history[1].created_by == "ada"
    assert "rating" in history[1].spec["fields"] and "rating" not in history[0].spec["fields"]


def test_relative_source_paths_are_anchored_at_the_definitions_file(tmp_path: Path) -> None:
    (view,) = [d for d in load_definitions(write_repo(tmp_path / "repo")) if isinstance(d, FeatureView)]
    assert isinstance(view.source, ParquetSource)
    assert view.source.path == str((tmp_path / "repo" / "driver_stats.parquet").resolve())


def test_removing_a_used_field_is_refused_naming_every_consumer(ws: weir.Workspace, tmp_path: Path) -> None:
    ws.features.apply(write_repo(tmp_path / "repo"))
    model = DummyClassifier().fit([[0.0]], [0])
    ws.models.register("eta", model, input_example=[[0.0]], code_path=None, feature_service="driver_service")
    ws.models.register("eta", model, input_example=[[0.0]], code_path=None)
    ws.deployments.deploy("eta-endpoint", "eta/1", options={"feature_service": "driver_service"})
    write_repo(tmp_path / "repo", fields='{"conv_rate": "float64"}')
    with pytest.raises(BreakingChangeError) as caught:
        ws.features.apply(tmp_path / "repo")
    message = str(caught.value)
    assert "removes or retypes trips" in message
    for consumer in ("feature service 'driver_service'", "deployment 'eta-endpoint'", "model 'eta'", "--force"):
        assert consumer in message
    assert caught.value.status == 409
    # nothing was written: the view is still at version 1
    assert ws.features.catalog.registered("view", "driver_stats").version == 1


def test_retyping_a_field_is_breaking_but_forced_applies(ws: weir.Workspace, tmp_path: Path) -> None:
    ws.features.apply(write_repo(tmp_path / "repo"))
    write_repo(tmp_path / "repo", fields='{"conv_rate": "float64", "trips": "float64"}')
    with pytest.raises(BreakingChangeError, match="trips.*feature service 'driver_service'"):
        ws.features.apply(tmp_path / "repo")
    applied = {a.name: a for a in ws.features.apply(tmp_path / "repo", force=True)}
    assert applied["driver_stats"].version == 2


def test_a_change_no_one_consumes_is_not_breaking(ws: weir.Workspace, tmp_path: Path) -> None:
    ws.features.apply(write_repo(tmp_path / "repo", service_features='"driver_stats:conv_rate"'))
    write_repo(tmp_path / "repo", fields='{"conv_rate": "float64"}', service_features='"driver_stats:conv_rate"')
    applied = {a.name: a for a in ws.features.apply(tmp_path / "repo")}
    assert applied["driver_stats"].version == 2


def test_removing_a_feature_from_a_deployed_service_is_breaking(ws: weir.Workspace, tmp_path: Path) -> None:
    ws.features.apply(write_repo(tmp_path / "repo"))
    ws.models.register("eta", DummyClassifier().fit([[0.0]], [0]), input_example=[[0.0]], code_path=None)
    ws.deployments.deploy("eta", "eta/1", options={"feature_service": "driver_service"})
    write_repo(tmp_path / "repo", service_features='"driver_stats:conv_rate"')
    with pytest.raises(BreakingChangeError, match=r"FeatureService 'driver_service' removes driver_stats:trips.*'eta'"):
        ws.features.apply(tmp_path / "repo")


def test_references_are_checked(ws: weir.Workspace) -> None:
    driver = Entity("driver", join_keys={"driver_id": "int64"})
    view = FeatureView(
        "stats", entities=[driver], source=ParquetSource("x.parquet"), event_time="ts", fields={"a": "float64"}
    )
    with pytest.raises(ValidationError, match="uses entity 'driver', which is not registered"):
        ws.features.apply([view])
    with pytest.raises(FeatureNotFoundError, match="view 'stats', which is not registered"):
        ws.features.apply([driver, FeatureService("svc", features=["stats:a"])])
    with pytest.raises(FeatureNotFoundError, match="has no feature 'b'; it has a"):
        ws.features.apply([driver, view, FeatureService("svc", features=["stats:b"])])
    ws.features.apply([driver, view])
    with pytest.raises(BreakingChangeError, match="changes its join keys, which breaks feature views stats"):
        ws.features.apply([Entity("driver", join_keys={"driver_id": "string"})])
    with pytest.raises(ValidationError, match="uses entity 'driver' with join keys"):
        ws.features.apply([Entity("driver", join_keys={"driver_id": "string"}), view], force=True)


def test_unknown_names_get_a_hint(ws: weir.Workspace, tmp_path: Path) -> None:
    with pytest.raises(FeatureNotFoundError, match="none is registered; run `weir features apply PATH`"):
        ws.features.catalog.view("nope")
    ws.features.apply(write_repo(tmp_path / "repo"))
    with pytest.raises(FeatureNotFoundError, match="FeatureService 'nope' does not exist .registered: driver_service"):
        ws.features.catalog.service("nope")
    with pytest.raises(FeatureNotFoundError, match="has no version 9"):
        ws.features.catalog.registered("view", "driver_stats", 9)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Entity("1bad", join_keys={"k": "int64"}), "Entity name '1bad' is not valid"),
        (lambda: Entity("e", join_keys={"k": "float64"}), "join key 'k' is float64"),
        (lambda: Entity("e", join_keys={}), "needs at least one column"),
        (
            lambda: FeatureView("v", entities=[], source=ParquetSource("x"), event_time="t", fields={"a": "int64"}),
            "needs entities",
        ),
        (
            lambda: FeatureView(
                "v",
                entities=[Entity("e", join_keys={"k": "int64"})],
                source=ParquetSource("x"),
                event_time="t",
                fields={"a": "decimal"},
            ),
            "has type 'decimal'",
        ),
        (
            lambda: FeatureView(
                "v",
                entities=[Entity("e", join_keys={"k": "int64"})],
                source=ParquetSource("x"),
                event_time="t",
                fields={"k": "int64"},
            ),
            "field 'k' is also a join key",
        ),
        (lambda: FeatureService("s", features=["no_colon"]), "is not 'view:feature'"),
        (lambda: FeatureService("s", features=["v:a", "v:a"]), "lists a feature twice"),
    ],
)
def test_bad_definitions_are_refused_when_declared(build: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        build()  # type: ignore[operator]


def test_a_definitions_file_that_fails_names_itself(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(ValidationError, match=r"bad.py' failed to run: RuntimeError: boom"):
        load_definitions(bad)
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(ValidationError, match="defines no Entity, FeatureView or FeatureService"):
        load_definitions(empty)
    with pytest.raises(ValidationError, match="does not exist"):
        load_definitions(tmp_path / "missing.py")


def test_a_model_trained_on_a_frame_records_its_lineage(ws: weir.Workspace, tmp_path: Path) -> None:
    import pandas as pd

    ws.features.apply(write_repo(tmp_path / "repo"))
    entities = pd.DataFrame(
        {
            "driver_id": [1, 2, 1],
            "event_timestamp": pd.to_datetime(["2026-11-03T00:00", "2026-11-03T00:00", "2026-11-01T06:00"]),
        }
    )
    frame = ws.features.training_frame(entities, "driver_service")
    X = frame.to_pandas()[["conv_rate", "trips"]]
    version = ws.models.register("eta", DummyClassifier().fit(X, [0, 1, 0]), input_example=X, code_path=None,
                                 **frame.lineage())  # fmt: skip
    assert version.lineage["data_fingerprint"] == frame.fingerprint
    assert (version.lineage["feature_service"], version.lineage["feature_service_version"]) == ("driver_service", 1)
    profile = ws.features.catalog.profile(frame.fingerprint)
    assert profile["rows"] == 3 and profile["features"]["trips"]["count"] == 3
    assert profile["features"]["conv_rate"]["quantiles"]["0.5"] == 0.2
