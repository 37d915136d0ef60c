"""Column types of a data frame: which columns a drift test can compare, and how.

Every column of the reference frame gets one type, decided from the reference alone (so the type,
and the test chosen for it, stay the same however the current windows look):

============ ======================================================================= ==========
type         inferred when (the first rule that applies wins)                         tested?
============ ======================================================================= ==========
categorical  boolean or ``category`` dtype                                            yes
datetime     datetime, timedelta or period dtype, or objects that are dates/times      no
categorical  integer dtype with at most :data:`FEW_VALUES` (5) distinct values         yes
id           integer dtype, at least :data:`MIN_ROWS` (20) values, all distinct and     no
             consecutive (``max - min + 1 == count``): a row number or key
numeric      any other integer or float dtype, or objects that are all numbers         yes
id           strings, at least 20 values, all distinct                                 no
text         strings, at least 20 values, more than half of them distinct              no
categorical  any other strings or objects (mixed labels, bytes, all missing)           yes
excluded     anything else (complex numbers, ...)                                     no
============ ======================================================================= ==========

The integer rule is Evidently's (``NUMBER_UNIQUE_AS_CATEGORICAL = 5`` in its data definition): an
integer column with a handful of values is a code (a rating, a class), not a quantity. Floats stay
numeric whatever their number of values; the choice of test (:mod:`weir.monitoring.choice`) reads
numeric columns with few values as categories, as Evidently does.

Untested columns carry a ``reason``. ``overrides`` (the detector's ``column_types``) set a column's type
outright; the allowed types are :data:`COLUMN_TYPES`, and ``"excluded"`` leaves a column out.

The module also reads tested columns into numpy, once per frame: numeric columns as one float64 block
(:func:`float_block`, missing as NaN, infinities refused naming the column), categorical ones as
float codes of the reference's categories (:func:`encode_reference`, :func:`encode_current`; missing
as NaN, categories unseen in the reference as new codes), which the categorical tests count like the
original labels at a fraction of the cost of hashing strings again.

>>> import pandas as pd
>>> frame = pd.DataFrame({"age": [31.0, 45.5, 27.0], "plan": ["a", "b", "a"], "stars": [1, 5, 3]})
>>> {name: info.type for name, info in infer_column_types(frame).items()}
{'age': 'numeric', 'plan': 'categorical', 'stars': 'categorical'}
>>> infer_column_types(frame, {"stars": "numeric"})["stars"].reason
'set by column_types'
>>> infer_column_types(frame, {"stars": "ordinal"})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
weir.errors.ValidationError: column_types['stars'] is 'ordinal'; allowed types: numeric, categorical, datetime, ...
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt
import pandas as pd

from weir.errors import ValidationError

FloatRows = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Factorized = tuple[npt.NDArray[np.intp], pd.Index]
ColumnType = Literal["numeric", "categorical", "datetime", "text", "id", "excluded"]
COLUMN_TYPES: tuple[ColumnType, ...] = get_args(ColumnType)
TESTED_TYPES: tuple[ColumnType, ...] = ("numeric", "categorical")

FEW_VALUES = 5
"""An integer column with at most this many distinct reference values is categorical (Evidently's rule)."""
MIN_ROWS = 20
"""Fewer non-missing reference values than this are never called ``id`` or ``text``: too few to tell."""
TEXT_SHARE = 0.5
"""Strings with more than this share of distinct values are free text (or near-unique keys)."""

_DATETIME_OBJECTS = {"datetime", "datetime64", "date", "time", "timedelta", "timedelta64", "period"}
_NUMBER_OBJECTS = {"integer", "floating", "mixed-integer-float", "decimal"}


@dataclass(frozen=True)
class ColumnInfo:
    """One column's type and why; ``n_unique`` is the distinct non-missing count where it was needed."""

    name: str
    type: ColumnType
    reason: str
    n_unique: int | None = None

    @property
    def tested(self) -> bool:
        """Whether a drift test compares this column (numeric and categorical ones)."""
        return self.type in TESTED_TYPES


def check_frame(frame: object, side: str) -> pd.DataFrame:
    """``frame`` if it is a DataFrame with unique string column labels; a clear error otherwise."""
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(
            f"The {side} data must be a pandas DataFrame; got {type(frame).__name__}. "
            "Wrap arrays with pandas.DataFrame(data, columns=[...]).",
            side=side,
        )
    labels = list(frame.columns)
    odd = [label for label in labels if not isinstance(label, str)]
    if odd:
        raise ValidationError(
            f"The {side} data's column labels must be strings; got {odd[:5]!r}. "
            "Rename them, for example with frame.columns = frame.columns.astype(str).",
            side=side,
        )
    duplicated = sorted({label for label in labels if labels.count(label) > 1})
    if duplicated:
        raise ValidationError(f"The {side} data has duplicated columns {duplicated}; give each column one name.")
    return frame


def _integer_type(name: str, values: pd.Series) -> ColumnInfo:
    valid = values.dropna()
    n_unique = int(valid.nunique())
    if n_unique <= FEW_VALUES:
        return ColumnInfo(name, "categorical", f"integers with {n_unique} distinct value(s) (≤ {FEW_VALUES})", n_unique)
    count = len(valid)
    if count >= MIN_ROWS and n_unique == count and int(valid.max()) - int(valid.min()) + 1 == count:
        return ColumnInfo(name, "id", f"{count} distinct consecutive integers: a row number or key", n_unique)
    return ColumnInfo(name, "numeric", "integer dtype", n_unique)


def _string_type(name: str, values: pd.Series, memo: dict[str, Factorized] | None) -> ColumnInfo:
    codes, uniques = factorized = factorize(values)
    if memo is not None:
        memo[name] = factorized
    count, n_unique = int(np.count_nonzero(codes >= 0)), len(uniques)
    if count >= MIN_ROWS and n_unique == count:
        return ColumnInfo(name, "id", f"all {count} values are distinct: an identifier, not a distribution", n_unique)
    if count >= MIN_ROWS and n_unique > TEXT_SHARE * count:
        return ColumnInfo(
            name, "text", f"{n_unique} distinct values in {count} rows: free text, no category repeats enough", n_unique
        )
    return ColumnInfo(name, "categorical", "strings", n_unique)


def infer_column_type(name: str, values: pd.Series, memo: dict[str, Factorized] | None = None) -> ColumnInfo:
    """The type of one reference column, by the table in the module docstring (``memo``: see below)."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        return ColumnInfo(name, "categorical", f"{dtype} dtype")
    if isinstance(dtype, pd.PeriodDtype) or dtype.kind in "mM":
        return ColumnInfo(name, "datetime", f"{dtype} dtype: time stamps move by design; test derived features")
    if pd.api.types.is_integer_dtype(dtype):
        return _integer_type(name, values)
    if pd.api.types.is_float_dtype(dtype):
        return ColumnInfo(name, "numeric", f"{dtype} dtype")
    if pd.api.types.is_string_dtype(dtype):
        inferred = pd.api.types.infer_dtype(values, skipna=True)
        if inferred == "string":
            return _string_type(name, values, memo)
        if inferred in _DATETIME_OBJECTS:
            return ColumnInfo(name, "datetime", f"{inferred} objects: time stamps move by design")
        if inferred == "integer":
            return _integer_type(name, values)
        if inferred in _NUMBER_OBJECTS:
            return ColumnInfo(name, "numeric", f"{inferred} objects")
        if inferred == "empty":
            return ColumnInfo(name, "categorical", "every value is missing", 0)
        return ColumnInfo(name, "categorical", f"{inferred} objects read as labels")
    return ColumnInfo(name, "excluded", f"{dtype} dtype is neither numeric nor categorical")


def check_override(name: str, value: object) -> ColumnType:
    """``value`` if it is one of :data:`COLUMN_TYPES`; a :class:`ValidationError` naming the column otherwise."""
    if not isinstance(value, str) or value not in COLUMN_TYPES:
        raise ValidationError(
            f"column_types[{name!r}] is {value!r}; allowed types: {', '.join(COLUMN_TYPES)}.", column=name
        )
    return value


def infer_column_types(
    frame: pd.DataFrame, overrides: Mapping[str, str] | None = None, *, memo: dict[str, Factorized] | None = None
) -> dict[str, ColumnInfo]:
    """Every column's :class:`ColumnInfo`, in the frame's order; ``overrides`` win over inference.

    ``memo``, when given, receives the :func:`factorize` result of each string column inferred, which
    :func:`encode_reference` can reuse instead of hashing the strings again.
    """
    frame = check_frame(frame, "reference")
    overrides = dict(overrides or {})
    unknown = [name for name in overrides if name not in frame.columns]
    if unknown:
        raise ValidationError(
            f"column_types names column(s) {unknown} that the reference does not have; "
            f"its columns: {', '.join(map(str, frame.columns))}.",
            columns=unknown,
        )
    types: dict[str, ColumnInfo] = {}
    for name in frame.columns:
        if name in overrides:
            types[name] = ColumnInfo(name, check_override(name, overrides[name]), "set by column_types")
        else:
            types[name] = infer_column_type(name, frame[name], memo)
    return types


def count_valid_distinct(block: FloatRows, cap: int, prefix: int = 256) -> tuple[IntArray, IntArray]:
    """Non-missing and distinct non-missing values per column of a rows × columns float block.

    Distinct values are exact up to ``cap``; a larger count only means "more than ``cap``". The first
    ``prefix`` rows settle that for almost every continuous column, so only columns with few values
    there are counted in full: no sort, no hash of every value.
    """
    missing = np.isnan(block)
    n_valid = block.shape[0] - np.count_nonzero(missing, axis=0)
    distinct = np.zeros(block.shape[1], dtype=np.int64)
    for j in range(block.shape[1]):
        head = block[:prefix, j]
        distinct[j] = np.unique(head[~missing[:prefix, j]]).size
        if distinct[j] <= cap:
            distinct[j] = pd.unique(block[~missing[:, j], j]).size
    return n_valid.astype(np.int64), distinct


def float_block(frame: pd.DataFrame, names: list[str], side: str) -> FloatRows:
    """Rows × columns of float64 (NaN for missing); names the column that is not numbers or holds ±inf."""
    try:
        block = frame[names].to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        for name in names:
            try:
                frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError) as exc:
                raise ValidationError(
                    f"Column {name!r} of the {side} data is numeric in the reference but holds values that are not "
                    f"numbers ({exc}); fix the data, or set its type with column_types.",
                    column=name,
                    side=side,
                ) from exc
        raise
    infinite = np.flatnonzero(np.isinf(block).any(axis=0))
    if infinite.size:
        bad = [names[j] for j in infinite]
        raise ValidationError(
            f"Column(s) {bad} of the {side} data hold infinite values; replace them with NaN (missing values "
            "are dropped before testing) or with finite values.",
            columns=bad,
            side=side,
        )
    return block


def factorize(values: pd.Series) -> Factorized:
    """Codes in order of first appearance (-1 for missing) and the distinct values, hashing each value once."""
    # pandas' python-backed "str" dtype factorizes at half the speed of the same strings as objects
    array = values.to_numpy(dtype=object) if isinstance(values.dtype, pd.StringDtype) else values
    codes, uniques = pd.factorize(array)
    return codes, pd.Index(np.asarray(uniques)) if isinstance(uniques, pd.CategoricalIndex) else pd.Index(uniques)


def encode_reference(values: pd.Series, factorized: Factorized | None = None) -> tuple[FloatRows, pd.Index]:
    """Codes 0..K-1 in order of first appearance (NaN for missing) and the K categories."""
    codes, categories = factorize(values) if factorized is None else factorized
    return np.where(codes >= 0, codes, np.nan), categories


def encode_current(values: pd.Series, categories: pd.Index) -> tuple[FloatRows, int]:
    """Codes of ``categories`` (NaN for missing); unseen categories get new codes K, K+1, ... (and are counted).

    Each row is hashed once (a ``category`` column not at all); only the distinct values are looked up.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        raw, distinct = values.cat.codes.to_numpy(), pd.Index(np.asarray(values.cat.categories))
    else:
        raw, distinct = factorize(values)
    lookup = categories.get_indexer(distinct).astype(np.float64)
    new = lookup < 0
    used = np.zeros(len(distinct), dtype=np.bool_)
    used[raw[raw >= 0]] = True
    lookup[new] = len(categories) + np.arange(np.count_nonzero(new))
    codes = np.where(raw >= 0, lookup[np.maximum(raw, 0)] if len(lookup) else np.nan, np.nan)
    return codes, int(np.count_nonzero(used & new))


__all__ = [
    "COLUMN_TYPES",
    "FEW_VALUES",
    "MIN_ROWS",
    "TESTED_TYPES",
    "TEXT_SHARE",
    "ColumnInfo",
    "ColumnType",
    "Factorized",
    "FloatRows",
    "IntArray",
    "check_frame",
    "check_override",
    "count_valid_distinct",
    "encode_current",
    "encode_reference",
    "factorize",
    "float_block",
    "infer_column_type",
    "infer_column_types",
]
