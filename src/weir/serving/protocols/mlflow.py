"""MLflow's scoring protocol (``POST /invocations``), as ``mlflow models serve`` speaks it.

``application/json`` bodies hold exactly one of four keys, and optionally ``params`` (an object;
checked here, used by the caller):

- ``dataframe_split``: ``{"columns": [...], "data": [[...], ...]}`` (``index`` allowed, ignored);
- ``dataframe_records``: ``[{"a": 1, "b": 2}, ...]``;
- ``instances`` and ``inputs`` (TF-serving style): a list of objects (rows) or an object of lists
  (columns) gives a :data:`Table`; a list of values or of equal-length lists gives an ``ndarray``.

``text/csv`` bodies are a header row and data rows, as ``DataFrame.to_csv()`` writes them.

A :data:`Table` maps column names to numpy arrays with one entry per row. Columns are typed from
their values: ``int64`` when every value is an integer, ``float64`` when every value is a number
(a missing or ``null`` value becomes NaN), ``bool`` for booleans, otherwise an object array of
``str`` (``None`` where missing). A column whose cells are equal-length lists is 2-D (rows first).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from typing import Any, TypeAlias

import numpy as np

from weir.errors import ValidationError
from weir.serving.protocols import decode_json, encode_json, jsonable

Table: TypeAlias = dict[str, np.ndarray]
"""Named columns of equal length (first dimension = rows); usually 1-D."""

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
CONTENT_TYPES = ("application/json", "text/csv")
_NUMBER = (int, float)
_BOOL_TEXT = {"true": True, "false": False}
_INTEGERS = re.compile(r"[+-]?[0-9]+(?:,[+-]?[0-9]+)*")
"""A column of integers, its cells joined by commas."""


def parse_invocation(body: bytes, content_type: str | None) -> Table | np.ndarray:
    """Parse an ``/invocations`` body into a :data:`Table` or an ``ndarray``.

    Unsupported content types, charsets other than UTF-8 and malformed bodies raise
    :class:`~weir.errors.ValidationError` naming the culprit (MLflow answers 415 to the first two).

    >>> body = b'{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2.5], [3, 4]]}}'
    >>> parse_invocation(body, "application/json")
    {'a': array([1, 3]), 'b': array([2.5, 4. ])}
    >>> parse_invocation(b'{"inputs": [[1, 2], [3, 4]]}', "application/json; charset=utf-8")
    array([[1, 2],
           [3, 4]])
    >>> parse_invocation(b"a,b\\n1,x\\n,y\\n", "text/csv")
    {'a': array([ 1., nan]), 'b': array(['x', 'y'], dtype=object)}
    """
    mime = _media_type(content_type)
    if mime == "text/csv":
        return parse_csv(body)
    document = decode_json(body)
    if type(document) is not dict:
        raise ValidationError(
            f"The body must be a JSON object with exactly one of {', '.join(FORMATS)}; got {type(document).__name__}.",
            field="body",
        )
    present = [key for key in FORMATS if key in document]
    if len(present) != 1:
        raise ValidationError(
            f"The body must hold exactly one of {', '.join(FORMATS)}; it holds "
            f"{', '.join(present) if present else 'none of them'} (keys: {', '.join(map(str, document)) or 'none'}).",
            field="body",
        )
    params = document.get("params")
    if params is not None and type(params) is not dict:
        raise ValidationError(f"params must be a JSON object, not {type(params).__name__}.", field="params")
    key = present[0]
    value = document[key]
    if key == "dataframe_split":
        return _split(value)
    if key == "dataframe_records":
        if type(value) is not list:
            raise ValidationError("dataframe_records must be a list of row objects.", field=key)
        return table_from_records(value, key)
    if type(value) is dict:
        return table_from_columns(value, key)
    if type(value) is list and value and type(value[0]) is dict:
        return table_from_records(value, key)
    return to_array(value if type(value) is list else [value], key)


def _media_type(content_type: str | None) -> str:
    """The media type, after checking the parameters as MLflow does (only ``charset=utf-8``)."""
    mime, *parameters = (content_type or "").split(";")
    mime = mime.strip().lower()
    if mime not in CONTENT_TYPES:
        raise ValidationError(
            f"Content-Type {content_type!r} is not supported; send {' or '.join(CONTENT_TYPES)}.",
            field="Content-Type",
        )
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        key, value = key.strip().lower(), value.strip().strip('"').lower()
        if not key:
            continue  # "application/json;" as MLflow's own documentation sends it
        if key != "charset" or value not in ("utf-8", "utf8"):
            raise ValidationError(
                f"Content-Type parameter {parameter.strip()!r} is not supported; only charset=utf-8 is.",
                field="Content-Type",
            )
    return mime


def _split(value: object) -> Table:
    field = "dataframe_split"
    if type(value) is not dict:
        raise ValidationError(f"{field} must be an object with columns and data.", field=field)
    unknown = set(value) - {"columns", "data", "index"}
    if unknown:
        raise ValidationError(
            f"{field} has unexpected keys {sorted(unknown)}; send columns, data and optionally index.", field=field
        )
    rows = value.get("data")
    if type(rows) is not list or not all(type(row) is list for row in rows):
        raise ValidationError(f"{field}.data must be a list of rows, each a list of values.", field=f"{field}.data")
    columns = value.get("columns")
    if columns is None:
        columns = [str(i) for i in range(len(rows[0]))] if rows else []
    if type(columns) is not list or not all(type(name) in (str, int) for name in columns):
        raise ValidationError(f"{field}.columns must be a list of column names.", field=f"{field}.columns")
    index = value.get("index")
    if index is not None and (type(index) is not list or len(index) != len(rows)):
        raise ValidationError(
            f"{field}.index must be a list with one entry per row ({len(rows)}).", field=f"{field}.index"
        )
    return table_from_rows([str(name) for name in columns], rows, f"{field}.data")


def table_from_records(records: list[Any], field: str) -> Table:
    """Columns from row objects; a key missing from a row gives None (NaN in a numeric column).

    >>> table_from_records([{"a": 1, "b": "x"}, {"a": 2}], "records")
    {'a': array([1, 2]), 'b': array(['x', None], dtype=object)}
    """
    for i, record in enumerate(records):
        if type(record) is not dict:
            raise ValidationError(
                f"{field}[{i}] is {type(record).__name__}; send an object per row.", field=f"{field}[{i}]"
            )
    if not records:
        return {}
    first = records[0]
    names = list(first)
    rest = records[1:]
    if all(record.keys() == first.keys() for record in rest):
        rows = [list(record.values()) for record in records]
        if any(list(record) != names for record in rest):  # same keys, another order
            rows = [[record[name] for name in names] for record in records]
    else:
        names = list(dict.fromkeys(name for record in records for name in record))
        rows = [[record.get(name) for name in names] for record in records]
    return table_from_rows(names, rows, field)


def table_from_rows(names: list[str], rows: list[list[Any]], field: str) -> Table:
    """Columns from rows of values, one per name; every row must have one value per name."""
    width = len(names)
    if len(set(names)) != width:
        raise ValidationError(f"{field} names a column twice; name each column once.", field=field)
    kinds: set[type] = set()
    for i, row in enumerate(rows):
        if len(row) != width:
            raise ValidationError(
                f"Row {i} of {field} has {len(row)} values but there are {width} columns; send one value per column.",
                field=f"{field}[{i}]",
            )
        kinds.update(map(type, row))
    if not rows:
        return {name: np.empty(0, dtype=object) for name in names}
    return _typed_columns(names, [list(values) for values in zip(*rows, strict=True)], kinds, field)


def table_from_columns(columns: dict[str, Any], field: str) -> Table:
    """Columns from an object of lists (a scalar is a one-row column); all must be equally long.

    >>> table_from_columns({"a": [1, 2], "b": [[1, 2], [3, 4]]}, "inputs")["b"].shape
    (2, 2)
    """
    names = list(columns)
    lists = [values if type(values) is list else [values] for values in columns.values()]
    lengths = {name: len(values) for name, values in zip(names, lists, strict=True)}
    if len(set(lengths.values())) > 1:
        raise ValidationError(
            f"The columns of {field} have different lengths ({lengths}); send the same number of values for each.",
            field=field,
        )
    kinds: set[type] = set()
    for values in lists:
        kinds.update(map(type, values))
    return _typed_columns(names, lists, kinds, field)


def _typed_columns(names: list[str], lists: list[list[Any]], kinds: set[type], field: str) -> Table:
    """Type each column's values; ``kinds`` (the types of all values) picks a one-call numeric path."""
    if lists and lists[0] and kinds <= {int, float}:  # all numbers: one numpy call, one row per column
        try:
            columns = list(np.array(lists, dtype=np.float64 if float in kinds else np.int64))
        except OverflowError:
            pass
        else:
            if float in kinds and int in kinds:  # integer-only columns stay int64
                for j, values in enumerate(lists):
                    if all(type(value) is int for value in values):
                        columns[j] = _column(values, names[j], field)
            return dict(zip(names, columns, strict=True))
    return {name: _column(values, name, field) for name, values in zip(names, lists, strict=True)}


