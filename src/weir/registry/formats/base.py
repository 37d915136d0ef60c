"""The contract every model format follows.

A format turns an in-memory model into bytes (``save``) and bytes back into a
:class:`LoadedModel` (``load``). Formats never touch the registry or the artifact store: the
registry stores the bytes content-addressed and hands them back verified.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from weir.errors import UnsupportedOperationError
from weir.registry.signature import Signature
from weir.types import JSONDict, ModelInput


@dataclass(frozen=True)
class SavedModel:
    """The serialised form of a model: one artifact file plus JSON metadata for loading it."""

    data: bytes
    filename: str
    metadata: JSONDict = field(default_factory=dict)


class LoadedModel:
    """A model ready to predict. Subclasses implement ``_predict`` (and ``_predict_proba``)."""

    format: ClassVar[str] = ""

    def __init__(self, native: object, metadata: Mapping[str, Any]) -> None:
        self.native = native
        self.metadata = dict(metadata)
        self.signature: Signature | None = None
        """Set by the registry: every input is checked against it before the model sees it."""
        self.ref: str | None = None

    @property
    def has_proba(self) -> bool:
        return False

    def predict(self, X: ModelInput) -> np.ndarray[Any, Any]:
        return np.asarray(self._predict(self._conform(X)))

    def predict_proba(self, X: ModelInput) -> np.ndarray[Any, Any]:
        if not self.has_proba:
            raise UnsupportedOperationError(
                f"This {self.format} model has no predict_proba (it is not a probabilistic "
                "classifier); call predict instead."
            )
        return np.asarray(self._predict_proba(self._conform(X)))

    def _conform(self, X: ModelInput) -> ModelInput:
        return X if self.signature is None else self.signature.conform(X)

    def _predict(self, X: ModelInput) -> Any:
        raise NotImplementedError

    def _predict_proba(self, X: ModelInput) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        name = self.ref or type(self.native).__name__
        return f"<{type(self).__name__} {name} format={self.format!r}>"


class ModelFormat:
    """One way of storing models. Subclasses set ``name`` and implement the three verbs."""

    name: ClassVar[str] = ""
    requires_trust: ClassVar[bool] = False
    """True when loading can execute arbitrary code (pickle): the caller must pass ``trusted``."""

    def handles(self, obj: object) -> bool:
        """Whether ``obj`` is a model this format can save."""
        raise NotImplementedError

    def save(self, obj: object) -> SavedModel:
        raise NotImplementedError

    def load(self, data: bytes, metadata: Mapping[str, Any], *, trusted: bool = False) -> LoadedModel:
        raise NotImplementedError
