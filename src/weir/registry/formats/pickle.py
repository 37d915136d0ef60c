"""Pickle: the last resort for objects no safe format can store.

Never chosen by :func:`weir.registry.formats.detect`; loading needs ``trusted=True`` because
unpickling can run arbitrary code.
"""

from __future__ import annotations

import pickle
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


def _is_dataframe(X: object) -> bool:
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(X, pd.DataFrame)


class PickleModel(LoadedModel):
    """Any unpickled object with ``predict`` (and optionally ``predict_proba``)."""

    format = "pickle"

    @property
    def has_proba(self) -> bool:
        return callable(getattr(self.native, "predict_proba", None))

    def _prepare(self, X: ModelInput) -> Any:
        if _is_dataframe(X) and not hasattr(self.native, "feature_names_in_"):
            return X.to_numpy()
        return X

    def _call(self, verb: str, X: ModelInput) -> Any:
        method = getattr(self.native, verb, None)
        if not callable(method):
            raise UnsupportedOperationError(
                f"The pickled {type(self.native).__name__} has no {verb} method; register an object that has one."
            )
        try:
            return method(self._prepare(X))
        except (ValueError, TypeError) as exc:
            raise ValidationError(f"The pickled model rejected the input: {exc}") from exc

    def _predict(self, X: ModelInput) -> Any:
        return self._call("predict", X)

    def _predict_proba(self, X: ModelInput) -> Any:
        return self._call("predict_proba", X)


class PickleFormat(ModelFormat):
    """Stores any object with cloudpickle (or pickle); loads only when explicitly trusted."""

    name = "pickle"
    requires_trust = True

    def handles(self, obj: object) -> bool:
        return False

    def save(self, obj: object) -> SavedModel:
        try:
            import cloudpickle

            dumps: Any = cloudpickle.dumps
            serializer = "cloudpickle"
        except ImportError:
            dumps, serializer = pickle.dumps, "pickle"
        try:
            data = dumps(obj)
        except Exception as exc:
            raise UnsupportedModelError(f"{serializer} cannot serialise this {type(obj).__name__}: {exc}.") from exc
        cls = type(obj)
        return SavedModel(
            data=bytes(data),
            filename="model.pkl",
            metadata={
                "serializer": serializer,
                "python_class": f"{cls.__module__}.{cls.__qualname__}",
                "python_version": "{}.{}.{}".format(*sys.version_info[:3]),
            },
        )

    def load(self, data: bytes, metadata: Mapping[str, Any], *, trusted: bool = False) -> LoadedModel:
        if trusted is not True:
            raise UntrustedArtifactError(
                "Refusing to load a pickle artifact: pickle can run arbitrary code while "
                "loading. Pass trust_pickle=True only for artifacts you produced yourself."
            )
        try:
            native = pickle.loads(bytes(data))
        except Exception as exc:
            raise ModelLoadError(
                f"Could not load the pickle artifact: {type(exc).__name__}: {exc}. The bytes are "
                "corrupt, or need a module or library version that is not installed here "
                f"(it was saved from {metadata.get('python_class', 'an unknown class')})."
            ) from exc
        return PickleModel(native, metadata)