def _column(values: list[Any], name: str, field: str) -> np.ndarray:
    """Type one column from its JSON values (see the module's docstring)."""
    kinds = set(map(type, values))
    try:
        if kinds <= {int}:
            return np.array(values, dtype=np.int64) if values else np.empty(0, dtype=object)
        if kinds <= {int, float, type(None)} and kinds & {int, float}:
            return np.array(values, dtype=np.float64)
        if kinds == {bool}:
            return np.array(values, dtype=np.bool_)
        if kinds == {list}:
            return to_array(values, f"{field}.{name}")
    except OverflowError:  # integers beyond int64
        return np.array(values, dtype=np.float64)
    column = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):  # element by element: numpy would read equal-length lists as a 2-D block
        column[i] = value
    return column


def to_array(values: list[Any], field: str) -> np.ndarray:
    """An ndarray from (nested) lists; ragged nesting raises ``ValidationError``; strings stay ``str``."""
    try:
        array = np.array(values)
    except (ValueError, TypeError, OverflowError, RecursionError):
        raise ValidationError(
            f"{field} holds nested lists of different lengths; make every row the same length.", field=field
        ) from None
    if array.dtype.kind in "US":
        return array.astype(object)
    if array.dtype.kind == "O":
        return _objects(values, field)
    return array


