"""XGBoost boosters and their scikit-learn wrappers, stored in XGBoost's own UBJSON format.

A wrapper is saved with its own ``save_model`` (which keeps its classes and best iteration) and
restored into the same wrapper class; a bare ``Booster`` is saved with ``save_raw("ubj")``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from weir.errors import ModelLoadError, UnsupportedModelError, ValidationError
from weir.registry.formats.base import LoadedModel, ModelFormat, SavedModel
from weir.types import ModelInput

_WRAPPERS = (
    "XGBClassifier",
    "XGBRFClassifier",
    "XGBRegressor",
    "XGBRFRegressor",
    "XGBRanker",
    "XGBModel",
)


def _require() -> Any:
    try:
        import xgboost
    except ImportError as exc:
        raise ValidationError(
            "The xgboost format needs the XGBoost library, which is not installed; run `pip install weir[xgboost]`."
        ) from exc
    return xgboost


def _reason(exc: Exception) -> str:
    # XGBoost appends a native stack trace to its messages; keep the first line.
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def _check_digest(data: bytes, metadata: Mapping[str, Any]) -> None:
    """Refuse bytes that are not the ones saved, before XGBoost parses them.

    XGBoost 3.2 does not raise on every malformed buffer: an empty one aborts the process and
    some truncated UBJSON segfaults it. The digest recorded by ``save`` catches both.
    """
    expected = metadata.get("sha256")
    if not data or (expected is not None and hashlib.sha256(data).hexdigest() != expected):
        raise ModelLoadError(
            f"Could not load the xgboost artifact: its {len(data)} bytes do not match the SHA-256 "
            "recorded when it was saved (truncated or corrupt). Re-save the model."
        )


class XGBoostModel(LoadedModel):
    """An XGBoost wrapper (``predict``/``predict_proba``) or ``Booster`` (through a DMatrix)."""

    format = "xgboost"

    @property
    def has_proba(self) -> bool:
        return self.metadata.get("kind") == "classifier" and hasattr(self.native, "predict_proba")

    def _call(self, verb: str, X: ModelInput) -> Any:
        xgb = _require()
        pd = sys.modules.get("pandas")
        values = X if pd is not None and isinstance(X, pd.DataFrame) else np.asarray(X)
        try:
            if isinstance(self.native, xgb.Booster):
                return self.native.predict(xgb.DMatrix(values, enable_categorical=True))
            return getattr(self.native, verb)(values)
        except (ValueError, TypeError) as exc:
            raise ValidationError(f"The xgboost model rejected the input: {_reason(exc)}") from exc

    def _predict(self, X: ModelInput) -> Any:
        return self._call("predict", X)

    def _predict_proba(self, X: ModelInput) -> Any:
        return self._call("predict_proba", X)


class XGBoostFormat(ModelFormat):
    """``xgboost.Booster``, ``XGBClassifier``, ``XGBRegressor`` and the other wrappers."""

    name = "xgboost"

    def handles(self, obj: object) -> bool:
        xgb = sys.modules.get("xgboost")
        return xgb is not None and isinstance(obj, (xgb.Booster, xgb.XGBModel))

    def save(self, obj: object) -> SavedModel:
        xgb = _require()
        metadata: dict[str, Any] = {"xgboost_version": xgb.__version__, "wrapper": None}
        if isinstance(obj, xgb.XGBModel):
            try:
                booster = obj.get_booster()
            except (AttributeError, ValueError) as exc:
                raise ValidationError(f"{type(obj).__name__} is not fitted; call fit before saving it.") from exc
            wrapper = next(
                c.__name__ for c in type(obj).__mro__ if c.__module__.startswith("xgboost") and c.__name__ in _WRAPPERS
            )
            metadata["wrapper"] = wrapper
            if isinstance(obj, xgb.XGBClassifier):
                metadata["kind"] = "classifier"
                metadata["classes"] = np.asarray(obj.classes_).tolist()
            else:
                metadata["kind"] = "regressor"
            with tempfile.TemporaryDirectory(prefix="weir-xgb-") as tmp:
                path = os.path.join(tmp, "model.ubj")
                obj.save_model(path)
                with open(path, "rb") as fh:
                    data = fh.read()
        elif isinstance(obj, xgb.Booster):
            booster, metadata["kind"] = obj, "booster"
            data = bytes(obj.save_raw("ubj"))
        else:
            raise UnsupportedModelError(
                f"The xgboost format stores XGBoost models, not "
                f"{type(obj).__module__}.{type(obj).__qualname__}; use detect() to pick a format."
            )
        config = json.loads(booster.save_config())
        metadata["objective"] = config["learner"]["objective"]["name"]
        metadata["feature_names"] = booster.feature_names
        metadata["sha256"] = hashlib.sha256(data).hexdigest()
        return SavedModel(data=data, filename="model.ubj", metadata=metadata)

    def load(self, data: bytes, metadata: Mapping[str, Any], *, trusted: bool = False) -> LoadedModel:
        xgb = _require()
        wrapper = metadata.get("wrapper")
        if wrapper is not None and wrapper not in _WRAPPERS:
            raise ModelLoadError(
                f"The xgboost metadata names an unknown wrapper {wrapper!r}; expected one of "
                f"{', '.join(_WRAPPERS)} or none for a bare Booster. Re-save the model."
            )
        _check_digest(bytes(data), metadata)
        native = getattr(xgb, wrapper)() if wrapper else xgb.Booster()
        try:
            native.load_model(bytearray(data))
        except Exception as exc:
            raise ModelLoadError(
                f"Could not load the xgboost artifact: {_reason(exc)}. The bytes are corrupt or "
                "are not an XGBoost UBJSON model."
            ) from exc
        return XGBoostModel(native, metadata)
