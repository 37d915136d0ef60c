"""The entity frame of a training-frame request, checked and normalised to Arrow.

Timestamps become ``timestamp[us, UTC]``; naive timestamps are taken as UTC (stated in the docs).
Join keys become the entity's declared type. Each row gets its input position in ``__row``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from weir.errors import ValidationError
from weir.features.dtypes import DTYPES
from weir.features.offline import ROW

UTC_US = pa.timestamp("us", tz="UTC")


def prepare_entities(frame: Any, keys: Mapping[str, tuple[str, list[str]]], timestamp_column: str) -> pa.Table:
    """``keys`` maps each join key to its type and the views that need it (for messages)."""
    if isinstance(frame, pd.DataFrame):
        table = pa.Table.from_pandas(frame, preserve_index=False)
    elif isinstance(frame, pa.Table):
        table = frame
    else:
        raise ValidationError(
            f"The entity frame must be a pandas DataFrame or a pyarrow Table, not {type(frame).__name__}."
        )
    table = table.replace_schema_metadata(None)
    for name in table.column_names:
        if name.startswith("__"):
            raise ValidationError(f"Entity frame column {name!r}: names starting with '__' are reserved; rename it.")
    if timestamp_column not in table.column_names:
        raise ValidationError(
            f"The entity frame has no timestamp column {timestamp_column!r} "
            f"(columns: {', '.join(table.column_names)}); add it or pass timestamp_column=..."
        )
    table = table.set_column(
        table.column_names.index(timestamp_column),
        timestamp_column,
        _timestamps(table[timestamp_column], timestamp_column),
    )
    for key, (dtype, views) in keys.items():
        if key not in table.column_names:
            raise ValidationError(
                f"The entity frame has no join key column {key!r}, which feature view {views[0]!r} needs."
            )
        table = table.set_column(table.column_names.index(key), key, _key(table[key], key, dtype, views[0]))
    return table.append_column(ROW, pa.array(np.arange(table.num_rows, dtype=np.int64)))


def _timestamps(column: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    kind = column.type
    if pa.types.is_timestamp(kind):
        if kind.tz is not None and kind.tz not in ("UTC", "utc", "+00:00", "Etc/UTC"):
            column = pc.cast(column, pa.timestamp(kind.unit, tz="UTC"))
        if kind.unit == "ns":  # finer than the join keeps: floored, so no feature after the entity time gets in
            column = pc.floor_temporal(column, unit="microsecond")
        column = column.cast(UTC_US)
    elif pa.types.is_date(kind):
        column = column.cast(pa.timestamp("us")).cast(UTC_US)
    else:
        raise ValidationError(
            f"Entity frame column {name!r} is {kind}, not timestamps; convert it with pd.to_datetime(..., utc=True)."
        )
    if column.null_count:
        first = int(pc.index(pc.is_null(column), True).as_py())
        raise ValidationError(
            f"Entity frame column {name!r} has {column.null_count} empty timestamps (first at row {first})."
        )
    return column


def _key(column: pa.ChunkedArray, name: str, dtype: str, view: str) -> pa.ChunkedArray:
    kind = column.type
    if dtype in ("int32", "int64"):
        if not pa.types.is_integer(kind):
            hint = " (a float column often means missing keys: fill or drop them)" if pa.types.is_floating(kind) else ""
            raise ValidationError(
                f"Entity frame column {name!r} is {kind}, but view {view!r} joins on it as {dtype}{hint}."
            )
    elif not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise ValidationError(f"Entity frame column {name!r} is {kind}, but view {view!r} joins on it as a string.")
    return column.cast(DTYPES[dtype].arrow)
