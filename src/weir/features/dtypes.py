"""Feature value types: the names used in definitions, their DuckDB and Arrow types, and coercion of
single values read online or sent over HTTP.

>>> DTYPES["float64"].duckdb, str(DTYPES["int64"].arrow)
('DOUBLE', 'int64')
>>> coerce_key("int64", "7", where="entity 'driver' key 'driver_id'")
7
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from weir.errors import ValidationError


@dataclass(frozen=True)
class DType:
    name: str
    duckdb: str
    arrow: pa.DataType
    # DuckDB column types a source may hold for this field (they cast without loss of meaning).
    accepts: frozenset[str]


_INTS = frozenset({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "HUGEINT"})
_FLOATS = frozenset({"FLOAT", "DOUBLE", "DECIMAL"})
_TIMES = frozenset({"TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "DATE"})

DTYPES: dict[str, DType] = {
    d.name: d
    for d in (
        DType("int32", "INTEGER", pa.int32(), _INTS),
        DType("int64", "BIGINT", pa.int64(), _INTS),
        DType("float32", "FLOAT", pa.float32(), _INTS | _FLOATS),
        DType("float64", "DOUBLE", pa.float64(), _INTS | _FLOATS),
        DType("bool", "BOOLEAN", pa.bool_(), frozenset({"BOOLEAN"})),
        DType("string", "VARCHAR", pa.string(), frozenset({"VARCHAR"})),
        DType("timestamp", "TIMESTAMPTZ", pa.timestamp("us", tz="UTC"), _TIMES),
    )
}


def q(name: str) -> str:
    """A quoted DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def check_dtype(name: str, *, where: str) -> str:
    if name not in DTYPES:
        raise ValidationError(f"{where} has type {name!r}; use one of: {', '.join(DTYPES)}.")
    return name


def source_type_fits(dtype: str, duckdb_type: str) -> bool:
    """Whether a source column of ``duckdb_type`` can feed a field declared as ``dtype``."""
    base = duckdb_type.split("(")[0].strip().upper()
    return base in DTYPES[dtype].accepts


def coerce_key(dtype: str, value: Any, *, where: str) -> Any:
    """A join-key value as the entity declares it: ``"7"`` → ``7`` for int keys; refuses what would
    silently change meaning (``7.5`` for an int key, ``True`` for anything but bool)."""
    if dtype in ("int32", "int64"):
        if isinstance(value, bool):
            raise ValidationError(f"{where} must be an integer, got {value!r}.")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise ValidationError(f"{where} must be an integer, got {value!r}.")
    if dtype == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise ValidationError(f"{where} must be a string, got {value!r}.")
    raise ValidationError(f"{where}: join keys must be int32, int64 or string, not {dtype}.")
