"""The minimal edge runtime: verified loading, predictions equal to onnxruntime's and sklearn's, input checks."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.edge.test_bundle import breast_cancer, bundle_kwargs, classifier, diabetes, flip_byte, regressor
from weir.edge import (
    BundleError,
    BundleSignatureError,
    EdgeModel,
    EdgePrediction,
    EncryptedLog,
    InputMismatchError,
    generate_log_key,
    read_encrypted_log,
    write_bundle,
)
from weir.errors import ModelLoadError, NotFittedError, ValidationError

KEY = Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def models() -> dict[str, Any]:
    return {
        "tensor": classifier(zipmap=False),
        "zipmap": classifier(zipmap=True),
        "zipmap_strings": classifier(zipmap=True, string_labels=True),
        "regressor": regressor(),
    }


def _bundle(folder: Path, built: Any, *, regression: bool = False, **changes: Any) -> Path:
    _, onnx_bytes, outputs = built
    columns = diabetes()[2] if regression else breast_cancer()[2]
    kwargs = {**bundle_kwargs(columns, outputs, "float64" if regression else "float32"), **changes}
    return write_bundle(folder, onnx_bytes, private_key=KEY, **kwargs)


@pytest.fixture
def clf(tmp_path: Path, models: dict[str, Any]) -> EdgeModel:
    return EdgeModel.load(_bundle(tmp_path / "clf", models["tensor"]), public_key=KEY.public_key())


def _direct(onnx_bytes: bytes, X: np.ndarray) -> list[Any]:
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: X})  # type: ignore[no-any-return]


# --- predictions ---------------------------------------------------------------------------------


def test_classifier_predictions_equal_onnxruntime_and_sklearn(clf: EdgeModel, models: dict[str, Any]) -> None:
    sk_model, onnx_bytes, _ = models["tensor"]
    X = breast_cancer()[0]

    prediction = clf.predict(X)

    labels, probabilities = _direct(onnx_bytes, X.astype(np.float32))
    np.testing.assert_array_equal(prediction.labels, labels)
    np.testing.assert_array_equal(prediction.probabilities, probabilities)
    np.testing.assert_array_equal(prediction.labels, sk_model.predict(X))
    np.testing.assert_allclose(prediction.probabilities, sk_model.predict_proba(X), atol=1e-5, rtol=0)
    assert prediction.classes == (0, 1)
    assert prediction.probabilities is not None and prediction.probabilities.shape == (len(X), 2)
    assert len(prediction) == len(X)


def test_regressor_predictions_equal_onnxruntime_and_sklearn(tmp_path: Path, models: dict[str, Any]) -> None:
    sk_model, onnx_bytes, _ = models["regressor"]
    X = diabetes()[0]
    model = EdgeModel.load(_bundle(tmp_path / "reg", models["regressor"], regression=True), public_key=KEY.public_key())

    prediction = model.predict(X)

    assert prediction.probabilities is None and prediction.classes is None
    assert prediction.values.shape == (len(X),)
    np.testing.assert_array_equal(prediction.values, _direct(onnx_bytes, X)[0][:, 0])
    np.testing.assert_allclose(prediction.values, sk_model.predict(X), rtol=1e-9)


@pytest.mark.parametrize("name", ["zipmap", "zipmap_strings"])
def test_zipmap_outputs_become_a_probability_matrix(tmp_path: Path, models: dict[str, Any], name: str) -> None:
    sk_model, onnx_bytes, _ = models[name]
    X = breast_cancer()[0]
    model = EdgeModel.load(_bundle(tmp_path / name, models[name]), public_key=KEY.public_key())

    prediction = model.predict(X)

    assert prediction.classes == tuple(sk_model.classes_)
    assert prediction.probabilities is not None and prediction.probabilities.shape == (len(X), 2)
    labels, zipmap = _direct(onnx_bytes, X.astype(np.float32))
    expected = np.array([[row[c] for c in sk_model.classes_] for row in zipmap], dtype=np.float32)
    np.testing.assert_array_equal(prediction.probabilities, expected)
    np.testing.assert_array_equal(prediction.labels, labels)
    np.testing.assert_array_equal(prediction.labels, sk_model.predict(X))
    np.testing.assert_allclose(prediction.probabilities, sk_model.predict_proba(X), atol=1e-5, rtol=0)


def test_zipmap_without_classes_in_the_manifest_takes_the_maps_keys(tmp_path: Path, models: dict[str, Any]) -> None:
    _, _, outputs = models["zipmap_strings"]
    folder = _bundle(tmp_path / "b", models["zipmap_strings"], outputs={**outputs, "classes": None})
    prediction = EdgeModel.load(folder, public_key=KEY.public_key()).predict(breast_cancer()[0][:3])
    assert prediction.classes == ("benign", "malignant")
    assert prediction.probabilities is not None and prediction.probabilities.shape == (3, 2)


def test_probabilities_only_derive_labels_from_the_classes(tmp_path: Path, models: dict[str, Any]) -> None:
    sk_model, _, outputs = models["tensor"]
    folder = _bundle(tmp_path / "b", models["tensor"], outputs={**outputs, "label": None})
    X = breast_cancer()[0]
    prediction = EdgeModel.load(folder, public_key=KEY.public_key()).predict(X)
    np.testing.assert_array_equal(prediction.labels.astype(int), sk_model.predict(X))


def test_every_input_shape_gives_the_same_predictions(clf: EdgeModel) -> None:
    X, _, columns = breast_cancer()
    X = X[:20]
    expected = clf.predict(X)

    as_columns = {c: X[:, j].tolist() for j, c in enumerate(columns)}
    reversed_columns = dict(reversed(list(as_columns.items())))  # the order of the keys does not matter
    rows = [dict(zip(columns, row, strict=True)) for row in X.tolist()]
    frame = pd.DataFrame(X[:, ::-1], columns=columns[::-1])  # a data frame, columns in another order
    for given in (as_columns, reversed_columns, rows, X.tolist(), frame, X.astype(np.float32)):
        got = clf.predict(given)
        np.testing.assert_array_equal(got.labels, expected.labels)
        np.testing.assert_allclose(got.probabilities, expected.probabilities, atol=1e-7)  # type: ignore[arg-type]

    one = clf.predict(rows[3])  # a single row dict
    assert one.labels.tolist() == expected.labels[3:4].tolist()


def test_inputs_are_cast_to_the_manifest_dtype(tmp_path: Path, models: dict[str, Any], clf: EdgeModel) -> None:
    reg = EdgeModel.load(_bundle(tmp_path / "reg", models["regressor"], regression=True), public_key=KEY.public_key())
    ints = np.arange(20).reshape(2, 10)
    np.testing.assert_array_equal(reg.predict(ints).values, reg.predict(ints.astype(np.float64)).values)
    bools = np.zeros((1, 30), dtype=bool)
    np.testing.assert_array_equal(clf.predict(bools).probabilities, clf.predict(np.zeros((1, 30))).probabilities)


def test_missing_values_pass_as_nan(clf: EdgeModel) -> None:
    X, _, columns = breast_cancer()
    row = dict(zip(columns, X[0].tolist(), strict=True))
    with_nan = clf.predict([{**row, "mean_radius": math.nan}])
    with_none = clf.predict([{**row, "mean_radius": None}])
    np.testing.assert_array_equal(with_nan.probabilities, with_none.probabilities)
    assert with_nan.labels.shape == (1,)


def test_zero_rows_give_an_empty_prediction(clf: EdgeModel) -> None:
    prediction = clf.predict(np.empty((0, 30)))
    assert prediction.labels.shape == (0,)
    assert prediction.probabilities is not None and prediction.probabilities.shape == (0, 2)
    assert len(clf.predict([])) == 0


@pytest.mark.parametrize(
    ("make_input", "message"),
    [
        (lambda X, cols: X[0], r"1-D array of shape \(30,\).*reshape\(1, -1\)"),
        (lambda X, cols: X[:2, :29], "has 29 columns; the model takes 30: 'mean_radius'"),
        (lambda X, cols: X[:2].reshape(2, 5, 6), r"shape \(2, 5, 6\)"),
        (
            lambda X, cols: {c: X[:2, j] for j, c in enumerate(cols) if c != "worst_area"},
            "Missing column.*'worst_area'",
        ),
        (
            lambda X, cols: {**{c: X[:2, j] for j, c in enumerate(cols)}, "mean_raduis": [1, 2]},
            "Unknown column.*'mean_raduis' \\(did you mean 'mean_radius'\\?\\)",
        ),
        (
            lambda X, cols: [dict(zip(cols, X[0], strict=True)), dict(zip(cols[:-1], X[1], strict=False))],
            "Row 1: missing column.*'worst_fractal_dimension'",
        ),
        (
            lambda X, cols: [{**dict(zip(cols, X[0], strict=True)), "mean_area": "large"}],
            "Column 'mean_area' row 0 holds 'large' \\(str\\)",
        ),
        (
            lambda X, cols: {**{c: X[:3, j].tolist() for j, c in enumerate(cols)}, "mean_area": [1.0, b"x", 3.0]},
            "Column 'mean_area' row 1 holds b'x'",
        ),
        (
            lambda X, cols: np.array([["1.5"] * 30]),
            "Column 'mean_radius' row 0 holds '1.5' \\(str\\)",
        ),
        (
            lambda X, cols: [X[0].tolist(), [*X[1].tolist()[:5], {"a": 1}, *X[1].tolist()[6:]]],
            "Column 'mean_compactness' row 1 holds \\{'a': 1\\}",
        ),
        (lambda X, cols: [X[0].tolist(), X[1].tolist()[:10]], "different lengths"),
        (
            lambda X, cols: {**{c: X[:3, j].tolist() for j, c in enumerate(cols)}, "mean_area": [1.0, 2.0]},
            "'mean_area' has 2 values but column 'mean_radius' has 3",
        ),
        (
            lambda X, cols: {**{c: X[:3, j].tolist() for j, c in enumerate(cols)}, "mean_area": 1.0},
            "'mean_area' holds one value while column 'mean_radius' holds a list",
        ),
        (lambda X, cols: [dict(zip(cols, X[0], strict=True)), X[1].tolist()], "mix dicts and lists"),
        (lambda X, cols: "mean_radius=1", "got str"),
        (lambda X, cols: 42, "got int"),
    ],
)
def test_bad_inputs_are_named(clf: EdgeModel, make_input: Any, message: str) -> None:
    X, _, columns = breast_cancer()
    with pytest.raises(InputMismatchError, match=message) as info:
        clf.predict(make_input(X, columns))
    assert (info.value.status, info.value.code) == (422, "signature_mismatch")
    assert isinstance(info.value, ValueError)


# --- loading -------------------------------------------------------------------------------------


def test_load_verifies_before_anything_is_loaded(
    tmp_path: Path, models: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _bundle(tmp_path / "b", models["tensor"])
    flip_byte(folder / "model.onnx", 50)
    sessions: list[Any] = []
    monkeypatch.setattr(ort, "InferenceSession", lambda *a, **k: sessions.append(a))

    with pytest.raises(BundleError, match="SHA-256"):
        EdgeModel.load(folder, public_key=KEY.public_key())
    with pytest.raises(BundleSignatureError):
        EdgeModel.load(_bundle(tmp_path / "c", models["tensor"]), public_key=Ed25519PrivateKey.generate().public_key())
    assert sessions == []


def test_the_session_is_built_from_the_verified_bytes_not_the_file(
    tmp_path: Path, models: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _bundle(tmp_path / "b", models["tensor"])
    real = ort.InferenceSession
    seen: list[Any] = []

    def spy(model: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(model)
        # swap the file for another model now: the session must not see it
        (folder / "model.onnx").write_bytes(models["regressor"][1])
        return real(model, *args, **kwargs)

    monkeypatch.setattr(ort, "InferenceSession", spy)
    model = EdgeModel.load(folder, public_key=KEY.public_key(), intra_op_num_threads=2)

    assert len(seen) == 1 and isinstance(seen[0], bytes)
    assert hashlib.sha256(seen[0]).hexdigest() == model.manifest_.files["model.onnx"].sha256
    assert model.predict(breast_cancer()[0][:2]).probabilities.shape == (2, 2)  # type: ignore[union-attr]
    assert model.session_.get_session_options().intra_op_num_threads == 2
    assert model.session_.get_providers() == ["CPUExecutionProvider"]


def test_default_session_uses_one_thread(clf: EdgeModel) -> None:
    assert clf.session_.get_session_options().intra_op_num_threads == 1
    assert clf.columns == tuple(breast_cancer()[2])
    assert "cancer@3" in repr(clf)


def test_a_manifest_that_disagrees_with_the_model_is_refused(tmp_path: Path, models: dict[str, Any]) -> None:
    columns = breast_cancer()[2]
    cases = [
        ({"inputs": {"name": "features", "dtype": "float32", "columns": columns}}, "one input 'features'"),
        ({"inputs": {"name": "X", "dtype": "float64", "columns": columns}}, "takes tensor\\(float\\)"),
        ({"inputs": {"name": "X", "dtype": "float32", "columns": columns[:3]}}, "lists 3 columns"),
        ({"outputs": {"label": "label", "probabilities": "probs"}}, "output 'probs' is not an output"),
    ]
    for i, (change, message) in enumerate(cases):
        folder = _bundle(tmp_path / str(i), models["tensor"], **change)
        with pytest.raises(BundleError, match=message) as info:
            EdgeModel.load(folder, public_key=KEY.public_key())
        assert str(folder / "model.onnx") in info.value.message


def test_bytes_that_are_not_onnx_fail_to_load_with_the_path(tmp_path: Path) -> None:
    folder = write_bundle(
        tmp_path / "b", b"not onnx", private_key=KEY, **bundle_kwargs(["x"], {"value": "y"}, "float32")
    )
    with pytest.raises(ModelLoadError, match="onnxruntime cannot load") as info:
        EdgeModel.load(folder, public_key=KEY.public_key())
    assert str(folder / "model.onnx") in info.value.message


def test_intra_op_num_threads_must_be_positive(tmp_path: Path, models: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="intra_op_num_threads"):
        EdgeModel.load(_bundle(tmp_path / "b", models["tensor"]), public_key=KEY.public_key(), intra_op_num_threads=0)


def test_predict_before_load_is_refused() -> None:
    with pytest.raises(NotFittedError, match=r"EdgeModel.load"):
        EdgeModel().predict(np.zeros((1, 2)))
    assert repr(EdgeModel()) == "EdgeModel(not loaded)"


def test_edge_prediction_values_alias_labels() -> None:
    p = EdgePrediction(labels=np.array([1.5, 2.5]))
    assert p.values is p.labels and len(p) == 2


# --- prediction log ------------------------------------------------------------------------------


def test_predictions_are_logged_encrypted_one_record_per_row(tmp_path: Path, models: dict[str, Any]) -> None:
    key = generate_log_key()
    log = EncryptedLog(tmp_path / "log", key)
    model = EdgeModel.load(_bundle(tmp_path / "b", models["zipmap_strings"]), public_key=KEY.public_key(), log=log)
    X, _, columns = breast_cancer()
    rows = [dict(zip(columns, r, strict=True)) for r in X[:3].tolist()]
    rows[1]["mean_area"] = None

    first = model.predict(rows)
    second = model.predict(X[10:12])

    records = read_encrypted_log(tmp_path / "log", key)
    assert len(records) == 5 and model.log_failures_ == 0
    assert {r["model"] for r in records} == {"cancer@3"}
    assert {r["bundle"] for r in records} == {model.manifest_.digest}
    assert records[0]["inputs"] == rows[0]
    assert records[1]["inputs"]["mean_area"] is None
    assert records[3]["inputs"] == dict(zip(columns, X[10].tolist(), strict=True))
    assert [r["outputs"]["label"] for r in records] == [*first.labels.tolist(), *second.labels.tolist()]
    logged = [[math.nan if p is None else p for p in r["outputs"]["probabilities"]] for r in records]
    np.testing.assert_allclose(
        logged,
        np.vstack([first.probabilities, second.probabilities]),  # type: ignore[list-item]
        rtol=1e-6,
    )
    assert records[0]["time"] <= records[4]["time"]
    assert len(log.files) == 1 and len((log.files[0]).read_bytes()) > 0


def test_regression_predictions_log_their_value(tmp_path: Path, models: dict[str, Any]) -> None:
    key = generate_log_key()
    folder = _bundle(tmp_path / "b", models["regressor"], regression=True)
    model = EdgeModel.load(folder, public_key=KEY.public_key(), log=EncryptedLog(tmp_path / "log", key))
    prediction = model.predict(diabetes()[0][:2])
    records = read_encrypted_log(tmp_path / "log", key)
    assert [r["outputs"] for r in records] == [{"value": v} for v in prediction.values.tolist()]


def test_a_failing_log_never_fails_a_prediction(
    tmp_path: Path, models: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log folder should be")
    model = EdgeModel.load(
        _bundle(tmp_path / "b", models["tensor"]),
        public_key=KEY.public_key(),
        log=EncryptedLog(blocker / "log", generate_log_key()),
    )
    X = breast_cancer()[0][:4]

    with caplog.at_level("WARNING", logger="weir.edge.runtime"):
        first = model.predict(X)
        model.predict(X)

    assert first.labels.shape == (4,)
    assert model.log_failures_ == 2
    assert sum("Prediction log" in r.getMessage() for r in caplog.records) == 2
