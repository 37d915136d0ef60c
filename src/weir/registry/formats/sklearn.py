"""scikit-learn estimators (pipelines included), stored with skops, never with pickle.

``save`` records the exact list of types the artifact needs beyond skops' defaults
(``trusted_types``); ``load`` trusts exactly that list, so an artifact that was swapped for one
needing anything else is refused.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from weir.errors import (
    ModelLoadError,
    UnsupportedModelError,
    UnsupportedOperationError,
    UntrustedArtifactError,
    ValidationError,
)
from weir.registry.formats.base import LoadedModel, ModelFormat, SavedModel
from weir.types import ModelInput

_FOREIGN_WRAPPERS = ("lightgbm", "xgboost")


def _is_dataframe(X: object) -> bool:
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(X, pd.DataFrame)


class SklearnModel(LoadedModel):
    """A scikit-learn estimator loaded from a skops artifact."""

    format = "sklearn"

    @property
    def has_proba(self) -> bool:
        return hasattr(self.native, "predict_proba")

    def _prepare(self, X: ModelInput) -> Any:
        # An estimator fitted on an array warns on named columns; give it the bare values.
        if _is_dataframe(X) and not hasattr(self.native, "feature_names_in_"):
            return X.to_numpy()
        return X

    def _predict(self, X: ModelInput) -> Any:
        predict = getattr(self.native, "predict", None)
        if predict is None:
            raise UnsupportedOperationError(
                f"{type(self.native).__name__} has no predict method; register an estimator "
                "or a Pipeline that ends in one."
            )
        return _call(predict, self._prepare(X))

    def _predict_proba(self, X: ModelInput) -> Any:
        estimator: Any = self.native
        return _call(estimator.predict_proba, self._prepare(X))


def _call(method: Any, X: Any) -> Any:
    try:
        return method(X)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"The sklearn model rejected the input: {exc}") from exc


class SklearnFormat(ModelFormat):
    """Any fitted scikit-learn ``BaseEstimator`` that is not a LightGBM or XGBoost wrapper."""

    name = "sklearn"

    def handles(self, obj: object) -> bool:
        base = sys.modules.get("sklearn.base")
        if base is None or not isinstance(obj, base.BaseEstimator):
            return False
        roots = {cls.__module__.split(".")[0] for cls in type(obj).__mro__}
        return not roots.intersection(_FOREIGN_WRAPPERS)

    def save(self, obj: object) -> SavedModel:
        if not self.handles(obj):
            raise UnsupportedModelError(
                f"The sklearn format stores scikit-learn estimators, not "
                f"{type(obj).__module__}.{type(obj).__qualname__}; use detect() to pick a format."
            )
        import sklearn
        import skops
        import skops.io as sio
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted

        try:
            check_is_fitted(obj)
        except NotFittedError as exc:
            raise ValidationError(f"{type(obj).__name__} is not fitted; call fit before saving it.") from exc
        try:
            data = sio.dumps(obj)
        except Exception as exc:
            raise UnsupportedModelError(
                f"skops cannot serialise this {type(obj).__name__}: {exc}. Export it to ONNX, or "
                'pass format="pickle" with trust_pickle=True if you really trust it.'
            ) from exc
        cls = type(obj)
        return SavedModel(
            data=data,
            filename="model.skops",
            metadata={
                "estimator": f"{cls.__module__}.{cls.__qualname__}",
                "sklearn_version": sklearn.__version__,
                "skops_version": skops.__version__,
                "trusted_types": list(sio.get_untrusted_types(data=data)),
            },
        )

    def load(self, data: bytes, metadata: Mapping[str, Any], *, trusted: bool = False) -> LoadedModel:
        import skops.io as sio
        from skops.io.exceptions import UntrustedTypesFoundException

        # ``trusted`` (meant for pickle) never widens this: skops trusts exactly the recorded list.
        trusted_types = metadata.get("trusted_types", [])
        if not isinstance(trusted_types, list) or not all(isinstance(t, str) for t in trusted_types):
            raise ValidationError(
                "sklearn metadata 'trusted_types' must be a list of type names, got "
                f"{trusted_types!r}; re-save the model to record it."
            )
        try:
            native = sio.loads(bytes(data), trusted=trusted_types)
        except UntrustedTypesFoundException as exc:
            needed = sorted(set(sio.get_untrusted_types(data=bytes(data))) - set(trusted_types))
            raise UntrustedArtifactError(
                f"The sklearn artifact needs types that were not recorded as trusted when it "
                f"was saved: {', '.join(needed)}. Refusing to load it; re-save the "
                "model from a source you trust so weir records the types it needs.",
                untrusted_types=needed,
            ) from exc
        except Exception as exc:
            raise ModelLoadError(
                f"Could not load the sklearn (skops) artifact: {type(exc).__name__}: {exc}. "
                "The bytes are corrupt or were not written by skops."
            ) from exc
        return SklearnModel(native, metadata)
