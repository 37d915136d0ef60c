"""One conformance suite for every model format (DESIGN convention 9).

Each name in ``formats.names()`` must have at least one case in ``CASES``; every check below runs
on every case, so a new format is tested the moment it is registered.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import xgboost as xgb
from onnx import ModelProto
from skl2onnx import to_onnx
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from weir.errors import (
    ModelLoadError,
    UnsupportedModelError,
    UnsupportedOperationError,
    UntrustedArtifactError,
    ValidationError,
)
from weir.registry import formats


@dataclass
class Case:
    model: object
    X: np.ndarray[Any, Any]
    labels: np.ndarray[Any, Any]  # what predict must return
    proba: np.ndarray[Any, Any] | None  # what predict_proba must return; None: no predict_proba
    exact: bool  # labels compare exactly (classes) or with allclose (regression, raw scores)
    reference_rtol: float = 1e-5

    @property
    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.X, columns=[f"f{i}" for i in range(self.X.shape[1])])


def _binary() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    return make_classification(n_samples=300, n_features=6, random_state=0)


def _multiclass() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    return make_classification(n_samples=300, n_features=6, n_informative=4, n_classes=3, random_state=1)


def _regression() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    return make_regression(n_samples=300, n_features=6, noise=5.0, random_state=2)


def _estimator_case(model: Any, X: np.ndarray[Any, Any], classifier: bool) -> Case:
    proba = model.predict_proba(X) if classifier else None
    return Case(model, X, np.asarray(model.predict(X)), proba, exact=classifier)


def _sklearn_binary() -> Case:
    X, y = _binary()
    pipe = make_pipeline(StandardScaler(), LogisticRegression(random_state=0))
    return _estimator_case(pipe.fit(X, y), X, True)


def _sklearn_forest() -> Case:  # needs sklearn.tree._tree.Tree, outside skops' default trust
    X, y = _multiclass()
    forest = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(X, y)
    return _estimator_case(forest, X, True)


def _sklearn_regressor() -> Case:
    X, y = _regression()
    return _estimator_case(Ridge(alpha=1.0).fit(X, y), X, False)


def _lgbm_binary_strings() -> Case:
    X, y = _binary()
    labels = np.array(["no", "yes"])[y]
    model = lgb.LGBMClassifier(n_estimators=20, random_state=0, n_jobs=1, verbose=-1).fit(X, labels)
    return _estimator_case(model, X, True)


def _lgbm_multiclass() -> Case:
    X, y = _multiclass()
    model = lgb.LGBMClassifier(n_estimators=20, random_state=0, n_jobs=1, verbose=-1).fit(X, y)
    return _estimator_case(model, X, True)


def _lgbm_regressor() -> Case:
    X, y = _regression()
    model = lgb.LGBMRegressor(n_estimators=20, random_state=0, n_jobs=1, verbose=-1).fit(X, y)
    return _estimator_case(model, X, False)


def _lgbm_booster() -> Case:
    X, y = _regression()
    params = {"objective": "regression", "verbose": -1, "seed": 0, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=10)
    return Case(booster, X, booster.predict(X), None, exact=False)


def _xgb_binary() -> Case:
    X, y = _binary()
    model = xgb.XGBClassifier(n_estimators=20, max_depth=3, random_state=0, n_jobs=1).fit(X, y)
    return _estimator_case(model, X, True)


def _xgb_multiclass() -> Case:
    X, y = _multiclass()
    model = xgb.XGBClassifier(n_estimators=20, max_depth=3, random_state=0, n_jobs=1).fit(X, y)
    return _estimator_case(model, X, True)


def _xgb_regressor() -> Case:
    X, y = _regression()
    model = xgb.XGBRegressor(n_estimators=20, max_depth=3, random_state=0, n_jobs=1).fit(X, y)
    return _estimator_case(model, X, False)


def _xgb_booster() -> Case:
    X, y = _binary()
    params = {"objective": "binary:logistic", "max_depth": 3, "seed": 0, "nthread": 1}
    booster = xgb.train(params, xgb.DMatrix(X, label=y), num_boost_round=10)
    return Case(booster, X, booster.predict(xgb.DMatrix(X)), None, exact=False)


def _onnx_case(model: Any, X: np.ndarray[Any, Any], classifier: bool, **options: Any) -> Case:
    # The reference is the scikit-learn model itself, on the float32 values the graph sees.
    X32 = X.astype(np.float32)
    proto = to_onnx(model, X32[:1], options={id(model): options} if options else None)
    case = _estimator_case(model, X32.astype(np.float64), classifier)
    case.model, case.reference_rtol = proto, 1e-4
    return case


def _onnx_multiclass_zipmap() -> Case:
    X, y = _multiclass()
    names = np.array(["ant", "bee", "cat"])[y]
    return _onnx_case(LogisticRegression(max_iter=500).fit(X, names), X, True)


def _onnx_binary_tensor() -> Case:
    X, y = _binary()
    model = LogisticRegression(max_iter=500).fit(X, y)
    return _onnx_case(model, X, True, zipmap=False)


def _onnx_regressor() -> Case:
    X, y = _regression()
    return _onnx_case(LinearRegression().fit(X, y), X, False)


def _pickle_classifier() -> Case:
    return _sklearn_binary()


def _pickle_regressor() -> Case:
    return _sklearn_regressor()


CASES: dict[str, dict[str, Callable[[], Case]]] = {
    "sklearn": {
        "binary-pipeline": _sklearn_binary,
        "forest": _sklearn_forest,
        "regressor": _sklearn_regressor,
    },
    "lightgbm": {
        "binary-str": _lgbm_binary_strings,
        "multiclass": _lgbm_multiclass,
        "regressor": _lgbm_regressor,
        "booster": _lgbm_booster,
    },
    "xgboost": {
        "binary": _xgb_binary,
        "multiclass": _xgb_multiclass,
        "regressor": _xgb_regressor,
        "booster": _xgb_booster,
    },
    "onnx": {
        "multiclass-zipmap": _onnx_multiclass_zipmap,
        "binary-tensor": _onnx_binary_tensor,
        "regressor": _onnx_regressor,
    },
    "pickle": {"classifier": _pickle_classifier, "regressor": _pickle_regressor},
}
PAIRS = [(name, case) for name in formats.names() for case in CASES.get(name, {})]


@cache
def _case(name: str, case: str) -> Case:
    return CASES[name][case]()


def _roundtrip(name: str, case: Case) -> formats.LoadedModel:
    fmt = formats.get(name)
    saved = fmt.save(case.model)
    assert isinstance(saved.data, bytes) and saved.data and saved.filename
    metadata = json.loads(json.dumps(saved.metadata))  # what the registry stores and returns
    return fmt.load(saved.data, metadata, trusted=fmt.requires_trust)


@pytest.mark.parametrize("name", formats.names())
def test_every_format_has_conformance_cases(name: str) -> None:
    assert CASES.get(name), f"format {name!r} has no cases in CASES"


@pytest.mark.parametrize(("name", "case_id"), PAIRS)
def test_detect_picks_the_format_and_never_pickle(name: str, case_id: str) -> None:
    case = _case(name, case_id)
    fmt = formats.get(name)
    assert fmt.name == name
    assert fmt.handles(case.model) is (name != "pickle")
    assert fmt.requires_trust is (name == "pickle")
    detected = formats.detect(case.model)
    assert detected.name == ("sklearn" if name == "pickle" else name)


@pytest.mark.parametrize(("name", "case_id"), PAIRS)
def test_roundtrip_predicts_like_the_original(name: str, case_id: str) -> None:
    case = _case(name, case_id)
    loaded = _roundtrip(name, case)
    assert loaded.format == name
    got = loaded.predict(case.X)
    assert got.shape == case.labels.shape
    if case.exact:
        np.testing.assert_array_equal(got, case.labels)
    else:
        np.testing.assert_allclose(got, case.labels, rtol=case.reference_rtol, atol=1e-5)
    assert loaded.has_proba is (case.proba is not None)
    if case.proba is None:
        with pytest.raises(UnsupportedOperationError):
            loaded.predict_proba(case.X)
        return
    proba = loaded.predict_proba(case.X)
    assert proba.ndim == 2 and proba.shape == case.proba.shape
    np.testing.assert_allclose(proba, case.proba, rtol=case.reference_rtol, atol=1e-5)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize(("name", "case_id"), PAIRS)
def test_dataframe_and_ndarray_give_the_same_predictions(name: str, case_id: str) -> None:
    case = _case(name, case_id)
    loaded = _roundtrip(name, case)
    if case.exact:
        np.testing.assert_array_equal(loaded.predict(case.frame), loaded.predict(case.X))
    else:
        np.testing.assert_allclose(loaded.predict(case.frame), loaded.predict(case.X), rtol=1e-12)
    if loaded.has_proba:
        # Equal up to float rounding: a DataFrame's values are column-major, which changes
        # the order BLAS sums in.
        np.testing.assert_allclose(loaded.predict_proba(case.frame), loaded.predict_proba(case.X), rtol=1e-12)


@pytest.mark.parametrize("name", formats.names())
@pytest.mark.parametrize("corrupt", ["garbage", "truncated"])
def test_corrupt_bytes_raise_model_load_error(name: str, corrupt: str) -> None:
    fmt = formats.get(name)
    saved = fmt.save(_case(name, next(iter(CASES[name]))).model)
    data = b"\x00\xffnot a model at all" if corrupt == "garbage" else saved.data[: len(saved.data) // 2]
    with pytest.raises(ModelLoadError, match=name):
        fmt.load(data, saved.metadata, trusted=True)


def test_pickle_refuses_to_load_without_trust() -> None:
    fmt = formats.get("pickle")
    saved = fmt.save(_case("pickle", "classifier").model)
    with pytest.raises(UntrustedArtifactError, match="arbitrary code.*trust_pickle=True"):
        fmt.load(saved.data, saved.metadata)


def test_skops_records_exactly_the_extra_types_it_needs() -> None:
    fmt = formats.get("sklearn")
    plain = fmt.save(_case("sklearn", "binary-pipeline").model)
    assert plain.metadata["trusted_types"] == []
    saved = fmt.save(_case("sklearn", "forest").model)
    needed = sio.get_untrusted_types(data=saved.data)
    assert needed and saved.metadata["trusted_types"] == needed
    emptied = {**saved.metadata, "trusted_types": []}
    with pytest.raises(UntrustedArtifactError, match="sklearn.tree._tree.Tree") as info:
        fmt.load(saved.data, emptied, trusted=True)  # trusted=True does not widen skops trust
    assert info.value.details["untrusted_types"] == needed


def test_skops_refuses_a_custom_type_it_was_not_told_about() -> None:
    X, y = _binary()
    model = make_pipeline(FunctionTransformer(_Shift()), LogisticRegression()).fit(X, y)
    saved = formats.get("sklearn").save(model)
    assert f"{__name__}._Shift" in saved.metadata["trusted_types"]
    loaded = formats.get("sklearn").load(saved.data, saved.metadata)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    with pytest.raises(UntrustedArtifactError, match="_Shift"):
        formats.get("sklearn").load(saved.data, {**saved.metadata, "trusted_types": []})


class _Shift:
    def __call__(self, X: Any) -> Any:
        return np.asarray(X) + 1.0


def test_unknown_format_name_lists_the_known_ones() -> None:
    with pytest.raises(ValidationError, match="'h5'.*lightgbm, xgboost, onnx, sklearn, pickle"):
        formats.get("h5")


def test_undetectable_object_names_its_type_and_the_pickle_escape_hatch() -> None:
    class Homemade:
        def predict(self, X: Any) -> Any:
            return np.zeros(len(X))

    with pytest.raises(UnsupportedModelError, match='Homemade.*format="pickle".*trust_pickle=True'):
        formats.detect(Homemade())
    with pytest.raises(UnsupportedModelError):
        formats.detect(b"raw onnx bytes are never detected")


def test_names_and_reexports() -> None:
    assert formats.names() == ["lightgbm", "xgboost", "onnx", "sklearn", "pickle"]
    assert all(isinstance(formats.get(n), formats.ModelFormat) for n in formats.names())
    assert formats.SavedModel(b"x", "f").metadata == {}


def test_onnx_bytes_are_saved_when_the_format_is_named() -> None:
    proto = _case("onnx", "regressor").model
    assert isinstance(proto, ModelProto)
    saved = formats.get("onnx").save(proto.SerializeToString())
    assert saved.data == proto.SerializeToString() and saved.metadata["inputs"] == ["X"]


@pytest.mark.parametrize(("name", "extra"), [("lightgbm", "weir[lightgbm]"), ("xgboost", "weir[xgboost]")])
def test_missing_optional_library(name: str, extra: str, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _case(name, "regressor").model
    saved = formats.get(name).save(model)
    monkeypatch.setitem(sys.modules, name, None)  # makes `import <name>` fail
    assert formats.get(name).handles(model) is False
    with pytest.raises(ValidationError, match=re.escape(f"pip install {extra}")):
        formats.get(name).load(saved.data, saved.metadata)


@pytest.mark.parametrize("where", ["trees", "parameters", "header"])
def test_lightgbm_truncation_is_refused_even_without_a_recorded_digest(where: str) -> None:
    # LightGBM 4.7 aborts or segfaults the process on these instead of raising.
    saved = formats.get("lightgbm").save(_case("lightgbm", "multiclass").model)
    marker = {"trees": b"\nTree=3", "parameters": b"[objective:", "header": b"feature_infos="}[where]
    data = saved.data[: saved.data.index(marker) + 5]
    metadata = {k: v for k, v in saved.metadata.items() if k != "sha256"}
    with pytest.raises(ModelLoadError, match="lightgbm.*truncated"):
        formats.get("lightgbm").load(data, metadata)


@pytest.mark.parametrize("name", ["lightgbm", "xgboost"])
def test_native_formats_check_the_recorded_digest(name: str) -> None:
    saved = formats.get(name).save(_case(name, "regressor").model)
    flipped = bytearray(saved.data)
    flipped[len(flipped) // 2] ^= 0x01
    with pytest.raises(ModelLoadError, match="SHA-256"):
        formats.get(name).load(bytes(flipped), saved.metadata)
    with pytest.raises(ModelLoadError, match=name):
        formats.get(name).load(b"", {k: v for k, v in saved.metadata.items() if k != "sha256"})
