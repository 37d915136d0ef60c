"""Shared type aliases and protocols (layer 0: imports nothing from weir)."""

from __future__ import annotations

import math
from typing import Any, Protocol, TypeAlias, runtime_checkable

import numpy as np
import numpy.typing as npt

JSON: TypeAlias = Any
"""A JSON-serialisable value (dict, list, str, int, float, bool or None)."""

JSONDict: TypeAlias = dict[str, Any]

Array: TypeAlias = npt.NDArray[Any]

ModelInput: TypeAlias = Any
"""What a model's ``predict`` takes: a numpy array, a pandas DataFrame, or a list of rows."""


def json_ready(value: Any) -> Any:
    """``value`` with numpy scalars as Python ones and NaN or infinities as ``None``, recursively through
    dicts, lists and tuples: what JSON (and a JSON column) can hold.

    >>> json_ready({"a": [np.float64("nan"), np.int64(2)], "b": (1.5,)})
    {'a': [None, 2], 'b': [1.5]}
    """
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@runtime_checkable
class Predictor(Protocol):
    """Anything with the model verbs: ``predict`` and, where it exists, ``predict_proba``."""

    def predict(self, X: ModelInput) -> np.ndarray[Any, Any]: ...


__all__ = ["JSON", "Array", "JSONDict", "ModelInput", "Predictor", "json_ready"]
