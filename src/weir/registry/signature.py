"""Input/output signatures: inferred from a sample, checked on every input.

A schema is either named columns (a table: pandas DataFrame, records, a dict of columns) or one
tensor (a numpy array). ``Signature.conform`` checks an input and returns it in the model's
column order and types; anything that does not fit raises :class:`SignatureError` naming the
field.

>>> import pandas as pd
>>> sig = infer_signature(pd.DataFrame({"age": [31, 45], "income": [1.5, 2.0]}))
>>> sig.inputs.to_dict()
{'columns': [{'name': 'age', 'type': 'int64'}, {'name': 'income', 'type': 'float64'}]}
>>> sig.conform(pd.DataFrame({"income": [3.0], "age": [50]})).columns.tolist()
['age', 'income']
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from weir.errors import SignatureError, ValidationError
from weir.types import JSONDict, ModelInput

logger = logging.getLogger(__name__)

# numpy kind → signature type family; a value may go into a column of a wider family.
_FAMILY = {
    "b": "bool",
    "i": "int",
    "u": "int",
    "f": "float",
    "M": "datetime",
    "O": "string",
    "U": "string",
    "S": "string",
}
_ACCEPTS = {
    "bool": {"bool"},
    "int": {"bool", "int"},
    "float": {"bool", "int", "float"},
    "string": {"string"},
    "datetime": {"datetime"},
}


def _type_name(dtype: Any) -> str:
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return "string"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    np_dtype = np.dtype(dtype)
    if np_dtype.kind in "OUS":
        return "string"
    return str(np_dtype.name)


def _family(type_name: str) -> str:
    if type_name in {"string", "category"}:
        return "string"
    if type_name == "datetime":
        return "datetime"
    return _FAMILY.get(np.dtype(type_name).kind, "string")


@dataclass(frozen=True)
class Schema:
    """Named columns (``columns``) or a single tensor (``dtype`` and ``shape``, -1 = any size)."""

    columns: tuple[tuple[str, str], ...] | None = None
    dtype: str | None = None
    shape: tuple[int, ...] | None = None

    def to_dict(self) -> JSONDict:
        if self.columns is not None:
            return {"columns": [{"name": n, "type": t} for n, t in self.columns]}
        return {"tensor": {"dtype": self.dtype, "shape": list(self.shape or ())}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        if "columns" in data:
            return cls(columns=tuple((c["name"], c["type"]) for c in data["columns"]))
        tensor = data["tensor"]
        return cls(dtype=tensor["dtype"], shape=tuple(tensor["shape"]))


@dataclass(frozen=True)
class Signature:
    inputs: Schema
    outputs: Schema | None = None

    def to_dict(self) -> JSONDict:
        return {"inputs": self.inputs.to_dict(), "outputs": self.outputs.to_dict() if self.outputs else None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        outputs = data.get("outputs")
        return cls(Schema.from_dict(data["inputs"]), Schema.from_dict(outputs) if outputs else None)

    def conform(self, X: ModelInput) -> Any:
        """Check ``X`` against the inputs; return it ordered and typed as the model expects."""
        if self.inputs.columns is not None:
            return _conform_columns(self.inputs.columns, as_frame(X))
        return _conform_tensor(self.inputs, X)


def as_frame(X: ModelInput) -> pd.DataFrame:
    """A table-shaped input (DataFrame, list of records, dict of columns) as a DataFrame."""
    if isinstance(X, pd.DataFrame):
        return X
    if isinstance(X, Mapping):
        return pd.DataFrame({k: v if isinstance(v, Sequence | np.ndarray) else [v] for k, v in X.items()})
    if isinstance(X, Sequence) and X and all(isinstance(row, Mapping) for row in X):
        return pd.DataFrame(list(X))
    raise SignatureError(
        f"This model takes named columns; got {type(X).__name__}. Send a DataFrame, a list of "
        "records ({column: value}) or a dict of columns."
    )


def _conform_columns(columns: tuple[tuple[str, str], ...], frame: pd.DataFrame) -> pd.DataFrame:
    missing = [name for name, _ in columns if name not in frame.columns]
    if missing:
        raise SignatureError(
            f"Input is missing column(s) {', '.join(map(repr, missing))}; the model expects "
            f"{', '.join(name for name, _ in columns)}.",
            missing=missing,
        )
    out = frame[[name for name, _ in columns]]
    for name, expected in columns:
        got = _type_name(out[name].dtype)
        if got == expected:
            continue
        if expected == "category" and _family(got) == "string":
            continue
        if _family(got) in _ACCEPTS[_family(expected)] and expected != "category":
            if _family(expected) != "string":
                target = np.dtype("datetime64[ns]" if expected == "datetime" else expected)
                out = out.assign(**{name: out[name].astype(target)})
            continue
        raise SignatureError(
            f"Column {name!r} has type {got}, but the model expects {expected}; convert it before sending.",
            column=name,
            expected=expected,
            got=got,
        )
    return out


def _conform_tensor(schema: Schema, X: ModelInput) -> np.ndarray[Any, Any]:
    try:
        array = X.to_numpy() if isinstance(X, pd.DataFrame) else np.asarray(X)
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"Input cannot be read as a tensor: {exc}.") from exc
    shape = schema.shape or ()
    if array.ndim != len(shape) or any(s not in (-1, a) for s, a in zip(shape, array.shape, strict=True)):
        raise SignatureError(
            f"Input has shape {list(array.shape)}, but the model expects {list(shape)} (-1 is any size).",
            expected=list(shape),
            got=list(array.shape),
        )
    expected = np.dtype(schema.dtype)
    if array.dtype != expected:
        if (
            _family(array.dtype.name if array.dtype.kind not in "OUS" else "string")
            not in _ACCEPTS[_family(expected.name)]
        ):
            raise SignatureError(f"Input has dtype {array.dtype}, but the model expects {expected}.")
        array = array.astype(expected)
    return array


def infer_schema(data: ModelInput) -> Schema:
    """The schema of a sample: columns for tables, a tensor for arrays."""
    if isinstance(data, pd.Series):
        data = data.to_numpy()
    if isinstance(data, pd.DataFrame | Mapping) or (
        isinstance(data, Sequence) and data and all(isinstance(r, Mapping) for r in data)
    ):
        frame = as_frame(data)
        if not all(isinstance(c, str) for c in frame.columns):
            raise ValidationError("Column names must be strings to infer a signature; rename the columns.")
        return Schema(columns=tuple((str(c), _type_name(frame[c].dtype)) for c in frame.columns))
    array = np.asarray(data)
    if array.ndim == 0:
        raise ValidationError("A signature sample must have at least one dimension (rows).")
    dtype = "string" if array.dtype.kind in "OUS" else array.dtype.name
    return Schema(dtype=dtype if dtype != "string" else "object", shape=(-1, *array.shape[1:]))


def infer_signature(inputs: ModelInput, outputs: ModelInput | None = None) -> Signature:
    return Signature(infer_schema(inputs), infer_schema(outputs) if outputs is not None else None)


def resolve_signature(
    given: Signature | Mapping[str, Any] | None, example: ModelInput | None, outputs: ModelInput | None
) -> Signature | None:
    """The signature to record: the given one (checked against the example) or one inferred from it."""
    sig = Signature.from_dict(given) if isinstance(given, Mapping) else given
    if example is None:
        if sig is None:
            logger.warning("no input_example or signature given: inputs will not be checked when serving")
        return sig
    if sig is not None:
        try:
            sig.conform(example)
        except SignatureError as exc:
            raise SignatureError(f"The input_example does not match the given signature: {exc.message}") from exc
        return sig
    return infer_signature(example, outputs)
