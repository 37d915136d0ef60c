"""Shared type aliases and protocols (layer 0: imports nothing from weir)."""

from __future__ import annotations

from typing import Any, Protocol, TypeAlias, runtime_checkable

import numpy as np
import numpy.typing as npt

JSON: TypeAlias = Any
"""A JSON-serialisable value (dict, list, str, int, float, bool or None)."""

JSONDict: TypeAlias = dict[str, Any]

Array: TypeAlias = npt.NDArray[Any]

ModelInput: TypeAlias = Any
"""What a model's ``predict`` takes: a numpy array, a pandas DataFrame, or a list of rows."""


@runtime_checkable
class Predictor(Protocol):
    """Anything with the model verbs: ``predict`` and, where it exists, ``predict_proba``."""

    def predict(self, X: ModelInput) -> np.ndarray[Any, Any]: ...


__all__ = ["JSON", "Array", "JSONDict", "ModelInput", "Predictor"]
