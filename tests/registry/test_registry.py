"""The registry's behaviour, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from weir.app import Workspace
from weir.errors import (
    AliasNotFoundError,
    IntegrityError,
    ModelNotFoundError,
    SignatureError,
    UntrustedArtifactError,
    ValidationError,
    VersionNotFoundError,
)
from weir.events import AliasMoved, ModelVersionRegistered


@pytest.fixture(scope="module")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


def _fit(iris: tuple[pd.DataFrame, pd.Series], C: float = 1.0) -> LogisticRegression:
    X, y = iris
    return LogisticRegression(C=C, max_iter=500).fit(X, y)


def test_versions_are_numbered_and_immutable(workspace: Workspace, iris: tuple[pd.DataFrame, pd.Series]) -> None:
    X, _ = iris
    v1 = workspace.models.register("iris", _fit(iris, 0.1), input_example=X.head(), metrics={"acc": 0.9})
    v2 = workspace.models.register("iris", _fit(iris, 1.0), input_example=X.head(), params={"C": 1.0})
    assert (v1.version, v2.version) == (1, 2)
    assert v1.model_artifact["digest"] != v2.model_artifact["digest"]
    again = workspace.models.get_version("iris/1")
    assert again.model_artifact == v1.model_artifact and again.metrics == {"acc": 0.9}
    assert again.created_by == "tester"
    assert [v.version for v in workspace.models.versions("iris")] == [1, 2]
    assert workspace.models.get_model("iris").latest_version == 2
    assert workspace.models.get_version("iris").version == 2
    assert workspace.models.get_version("iris@latest").version == 2
    assert not hasattr(workspace.models, "update_version")


def test_loaded_model_predicts_like_the_original(workspace: Workspace, iris: tuple[pd.DataFrame, pd.Series]) -> None:
    X, _ = iris
    model = _fit(iris)
    workspace.models.register("iris", model, input_example=X.head())
    loaded = workspace.models.load("iris/1")
    assert loaded.ref == "iris/1"
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))
    shuffled = X[list(reversed(X.columns))]  # the signature restores the column order
    np.testing.assert_array_equal(loaded.predict(shuffled), model.predict(X))


def test_signature_is_inferred_and_enforced(workspace: Workspace, iris: tuple[pd.DataFrame, pd.Series]) -> None:
    X, _ = iris
    version = workspace.models.register("iris", _fit(iris), input_example=X.head())
    assert version.signature is not None
    assert [name for name, _ in version.signature.inputs.columns or ()] == list(X.columns)
    assert version.signature.outputs is not None and version.signature.outputs.shape == (-1,)
    loaded = workspace.models.load("iris/1")
    with pytest.raises(SignatureError, match="petal width"):
        loaded.predict(X.drop(columns=["petal width (cm)"]))
    with pytest.raises(SignatureError, match="sepal length"):
        loaded.predict(X.assign(**{"sepal length (cm)": "long"}))


def test_signature_that_does_not_match_the_sample_is_refused(
    workspace: Workspace, iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, _ = iris
    wrong = {"inputs": {"columns": [{"name": "age", "type": "int64"}]}}
    with pytest.raises(SignatureError, match="'age'"):
        workspace.models.register("iris", _fit(iris), input_example=X.head(), signature=wrong)
    with pytest.raises(ModelNotFoundError):
        workspace.models.get_model("iris")  # nothing half-written


def test_lineage_records_data_code_and_parent(
    workspace: Workspace, iris: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, _ = iris
    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (
        ["init", "-q"],
        ["-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "--allow-empty", "-m", "x"],
    ):
        subprocess.run(["git", "-C", str(repo), *args], check=True)
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    v1 = workspace.models.register(
        "iris",
        _fit(iris),
        training_data=X,
        code_path=str(repo),
        feature_service="iris_features",
        feature_service_version=3,
    )
    v2 = workspace.models.register("iris", _fit(iris, 0.5), data_fingerprint="sha256:abc", parent=1, code_path=None)
    assert v1.lineage["data_fingerprint"].startswith("sha256:")
    assert v1.lineage["code"] == {"commit": commit, "dirty": False}
    assert (v1.lineage["feature_service"], v1.lineage["feature_service_version"]) == ("iris_features", 3)
    assert v2.lineage["parent_version"] == 1 and v2.lineage["data_fingerprint"] == "sha256:abc"
    assert v2.lineage["code"] is None
    with pytest.raises(VersionNotFoundError, match="no version 9"):
        workspace.models.register("iris", _fit(iris), parent=9)


def test_aliases_move_and_history_answers_point_in_time(
    workspace: Workspace, iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    for C in (0.1, 1.0, 10.0):
        workspace.models.register("iris", _fit(iris, C))
    before_any = datetime.now(UTC)
    time.sleep(0.01)
    workspace.models.set_alias("iris", "champion", 1)
    after_first = datetime.now(UTC)
    time.sleep(0.01)
    move = workspace.models.set_alias("iris", "champion", 2, reason="better AUC")
    assert (move.previous_version, move.version) == (1, 2)
    workspace.models.set_alias("iris", "challenger", "champion")  # an alias resolves to its version
    assert workspace.models.get_version("iris@champion").version == 2
    assert workspace.models.get_version("iris@challenger").version == 2
    assert workspace.models.get_model("iris").aliases == {"challenger": 2, "champion": 2}
    assert workspace.models.alias_at("iris", "champion", before_any) is None
    assert workspace.models.alias_at("iris", "champion", after_first) == 1
    assert workspace.models.alias_at("iris", "champion", datetime.now(UTC) + timedelta(seconds=1)) == 2
    history = workspace.models.alias_history("iris", "champion")
    assert [(m.previous_version, m.version, m.reason) for m in history] == [(None, 1, ""), (1, 2, "better AUC")]
    workspace.models.delete_alias("iris", "challenger")
    assert workspace.models.alias_at("iris", "challenger", datetime.now(UTC) + timedelta(seconds=1)) is None
    with pytest.raises(AliasNotFoundError, match="challenger"):
        workspace.models.get_version("iris@challenger")


def test_bad_references_name_the_culprit(workspace: Workspace, iris: tuple[pd.DataFrame, pd.Series]) -> None:
    workspace.models.register("iris", _fit(iris))
    with pytest.raises(ModelNotFoundError, match="'churn' does not exist; registered models: iris"):
        workspace.models.get_version("churn/1")
    with pytest.raises(VersionNotFoundError, match="'iris' has no version 7; latest is 1"):
        workspace.models.get_version("iris/7")
    with pytest.raises(VersionNotFoundError, match="no version 5"):
        workspace.models.set_alias("iris", "champion", 5)
    with pytest.raises(ValidationError, match="reserved"):
        workspace.models.set_alias("iris", "latest", 1)
    with pytest.raises(ValidationError, match="invalid"):
        workspace.models.register("bad/name", _fit(iris))
    with pytest.raises(AliasNotFoundError):
        workspace.models.delete_alias("iris", "nobody")


def test_validation_records_are_kept_per_version(workspace: Workspace, iris: tuple[pd.DataFrame, pd.Series]) -> None:
    workspace.models.register("iris", _fit(iris))
    record = workspace.models.add_validation(
        "iris/1", "gate", passed=True, metrics={"auc": np.float64(0.97)}, evidence={"ci": [0.01, 0.03]}
    )
    assert record.version == 1 and record.metrics == {"auc": 0.97}
    assert [(r.name, r.passed, r.evidence) for r in workspace.models.validations("iris/1")] == [
        ("gate", True, {"ci": [0.01, 0.03]})
    ]


def test_corrupted_artifact_is_refused_on_load(workspace: Workspace, iris: tuple[pd.DataFrame, pd.Series]) -> None:
    version = workspace.models.register("iris", _fit(iris))
    path = workspace.artifacts.path(version.model_artifact["digest"])
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=version.model_artifact["digest"]):
        workspace.models.load("iris/1")


def test_pickle_needs_explicit_trust_recorded_in_audit(workspace: Workspace) -> None:
    class Doubler:
        def predict(self, X: object) -> np.ndarray:
            return np.asarray(X) * 2

    with pytest.raises(UntrustedArtifactError, match="trust_pickle"):
        workspace.models.register("custom", Doubler(), format="pickle")
    workspace.models.register("custom", Doubler(), format="pickle", trust_pickle=True, input_example=np.ones((2, 2)))
    with pytest.raises(UntrustedArtifactError, match="pickle"):
        workspace.models.load("custom/1")
    loaded = workspace.models.load("custom/1", trust_pickle=True)
    assert loaded.predict(np.ones((1, 2))).tolist() == [[2.0, 2.0]]
    actions = [(e.action, (e.after or {}).get("trusted_pickle")) for e in workspace.models.audit.entries()]
    assert ("version.register", True) in actions
    assert ("version.load_trusted_pickle", None) in actions


def test_events_are_emitted_after_commit(workspace: Workspace, iris: tuple[pd.DataFrame, pd.Series]) -> None:
    seen: list[object] = []
    workspace.events.subscribe(ModelVersionRegistered, seen.append)
    workspace.events.subscribe(AliasMoved, seen.append)
    workspace.models.register("iris", _fit(iris), aliases=["champion"])
    assert seen == [
        ModelVersionRegistered("iris", 1, "sklearn", "tester"),
        AliasMoved("iris", "champion", 1, None, "tester"),
    ]


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
def test_gradient_boosting_libraries_use_their_own_format(
    sqlite_workspace: Workspace, iris: tuple[pd.DataFrame, pd.Series], library: str
) -> None:
    X, y = iris
    if library == "lightgbm":
        import lightgbm

        model = lightgbm.LGBMClassifier(n_estimators=20, random_state=0, verbose=-1).fit(X, y)
    else:
        import xgboost

        model = xgboost.XGBClassifier(n_estimators=20, random_state=0).fit(X, y)
    version = sqlite_workspace.models.register("boosted", model, input_example=X.head())
    assert version.format == library
    loaded = sqlite_workspace.models.load("boosted/1")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), rtol=1e-6)


def test_bare_xgboost_booster_registers_without_its_own_predict_on_frames(
    sqlite_workspace: Workspace, iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    import xgboost

    X, y = iris
    booster = xgboost.train(
        {"objective": "multi:softprob", "num_class": 3, "nthread": 1}, xgboost.DMatrix(X, label=y), num_boost_round=5
    )
    version = sqlite_workspace.models.register("booster", booster, input_example=X.head())
    assert version.format == "xgboost"
    np.testing.assert_allclose(
        sqlite_workspace.models.load("booster/1").predict(X), booster.predict(xgboost.DMatrix(X))
    )


def test_garbage_collection_removes_only_unreferenced_blobs(
    workspace: Workspace, iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    kept = workspace.models.register("iris", _fit(iris, 1.0)).model_artifact["digest"]
    with pytest.raises(VersionNotFoundError):  # fails after its artifact was written
        workspace.models.register("iris", _fit(iris, 0.01), parent=9)
    orphans = set(workspace.artifacts.digests()) - {kept}
    assert len(orphans) == 1
    assert workspace.models.collect_garbage() == []  # within the grace period: kept
    assert set(workspace.models.collect_garbage(older_than=0, dry_run=True)) == orphans
    assert set(workspace.artifacts.digests()) == orphans | {kept}
    assert set(workspace.models.collect_garbage(older_than=0)) == orphans
    assert list(workspace.artifacts.digests()) == [kept]
    workspace.models.load("iris/1")
    assert workspace.models.audit.entries()[-1].action == "artifacts.gc"
    assert workspace.models.audit.verify().ok
