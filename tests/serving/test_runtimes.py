"""Model runtimes: every model kind is served by the runtime it should be, and predicts as the model does.

The conformance cases register real (seeded) models, load them back and build their runtime from
the five-row input example, as the server does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from skl2onnx import to_onnx
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, make_classification, make_regression
from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

import weir
from weir.edge import convert
from weir.edge.convert import SYNTHETIC_ROWS, check_sample
from weir.errors import SignatureError
from weir.registry.formats.base import LoadedModel
from weir.serving.runtimes import NativeRuntime, OnnxRuntime, Prediction, build_runtime, equivalence
from weir.serving.runtimes.equivalence import compare
from weir.serving.runtimes.onnx import create_session

# skl2onnx 1.20 writes boolean tree attributes that protobuf 6 warns about (harmless until protobuf 7).
pytestmark = pytest.mark.filterwarnings("ignore:Field onnx.AttributeProto:DeprecationWarning")


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    """OpenMP threads only slow the small fits and predictions here down (by 10x on two cores)."""
    with threadpool_limits(1):
        yield


@dataclass
class Case:
    model: Any
    train: pd.DataFrame | np.ndarray[Any, Any]
    held_out: pd.DataFrame | np.ndarray[Any, Any]
    runtime: str  # the runtime that must serve it
    reason: str  # a phrase the reason must contain
    reference: Any = None  # what predicts the expected values (default: model)


def _frame(X: np.ndarray[Any, Any]) -> pd.DataFrame:
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame["count"] = (np.abs(X[:, 0]) * 10).astype(np.int64)  # an int column: the signature is not all float
    return frame


@cache
def _classification() -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    X, y = make_classification(n_samples=400, n_features=6, n_informative=4, n_classes=3, random_state=0)
    return _frame(X), y


@cache
def _regression() -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    X, y = make_regression(n_samples=400, n_features=6, noise=5.0, random_state=0)
    return _frame(X), y


@cache
def _benchmark() -> tuple[Any, pd.DataFrame]:
    """Pipeline(StandardScaler, HistGradientBoostingClassifier) on breast_cancer: the serving benchmark model."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), HistGradientBoostingClassifier(max_iter=100, random_state=0)).fit(X, y)
    return model, X


def _split(frame: pd.DataFrame, y: np.ndarray[Any, Any]) -> tuple[pd.DataFrame, np.ndarray[Any, Any], pd.DataFrame]:
    return frame.iloc[:300], y[:300], frame.iloc[300:].reset_index(drop=True)


def _logistic() -> Case:
    train, y, held_out = _split(*_classification())
    return Case(LogisticRegression(max_iter=1000).fit(train, y), train, held_out, "onnxruntime", "double")


def _pipeline_hgb() -> Case:
    model, X = _benchmark()
    return Case(model, X, X, "onnxruntime", "split")


def _random_forest() -> Case:
    train, y, held_out = _split(*_classification())
    return Case(
        RandomForestClassifier(n_estimators=20, random_state=0).fit(train, y), train, held_out, "onnxruntime", "float"
    )


def _linear_regression() -> Case:
    train, y, held_out = _split(*_regression())
    return Case(LinearRegression().fit(train, y), train, held_out, "onnxruntime", "double")


def _gradient_boosting_regressor() -> Case:
    train, y, held_out = _split(*_regression())
    model = GradientBoostingRegressor(n_estimators=50, random_state=0).fit(train, y)
    return Case(model, train, held_out, "onnxruntime", "float")


def _onnx_graph() -> Case:
    X, y = make_classification(n_samples=300, n_features=5, random_state=2)
    X = X.astype(np.float32)
    fitted = LogisticRegression().fit(X[:200], y[:200])
    graph = to_onnx(fitted, X[:1], options={"zipmap": False})
    return Case(graph, X[:200], X[200:], "onnxruntime", "stored ONNX graph", reference=fitted)


def _lightgbm() -> Case:
    train, y, held_out = _split(*_classification())
    model = lgb.LGBMClassifier(n_estimators=20, verbose=-1, random_state=0, n_jobs=1).fit(train, y)
    return Case(model, train, held_out, "native", "onnxmltools")