def _objects(values: list[Any], field: str) -> np.ndarray:
    """Nested lists numpy could only hold as objects: numbers with nulls become floats with NaN."""
    try:
        return np.array(values, dtype=np.float64)
    except (ValueError, TypeError, OverflowError):
        return np.array(values, dtype=object)


def parse_csv(body: bytes) -> Table:
    """A :data:`Table` from CSV text with a header row (blank lines skipped, as pandas does).

    >>> parse_csv(b"x,y,z\\n1,2.5,True\\n3,,False\\n")
    {'x': array([1, 3]), 'y': array([2.5, nan]), 'z': array([ True, False])}
    """
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"The CSV body is not UTF-8 at byte {exc.start}; send UTF-8 text.", field="body"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    lines: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            if row:
                lines.append((reader.line_num, row))
    except csv.Error as exc:
        raise ValidationError(f"The CSV body is malformed at line {reader.line_num}: {exc}.", field="body") from None
    if not lines:
        raise ValidationError("The CSV body is empty; send a header row and then one line per row.", field="body")
    header = [name or f"Unnamed: {i}" for i, name in enumerate(lines[0][1])]
    if len(set(header)) != len(header):
        raise ValidationError(f"The CSV header names a column twice ({header}); name each column once.", field="header")
    for number, row in lines[1:]:
        if len(row) != len(header):
            raise ValidationError(
                f"CSV line {number} has {len(row)} fields but the header has {len(header)}; send one per column.",
                field=f"line {number}",
            )
    columns = [list(values) for values in zip(*(row for _, row in lines[1:]), strict=True)] or [[] for _ in header]
    return _csv_numbers(header, columns) or {
        name: _csv_column(values) for name, values in zip(header, columns, strict=True)
    }


def _csv_numbers(header: list[str], columns: list[list[str]]) -> Table | None:
    """The common all-numeric, nothing-missing table in one pass; ``None`` when it is not that."""
    texts = [",".join(values) for values in columns]
    if not columns[0] or any("_" in text for text in texts):
        return None  # Python's float() accepts 1_000; CSV writers never write it
    try:
        numbers = [float(value) for values in columns for value in values]
    except ValueError:  # an empty cell or a word: typed column by column
        return None
    table = dict(zip(header, np.array(numbers, dtype=np.float64).reshape(len(columns), -1), strict=True))
    for name, values, text in zip(header, columns, texts, strict=True):
        if _INTEGERS.fullmatch(text):
            try:
                table[name] = np.array([int(value) for value in values], dtype=np.int64)
            except OverflowError:
                pass
    return table


def _csv_column(cells: list[str]) -> np.ndarray:
    present = [cell for cell in cells if cell != ""]
    missing = len(present) != len(cells)
    if all("_" not in cell for cell in present):  # Python's int()/float() accept 1_000; CSV writers never do
        for parse in (int, float):
            try:
                values = [parse(cell) if cell != "" else None for cell in cells]
            except ValueError:
                continue
            if parse is int and not missing:
                try:
                    return np.array(values, dtype=np.int64)
                except OverflowError:
                    pass
            return np.array(values, dtype=np.float64)
    if present and not missing and all(cell.lower() in _BOOL_TEXT for cell in cells):
        return np.array([_BOOL_TEXT[cell.lower()] for cell in cells], dtype=np.bool_)
    column = np.empty(len(cells), dtype=object)
    column[:] = [cell if cell != "" else None for cell in cells]
    return column


def encode_predictions(predictions: np.ndarray | Mapping[str, np.ndarray]) -> bytes:
    """The ``/invocations`` response: ``{"predictions": [...]}``, or an object of lists for named outputs.

    NaN becomes ``null`` (JSON cannot spell it), bytes become base64 text, as MLflow writes them.

    >>> encode_predictions(np.array([0.25, np.nan]))
    b'{"predictions":[0.25,null]}'
    >>> encode_predictions({"label": np.array(["a"]), "probabilities": np.array([[0.9, 0.1]])})
    b'{"predictions":{"label":["a"],"probabilities":[[0.9,0.1]]}}'
    """
    if isinstance(predictions, Mapping):
        return encode_json({"predictions": {str(k): jsonable(np.asarray(v)) for k, v in predictions.items()}})
    return encode_json({"predictions": jsonable(np.asarray(predictions))})


__all__ = [
    "CONTENT_TYPES",
    "FORMATS",
    "Table",
    "encode_predictions",
    "parse_csv",
    "parse_invocation",
    "table_from_columns",
    "table_from_records",
    "table_from_rows",
    "to_array",
]
