"""LightGBM boosters and their scikit-learn wrappers, stored in LightGBM's own text format."""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

from weir.errors import ModelLoadError, UnsupportedModelError, ValidationError
from weir.registry.formats.base import LoadedModel, ModelFormat, SavedModel
from weir.types import ModelInput

_KINDS = ("classifier", "regressor", "booster")
_TREE_SIZES = re.compile(rb"^tree_sizes=([0-9 ]*)$", re.MULTILINE)


def _check_layout(data: bytes, metadata: Mapping[str, Any]) -> None:
    """Refuse truncated or altered text before LightGBM sees it.

    LightGBM 4.x does not raise on some truncations, it kills the process: trees cut short of
    the offsets in ``tree_sizes`` abort it ("terminate called without an active exception"), and
    a ``parameters:`` section without its ``end of parameters`` line segfaults it. The digest
    recorded by ``save`` catches any change; the layout checks cover text saved without one.
    """
    expected = metadata.get("sha256")
    if expected is not None and hashlib.sha256(data).hexdigest() != expected:
        raise ModelLoadError(
            f"Could not load the lightgbm artifact: its {len(data)} bytes do not match the SHA-256 "
            "recorded when it was saved (truncated or corrupt). Re-save the model."
        )
    match = _TREE_SIZES.search(data)
    start = data.find(b"\nTree=", match.end()) + 1 if match else 0
    end = start + sum(int(size) for size in match.group(1).split()) if match else 0
    params = data.find(b"\nparameters:")
    if (
        b"\nend of trees" not in data
        or (match and (start == 0 or not data.startswith(b"end of trees", end)))
        or (params >= 0 and data.find(b"\nend of parameters", params) < 0)
    ):
        raise ModelLoadError(
            "Could not load the lightgbm artifact: the text is truncated or corrupt (its trees "
            "or parameters end early). Re-save the model."
        )


def _require() -> Any:
    try:
        import lightgbm
    except ImportError as exc:
        raise ValidationError(
            "The lightgbm format needs the LightGBM library, which is not installed; run `pip install weir[lightgbm]`."
        ) from exc
    return lightgbm


class LightGBMModel(LoadedModel):
    """A ``lightgbm.Booster`` that answers like the model it was saved from.

    Classifiers return class labels from ``predict`` and ``(n, n_classes)`` probabilities from
    ``predict_proba``; regressors and bare boosters return ``Booster.predict`` unchanged.
    """

    format = "lightgbm"

    @property
    def has_proba(self) -> bool:
        return self.metadata.get("kind") == "classifier"

    def _raw(self, X: ModelInput) -> Any:
        pd = sys.modules.get("pandas")
        values = X if pd is not None and isinstance(X, pd.DataFrame) else np.asarray(X)
        try:
            return self.native.predict(values)  # type: ignore[attr-defined]
        except Exception as exc:
            raise ValidationError(f"The lightgbm model rejected the input: {exc}") from exc

    def _predict(self, X: ModelInput) -> Any:
        if not self.has_proba:
            return self._raw(X)
        classes = np.asarray(self.metadata["classes"])
        return classes[np.argmax(self._predict_proba(X), axis=1)]

    def _predict_proba(self, X: ModelInput) -> Any:
        p = np.asarray(self._raw(X), dtype=np.float64)
        return np.column_stack([1.0 - p, p]) if p.ndim == 1 else p


class LightGBMFormat(ModelFormat):
    """``lightgbm.Booster``, ``LGBMClassifier``, ``LGBMRegressor`` and other ``LGBMModel``s."""

    name = "lightgbm"

    def handles(self, obj: object) -> bool:
        lgb = sys.modules.get("lightgbm")
        return lgb is not None and isinstance(obj, (lgb.Booster, lgb.LGBMModel))

    def save(self, obj: object) -> SavedModel:
        lgb = _require()
        metadata: dict[str, Any] = {"lightgbm_version": lgb.__version__}
        if isinstance(obj, lgb.LGBMModel):
            try:
                booster = obj.booster_
            except (AttributeError, ValueError) as exc:
                raise ValidationError(f"{type(obj).__name__} is not fitted; call fit before saving it.") from exc
            objective: Any = obj.objective_
            if isinstance(obj, lgb.LGBMClassifier):
                metadata["kind"] = "classifier"
                metadata["classes"] = np.asarray(obj.classes_).tolist()
            else:
                metadata["kind"] = "regressor"
        elif isinstance(obj, lgb.Booster):
            booster, metadata["kind"] = obj, "booster"
            objective = booster.params.get("objective")
        else:
            raise UnsupportedModelError(
                f"The lightgbm format stores LightGBM models, not "
                f"{type(obj).__module__}.{type(obj).__qualname__}; use detect() to pick a format."
            )
        custom = objective is not None and not isinstance(objective, str)
        metadata["objective"] = "custom" if custom else objective
        metadata["feature_names"] = list(booster.feature_name())
        text: str = booster.model_to_string()
        data = text.encode("utf-8")
        metadata["sha256"] = hashlib.sha256(data).hexdigest()
        return SavedModel(data=data, filename="model.txt", metadata=metadata)

    def load(self, data: bytes, metadata: Mapping[str, Any], *, trusted: bool = False) -> LoadedModel:
        lgb = _require()
        kind = metadata.get("kind", "booster")
        if kind not in _KINDS or (kind == "classifier" and not metadata.get("classes")):
            raise ModelLoadError(
                f"The lightgbm metadata is inconsistent (kind={kind!r}, classes="
                f"{metadata.get('classes')!r}); kind must be one of {', '.join(_KINDS)} and a "
                "classifier needs its classes. Re-save the model."
            )
        _check_layout(bytes(data), metadata)
        try:
            booster = lgb.Booster(model_str=bytes(data).decode("utf-8"))
        except Exception as exc:
            raise ModelLoadError(
                f"Could not load the lightgbm artifact: {type(exc).__name__}: {exc}. The bytes "
                "are corrupt or are not a LightGBM text model."
            ) from exc
        return LightGBMModel(booster, metadata)
