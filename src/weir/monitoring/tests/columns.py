"""Turning user input into the column arrays the statistics work on.

Input is rows × columns (a 1-D input is one column). Numeric statistics receive each column as a row
of a ``(columns, rows)`` float64 array, sorted ascending with NaN (missing) last, so per-column work
runs along contiguous memory and every sort happens once; wide tables go through in blocks of columns.
Infinite values are refused with a :class:`~weir.errors.ValidationError` naming the column: an
infinity has no place on a distribution's axis, and silently dropping it would hide a data bug.

>>> import numpy as np
>>> table = as_table([3.0, np.nan, 1.0], "reference")
>>> table.shape
(3, 1)
>>> sorted_rows(numeric_table(table, "reference", "ks"))
array([[ 1.,  3., nan]])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from weir.errors import ValidationError

BLOCK_VALUES = 1 << 19
"""Values (reference plus current) per block of columns: numeric tests run block by block, so memory
stays flat and hot in cache however many columns there are."""

Table = npt.NDArray[Any]
FloatRows = npt.NDArray[np.float64]


def as_table(data: object, side: str) -> Table:
    """``data`` as a 2-D array of rows × columns; a 1-D input is one column."""
    array = np.asarray(data)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise ValidationError(
            f"The {side} data must be 1-D (one column) or 2-D (rows × columns); got shape {array.shape}.",
            side=side,
        )
    return array


def check_same_columns(reference: Table, current: Table) -> None:
    """Refuse reference and current data with different numbers of columns."""
    if reference.shape[1] != current.shape[1]:
        raise ValidationError(
            f"The reference has {reference.shape[1]} column(s) but the current data has {current.shape[1]}; "
            "pass the same columns, in the same order, on both sides.",
            reference_columns=reference.shape[1],
            current_columns=current.shape[1],
        )


def is_numeric(table: Table) -> bool:
    """Whether the array's dtype holds numbers (integers or floats; booleans count as categories)."""
    return table.dtype.kind in "iuf"


def reject_infinite(table: Table, side: str) -> None:
    """Raise a :class:`ValidationError` naming the first column of a float array holding ±inf."""
    if table.dtype.kind != "f":
        return
    bad = np.isinf(table)
    if not bad.any():
        return
    column = int(np.flatnonzero(bad.any(axis=0))[0])
    row = int(np.flatnonzero(bad[:, column])[0])
    raise ValidationError(
        f"Column {column} of the {side} data holds an infinite value (first at row {row}); replace infinities "
        "with NaN (missing values are dropped before testing) or with a finite value.",
        side=side,
        column=column,
        row=row,
    )


def numeric_table(table: Table, side: str, test: str) -> Table:
    """``table`` checked for numbers and infinities; object arrays become float64 with NaN for missing."""
    kind = table.dtype.kind
    if kind == "O":
        missing = pd.isna(table)
        try:
            table = np.where(missing, np.nan, table).astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValidationError(
                f"The {side} data holds non-numeric values ({exc}); the {test!r} test applies to numeric columns. "
                "Use a categorical test (chi2, ztest, psi, jensen_shannon, hellinger, kl) for these columns.",
                side=side,
                test=test,
            ) from exc
    elif kind not in "iufb":
        raise ValidationError(
            f"The {side} data has dtype {table.dtype}, which is not numeric; the {test!r} test applies to numeric "
            "columns. Use a categorical test (chi2, ztest, psi, jensen_shannon, hellinger, kl) for these columns.",
            side=side,
            test=test,
        )
    reject_infinite(table, side)
    return table


def column_blocks(n_rows: int, n_columns: int) -> list[slice]:
    """Slices of columns holding about :data:`BLOCK_VALUES` values each (at least one column)."""
    step = max(1, BLOCK_VALUES // max(n_rows, 1))
    return [slice(start, start + step) for start in range(0, n_columns, step)]


def sorted_rows(table: Table) -> FloatRows:
    """The columns of a :func:`numeric_table` as rows of float64, each sorted ascending, NaN last (a copy)."""
    rows = np.array(table.T, dtype=np.float64, order="C")
    rows.sort(axis=1)
    return rows


def count_valid(rows: FloatRows) -> npt.NDArray[np.int64]:
    """Non-missing values per row of a :func:`sorted_rows` array."""
    return np.asarray(rows.shape[1] - np.isnan(rows).sum(axis=1), dtype=np.int64)


__all__ = [
    "BLOCK_VALUES",
    "FloatRows",
    "Table",
    "as_table",
    "check_same_columns",
    "column_blocks",
    "count_valid",
    "is_numeric",
    "numeric_table",
    "sorted_rows",
]