CASES: dict[str, Callable[[], Case]] = {
    "logistic_regression": _logistic,
    "pipeline_scaler_hgb": _pipeline_hgb,
    "random_forest": _random_forest,
    "linear_regression": _linear_regression,
    "gradient_boosting_regressor": _gradient_boosting_regressor,
    "onnx_graph": _onnx_graph,
    "lightgbm": _lightgbm,
}


Loader = Callable[..., LoadedModel]


@pytest.fixture(scope="module")
def load(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loader]:
    """Register a model (once per name in this module) and load it back, as the server would."""
    home = tmp_path_factory.mktemp("weir")
    with pytest.MonkeyPatch.context() as patch:  # the isolation tests/conftest.py gives function-scoped tests
        for key in [k for k in os.environ if k.startswith("WEIR_")]:
            patch.delenv(key)
        patch.chdir(home)
        workspace = weir.connect(home=home)
    loaded: dict[str, LoadedModel] = {}

    def register_and_load(name: str, model: Any, example: Any) -> LoadedModel:
        if name not in loaded:
            version = workspace.models.register(name, model, input_example=example)
            loaded[name] = workspace.models.load(f"{name}/{version.version}")
        return loaded[name]

    yield register_and_load
    workspace.close()


def _array(X: pd.DataFrame | np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return X.to_numpy(dtype=np.float64) if isinstance(X, pd.DataFrame) else X


def _assert_same(a: Prediction, b: Prediction) -> None:
    np.testing.assert_array_equal(a.predictions, b.predictions)
    if a.probabilities is None:
        assert b.probabilities is None
    else:
        assert b.probabilities is not None
        np.testing.assert_array_equal(a.probabilities, b.probabilities)
    assert a.classes == b.classes


@pytest.mark.parametrize("kind", list(CASES))
def test_runtime_conformance(kind: str, load: Loader) -> None:
    case = CASES[kind]()
    loaded = load(kind, case.model, case.train[:5])
    runtime = build_runtime(loaded, case.train[:5])

    assert runtime.name == case.runtime, runtime.reason
    assert case.reason in runtime.reason
    expected_runtime = OnnxRuntime if case.runtime == "onnxruntime" else NativeRuntime
    assert isinstance(runtime, expected_runtime)

    # predictions equal the model's own on held-out rows
    got = runtime.predict(case.held_out)
    reference = case.reference if case.reference is not None else case.model
    expected = np.asarray(reference.predict(case.held_out))
    assert got.predictions.shape == expected.shape
    classifier = hasattr(reference, "classes_")
    if classifier:
        np.testing.assert_array_equal(got.predictions, expected)
        assert got.classes == tuple(reference.classes_.tolist())
        assert all(type(c) is int for c in got.classes)
        assert got.probabilities is not None and got.probabilities.dtype == np.float64
        np.testing.assert_allclose(got.probabilities, reference.predict_proba(case.held_out), rtol=0, atol=1e-5)
    else:
        np.testing.assert_allclose(got.predictions, expected, rtol=1e-6, atol=1e-5)
        assert got.probabilities is None and got.classes is None

    # the 2-D numpy fast path answers exactly what the DataFrame path answers
    _assert_same(runtime.predict(_array(case.held_out)), got)
    _assert_same(runtime.predict(_array(case.held_out)[:1]), runtime.predict(case.held_out[:1]))

    described = json.loads(json.dumps(runtime.describe(), allow_nan=False))  # JSON-safe
    assert described["runtime"] == case.runtime and described["reason"] == runtime.reason
    if case.runtime == "onnxruntime":
        check = described["check"]
        assert check["rows"] == 5 + SYNTHETIC_ROWS and check["passed"] is True
        assert check["max_abs_diff"] <= 1e-5 * max(1.0, float(np.abs(expected).max()))
        assert check["label_agreement"] == (1.0 if classifier else None)
        inputs = described["onnx"]["inputs"]
        assert len(inputs) == 1 and inputs[0]["type"] in ("tensor(double)", "tensor(float)")
        assert inputs[0]["shape"][1] == _array(case.held_out).shape[1]
    else:
        assert described["check"] is None and described["format"] == "lightgbm"


def test_benchmark_pipeline_is_served_by_onnxruntime_within_1e5(load: Loader) -> None:
    model, X = _benchmark()
    runtime = build_runtime(load("benchmark", model, X[:5]), X[:5])
    assert isinstance(runtime, OnnxRuntime) and runtime.strategy == "split"
    assert runtime.check is not None and runtime.check.max_abs_diff is not None
    assert runtime.check.max_abs_diff <= 1e-5 and runtime.check.label_agreement == 1.0
    # on all 569 rows, not only the check sample
    got = runtime.predict(X.to_numpy())
    np.testing.assert_array_equal(got.predictions, model.predict(X))
    assert np.abs(got.probabilities - model.predict_proba(X)).max() <= 1e-5


def test_whole_float_conversion_of_the_benchmark_really_differs(load: Loader) -> None:
    """The float32 trap: the scaler run in float32 moves probabilities by far more than atol."""
    model, X = _benchmark()
    loaded = load("benchmark", model, X[:5])
    whole_float = next(c for c in convert.conversions(model, X.shape[1]) if c.strategy == "float")
    assert whole_float.model is not None
    onnx_runtime = OnnxRuntime(
        create_session(whole_float.model.SerializeToString()),
        reason="whole float",
        columns=list(X.columns),
        classes=(0, 1),
    )
    result = equivalence.check(NativeRuntime(loaded, reason="reference").predict(X), onnx_runtime, X, atol=1e-5)
    assert not result.passed
    assert result.max_abs_diff is not None and result.max_abs_diff > 1e-3
    assert result.rows_beyond_tolerance > 10
    assert "> atol 1e-05" in result.summary()


def test_a_conversion_that_disagrees_falls_back_to_native_with_the_figures(load: Loader) -> None:
    model, X = _benchmark()
    runtime = build_runtime(load("benchmark", model, X[:5]), X[:5], atol=0.0)
    assert isinstance(runtime, NativeRuntime)
    assert runtime.reason.startswith("native: the ONNX conversion disagrees with the model")
    assert "split: max |Δ|" in runtime.reason and "float: max |Δ|" in runtime.reason
    assert "> atol 0 on 261 rows" in runtime.reason and "rows beyond tolerance" in runtime.reason
    check = runtime.describe()["check"]
    assert check["passed"] is False and check["rows"] == 261 and check["max_abs_diff"] > 0
    np.testing.assert_array_equal(runtime.predict(X.to_numpy()).predictions, model.predict(X))


def test_no_sample_means_native(load: Loader) -> None:
    train, y, _ = _split(*_classification())
    loaded = load("logistic", LogisticRegression(max_iter=1000).fit(train, y), train[:5])
    for sample in (None, train[:0]):
        runtime = build_runtime(loaded, sample)
        assert runtime.name == "native"
        assert runtime.reason == "native: no input example to check the conversion"
    off = build_runtime(loaded, train[:5], prefer_onnx=False)
    assert off.name == "native" and "prefer_onnx=False" in off.reason


def test_non_numeric_inputs_are_served_natively(load: Loader) -> None:
    frame = pd.DataFrame({"city": ["a", "b", "c", "a", "b", "c"] * 5, "x": np.arange(30.0)})
    y = np.arange(30) % 2
    encode = ColumnTransformer([("city", OneHotEncoder(), ["city"])], remainder="passthrough")
    model = make_pipeline(encode, LogisticRegression()).fit(frame, y)
    runtime = build_runtime(load("strings", model, frame[:5]), frame[:5])
    assert runtime.name == "native"
    assert "non-numeric column(s): city (string)" in runtime.reason
    np.testing.assert_array_equal(runtime.predict(frame).predictions, model.predict(frame))


def test_an_estimator_skl2onnx_cannot_convert_is_served_natively(load: Loader) -> None:
    train, y, held_out = _split(*_regression())
    model = KernelRidge().fit(train, y)
    runtime = build_runtime(load("kernel", model, train[:5]), train[:5])
    assert runtime.name == "native"
    assert runtime.reason.startswith("native: skl2onnx cannot convert KernelRidge: MissingShapeCalculator")
    np.testing.assert_allclose(runtime.predict(held_out.to_numpy()).predictions, model.predict(held_out))


@pytest.mark.parametrize("labels", [["no", "yes"], [False, True], [0.0, 1.0]], ids=["str", "bool", "float"])
def test_class_labels_keep_their_type(labels: list[Any], load: Loader) -> None:
    train, y, held_out = _split(*_regression())
    target = np.asarray(labels)[(y > 0).astype(int)]
    model = LogisticRegression(max_iter=1000).fit(train, target)
    runtime = build_runtime(load(f"labels-{type(labels[0]).__name__}", model, train[:5]), train[:5])
    assert runtime.name == "onnxruntime", runtime.reason
    got = runtime.predict(held_out.to_numpy())
    assert got.classes == tuple(labels)
    assert got.predictions.tolist() == model.predict(held_out).tolist()
    assert [type(v) for v in got.predictions.tolist()] == [type(labels[0])] * len(held_out)


def test_wrong_input_raises_signature_errors(load: Loader) -> None:
    train, y, _ = _split(*_classification())
    loaded = load("forest", RandomForestClassifier(n_estimators=5, random_state=0).fit(train, y), train[:5])
    onnx_runtime = build_runtime(loaded, train[:5])
    native = build_runtime(loaded, None)
    assert isinstance(onnx_runtime, OnnxRuntime) and isinstance(native, NativeRuntime)
    for runtime in (onnx_runtime, native):
        with pytest.raises(SignatureError, match=r"shape \[2, 3\]"):
            runtime.predict(np.zeros((2, 3)))
    with pytest.raises(SignatureError, match="cannot be read as float32"):
        onnx_runtime.predict(np.array([["x"] * 7]))
    with pytest.raises(SignatureError, match="missing 'count'"):
        onnx_runtime.predict(train.drop(columns="count"))


def test_check_sample_resamples_each_column_deterministically() -> None:
    given = pd.DataFrame({"a": [1, 2, 3, 4, 5], "b": [0.5, 1.5, 2.5, 3.5, 4.5]})
    sample = check_sample(given)
    assert isinstance(sample, pd.DataFrame)
    assert len(sample) == 5 + 256 and sample.dtypes.tolist() == given.dtypes.tolist()
    pd.testing.assert_frame_equal(sample.iloc[:5], given)
    assert set(sample["a"]) == set(given["a"]) and set(sample["b"]) == set(given["b"])
    # columns are drawn independently: rows appear that the example never had
    pairs = set(zip(sample["a"], sample["b"], strict=True))
    assert len(pairs) > 5
    pd.testing.assert_frame_equal(check_sample(given), sample)
    array = check_sample(given.to_numpy())
    assert isinstance(array, np.ndarray) and array.shape == (261, 2)


def test_regression_tolerance_is_relative_for_large_values() -> None:
    reference = Prediction(np.array([1.0, 1e6]))
    assert compare(reference, Prediction(np.array([1.0, 1e6 + 0.5])), atol=1e-5).passed
    failed = compare(reference, Prediction(np.array([1.0 + 1e-4, 1e6])), atol=1e-5)
    assert not failed.passed and failed.rows_beyond_tolerance == 1
    assert failed.summary() == "max |Δ| 0.0001 > atol 1e-05 on 2 rows, 1 of 2 rows beyond tolerance"
    classes = Prediction(np.array([0, 1]), np.array([[1.0, 0.0], [0.0, 1.0]]), (0, 1))
    flipped = compare(classes, Prediction(np.array([0, 0]), np.array([[1.0, 0.0], [0.0, 1.0]]), (0, 1)), atol=1e-5)
    assert flipped.label_agreement == 0.5 and "1 of 2 rows disagree" in flipped.summary()
