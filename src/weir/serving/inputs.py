"""From what a protocol parsed to what a runtime takes, checked against the version's signature.

All-numeric column signatures take the fast path: one float64 matrix in signature order, built
straight from the request's columns (or from one 2-D tensor whose columns are in that order), no
pandas. Other signatures go through :meth:`Signature.conform`. Every mismatch raises
:class:`~weir.errors.SignatureError` naming the field.

>>> from weir.registry.signature import Signature, Schema
>>> sig = Signature(Schema(columns=(("age", "int64"), ("income", "float64"))))
>>> builder = InputBuilder(sig)
>>> builder.build({"income": np.array([2.5]), "age": np.array([40])}).tolist()
[[40.0, 2.5]]
>>> builder.build({"age": np.array([40])})
Traceback (most recent call last):
...
weir.errors.SignatureError: Input is missing column(s) 'income'; the model expects age, income.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from weir.errors import SignatureError
from weir.registry.signature import Signature

NUMERIC_TYPES = frozenset(
    {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32", "float64"}
)
Table = Mapping[str, np.ndarray[Any, Any]]


class InputBuilder:
    """Turns request data into model input for one signature (``None``: passed through unchecked)."""

    def __init__(self, signature: Signature | None) -> None:
        self.signature = signature
        columns = signature.inputs.columns if signature is not None else None
        self.names: tuple[str, ...] | None = tuple(n for n, _ in columns) if columns is not None else None
        self.numeric = columns is not None and all(t in NUMERIC_TYPES for _, t in columns)

    def build(self, data: Table | np.ndarray[Any, Any]) -> pd.DataFrame | np.ndarray[Any, Any]:
        if isinstance(data, np.ndarray):
            rows = data.shape[0] if data.ndim else 1
        else:
            rows = min((len(v) if np.ndim(v) else 1 for v in data.values()), default=0)
        if rows == 0 or (isinstance(data, np.ndarray) and data.size == 0):
            raise SignatureError("The request holds no rows; send at least one row to predict.")
        if self.signature is None:
            return data if isinstance(data, np.ndarray) else pd.DataFrame(dict(data))
        names = self.names
        if names is None:  # a tensor signature
            if not isinstance(data, np.ndarray):
                raise SignatureError(
                    f"This model takes one tensor {self.signature.inputs.to_dict()['tensor']}; got named "
                    f"columns {', '.join(data)}. Send a single tensor/array."
                )
            return self.signature.conform(data)  # type: ignore[no-any-return]
        if isinstance(data, np.ndarray):
            data = self._positional(data, names)
        if self.numeric:
            return self._matrix(data, names)
        return self.signature.conform(pd.DataFrame(dict(data)))  # type: ignore[no-any-return]

    def _positional(self, array: np.ndarray[Any, Any], names: tuple[str, ...]) -> Table:
        if array.ndim == 1 and array.shape[0] == len(names):
            array = array.reshape(1, -1)
        if array.ndim != 2 or array.shape[1] != len(names):
            raise SignatureError(
                f"Input has shape {list(array.shape)}, but the model takes {len(names)} columns "
                f"({', '.join(names)}): send shape [rows, {len(names)}] with the columns in that order, "
                "or named columns.",
                expected=[-1, len(names)],
                got=list(array.shape),
            )
        if self.numeric and array.dtype.kind in "biuf":
            return {"": array}  # already a matrix in signature order
        return {name: array[:, i] for i, name in enumerate(names)}

    def _matrix(self, data: Table, names: tuple[str, ...]) -> np.ndarray[Any, Any]:
        whole = data.get("")
        if whole is not None and len(data) == 1:
            return whole.astype(np.float64, copy=False)
        missing = [n for n in names if n not in data]
        if missing:
            raise SignatureError(
                f"Input is missing column(s) {', '.join(map(repr, missing))}; the model expects {', '.join(names)}.",
                missing=missing,
            )
        columns = []
        rows = None
        for name in names:
            column = np.asarray(data[name])
            if column.ndim == 2 and column.shape[1] == 1:
                column = column[:, 0]
            if column.dtype.kind not in "biuf":
                column = _numeric(column, name)
            if column.ndim != 1 or (rows is not None and column.shape[0] != rows):
                raise SignatureError(
                    f"Column {name!r} has shape {list(column.shape)}; every column must be one value per row"
                    + (f" ({rows} rows)." if rows is not None else "."),
                    column=name,
                )
            rows = column.shape[0]
            columns.append(column)
        return np.column_stack(columns).astype(np.float64, copy=False)


def _numeric(column: np.ndarray[Any, Any], name: str) -> np.ndarray[Any, Any]:
    """Object columns of numbers and None (JSON null → NaN) are fine; anything else names the column."""
    if column.dtype.kind == "O":
        try:
            if all(v is None or (isinstance(v, int | float) and not isinstance(v, str)) for v in column):
                return np.array([np.nan if v is None else v for v in column], dtype=np.float64)
        except TypeError:
            pass
    raise SignatureError(
        f"Column {name!r} has type {column.dtype.name if column.dtype.kind != 'O' else 'object'}, "
        "but the model expects a number; convert it before sending.",
        column=name,
        expected="number",
    )
