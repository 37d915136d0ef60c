"""Export of registered versions into bundles: every supported model type converts and runs equivalently in
the minimal runtime; quantisation where the graph allows it and a clear refusal elsewhere; the equivalence
gate with the float32 trap named; the export recorded on the version; device logs brought back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from skl2onnx import to_onnx
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor, RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import weir
from weir.app import Workspace
from weir.edge import EdgeModel, EncryptedLog, create_keys, generate_log_key, verify_bundle
from weir.edge.export import NotEquivalentError, export_version
from weir.edge.importer import import_edge_log
from weir.errors import UnsupportedOperationError, ValidationError
from weir.store import PredictionLog


@pytest.fixture(scope="module")
def cancer() -> tuple[pd.DataFrame, np.ndarray]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X.columns = [c.replace(" ", "_") for c in X.columns]
    return X, y.to_numpy()


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = weir.connect(home=tmp_path / "ws", user="tester")
    yield workspace
    workspace.close()


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return create_keys(tmp_path / "k.pem", tmp_path / "k.pub")


CLASSIFIERS: dict[str, Callable[[], Any]] = {
    "hgb-pipeline": lambda: make_pipeline(
        StandardScaler(), HistGradientBoostingClassifier(max_iter=30, random_state=0)
    ),
    "random-forest": lambda: RandomForestClassifier(n_estimators=20, random_state=0),
    "logistic": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
    "mlp": lambda: make_pipeline(
        StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,), max_iter=400, random_state=0)
    ),
    "lightgbm": lambda: lgb.LGBMClassifier(n_estimators=30, verbose=-1, random_state=0),
    "xgboost": lambda: xgb.XGBClassifier(n_estimators=30, random_state=0),
}


@pytest.mark.parametrize("kind", sorted(CLASSIFIERS))
def test_every_supported_classifier_exports_and_runs_the_same_on_the_device(
    kind: str, ws: Workspace, cancer: tuple[pd.DataFrame, np.ndarray], keys: tuple[Path, Path], tmp_path: Path
) -> None:
    X, y = cancer
    model = CLASSIFIERS[kind]().fit(X, y)
    version = ws.models.register(kind, model, input_example=X.head(20))
    result = export_version(ws.models, version.ref, tmp_path / "bundle", private_key=keys[0])
    assert result.figures["max_abs_diff"] <= 1e-4 and result.figures["label_agreement"] == 1.0
    assert verify_bundle(result.folder, keys[1]).source["ref"] == version.ref
    device = EdgeModel.load(result.folder, public_key=keys[1])
    got = device.predict(X.to_numpy())
    assert (got.labels == model.predict(X)).all()
    assert np.abs(got.probabilities - model.predict_proba(X)).max() < 1e-4  # type: ignore[operator]
    (record,) = [r for r in ws.models.validations(version.ref) if r.name == "edge-export"]
    assert record.passed and record.metrics["size_bundle_bytes"] == (result.folder / "model.onnx").stat().st_size
    assert ws.models.artifacts.get_bytes(record.evidence["artifact"]) == (result.folder / "model.onnx").read_bytes()
    assert record.evidence["artifact"] not in ws.models.collect_garbage(older_than=0)  # a derived artifact is kept


def test_regressors_and_registered_onnx_export(ws: Workspace, tmp_path: Path, keys: tuple[Path, Path]) -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    for name, model in (("ridge", Ridge().fit(X, y)), ("hgbr", HistGradientBoostingRegressor(max_iter=30).fit(X, y))):
        version = ws.models.register(name, model, input_example=X.head(20))
        result = export_version(ws.models, version.ref, tmp_path / name, private_key=keys[0])
        device = EdgeModel.load(result.folder, public_key=keys[1])
        assert np.abs(device.predict(X.to_numpy()).labels - model.predict(X)).max() < 1e-3
    graph = to_onnx(Ridge().fit(X, y), X.to_numpy()[:1].astype(np.float32))
    onnx_version = ws.models.register("ridge-onnx", graph, input_example=X.head(20).to_numpy(np.float32))
    exported = export_version(ws.models, onnx_version.ref, tmp_path / "onnx")
    assert exported.figures["strategy"] == "registered ONNX"


def test_quantisation_where_the_graph_allows_and_a_refusal_that_explains(
    ws: Workspace, cancer: tuple[pd.DataFrame, np.ndarray], tmp_path: Path
) -> None:
    X, y = cancer
    ws.models.register("mlp", CLASSIFIERS["mlp"]().fit(X, y), input_example=X.head(20))
    plain = export_version(ws.models, "mlp/1", tmp_path / "plain")
    small = export_version(ws.models, "mlp/1", tmp_path / "int8", quantize="dynamic-int8", optimize=True)
    assert small.figures["size_bundle_bytes"] < plain.figures["size_bundle_bytes"] / 2
    assert small.manifest.quantization == "dynamic-int8" and small.figures["label_agreement"] >= 0.98
    calibrated = export_version(
        ws.models,
        "mlp/1",
        tmp_path / "static",
        quantize="static-int8",
        calibration=X.sample(200, random_state=0),
        atol=0.2,
    )
    assert calibrated.manifest.quantization == "static-int8"
    with pytest.raises(ValidationError, match="needs calibration rows"):
        export_version(ws.models, "mlp/1", tmp_path / "nocal", quantize="static-int8")
    ws.models.register("trees", CLASSIFIERS["hgb-pipeline"]().fit(X, y), input_example=X.head(20))
    with pytest.raises(UnsupportedOperationError, match="A tree ensemble cannot be quantised"):
        export_version(ws.models, "trees/1", tmp_path / "trees", quantize="dynamic-int8")
    ws.models.register("linear", CLASSIFIERS["logistic"]().fit(X, y), input_example=X.head(20))
    with pytest.raises(UnsupportedOperationError, match="no MatMul, Gemm or Conv.*LinearClassifier"):
        export_version(ws.models, "linear/1", tmp_path / "linear", quantize="dynamic-int8")
    assert not (tmp_path / "trees").exists() and not (tmp_path / "linear").exists()  # nothing written


def test_the_equivalence_gate_refuses_with_figures_and_names_the_float32_trap(ws: Workspace, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"account": 1e9 + rng.integers(0, 400, 2000).astype(float), "score": rng.normal(size=2000)})
    y = ((X["account"] - 1e9) % 64 > 31).astype(int).to_numpy()  # a pattern float32 cannot see at 1e9
    model = lgb.LGBMClassifier(n_estimators=40, num_leaves=63, min_child_samples=2, verbose=-1).fit(X, y)
    ws.models.register("accounts", model, input_example=X.head(200))
    with pytest.raises(NotEquivalentError) as refused:
        export_version(ws.models, "accounts/1", tmp_path / "b")
    message = refused.value.message
    assert "labels agree on" in message and "float32 trap" in message and "'account'" in message
    assert "'score'" not in message and not (tmp_path / "b").exists()


def test_device_logs_come_back_into_the_prediction_log(
    ws: Workspace, cancer: tuple[pd.DataFrame, np.ndarray], keys: tuple[Path, Path], tmp_path: Path
) -> None:
    X, y = cancer
    ws.models.register("cancer", CLASSIFIERS["logistic"]().fit(X, y), input_example=X.head(20))
    bundle = export_version(ws.models, "cancer/1", tmp_path / "b", private_key=keys[0]).folder
    key = generate_log_key()
    device = EdgeModel.load(bundle, public_key=keys[1], log=EncryptedLog(tmp_path / "log", key, max_bytes=20_000))
    for i in range(0, 100, 10):
        device.predict(X.iloc[i : i + 10].to_dict(orient="records"))
    log = PredictionLog(ws.settings.prediction_log)
    names = lambda model, version: ["benign", "malignant"]  # noqa: E731
    assert import_edge_log(log, tmp_path / "log", key, endpoint="cancer-edge", device="pi-7", classes=names) == 100
    assert import_edge_log(log, tmp_path / "log", key, endpoint="cancer-edge", device="pi-7") == 0  # nothing new
    rows = log.read("cancer-edge")
    assert len(rows) == 100 and rows["request_id"].str.startswith("pi-7-").all()
    assert set(rows.version) == {1} and np.allclose(rows["input.mean_radius"], X["mean_radius"].iloc[:100])
    assert ((rows["output.proba_benign"] + rows["output.proba_malignant"]).round(6) == 1).all()
    assert rows["request_id"].nunique() == 100


def test_scores_are_not_shipped_as_probabilities_and_float_labels_agree(
    ws: Workspace, cancer: tuple[pd.DataFrame, np.ndarray], tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    from sklearn.svm import LinearSVC

    X, y = cancer
    svc = make_pipeline(StandardScaler(), LinearSVC(random_state=0)).fit(X, y)
    ws.models.register("svc", svc, input_example=X.head(20))
    exported = export_version(ws.models, "svc/1", tmp_path / "svc", private_key=keys[0])
    assert exported.manifest.outputs.probabilities is None
    got = EdgeModel.load(exported.folder, public_key=keys[1]).predict(X.to_numpy())
    assert got.probabilities is None and (got.labels == svc.predict(X)).all()
    floats = LogisticRegression(max_iter=5000).fit(X, y.astype(float))
    ws.models.register("floats", floats, input_example=X.head(20))
    assert export_version(ws.models, "floats/1", tmp_path / "floats").figures["label_agreement"] == 1.0


def test_an_occupied_folder_or_a_bad_key_fails_before_any_work(ws: Workspace, cancer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    X, y = cancer
    ws.models.register("lr", LogisticRegression(max_iter=5000).fit(X, y), input_example=X.head(20))
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    with pytest.raises(ValidationError, match="not an empty folder"):
        export_version(ws.models, "lr/1", tmp_path / "taken")
    (tmp_path / "bad.pem").write_text("not a key")
    with pytest.raises(ValidationError, match="bad.pem"):
        export_version(ws.models, "lr/1", tmp_path / "out", private_key=tmp_path / "bad.pem")
    assert [r.name for r in ws.models.validations("lr/1")] == []
