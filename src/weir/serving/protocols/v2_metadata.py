"""Open Inference Protocol V2: tensor datatypes and their wire forms, metadata, the error body.

For each datatype this module knows the numpy dtype, which JSON values fit it, and its binary
layout (little-endian, row-major; ``BOOL`` one byte; ``BYTES`` a 4-byte little-endian length and the
bytes, per element). :mod:`weir.serving.protocols.v2` frames requests and responses around these
and re-exports the public names; import from there.

The datatype table follows the protocol's "Tensor Data Types": twelve fixed-size types and
``BYTES`` (variable length, at most 2**32 bytes an element). ``BF16``, which Triton also accepts,
has no numpy dtype and is refused with a message naming the supported types.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from weir.errors import ValidationError
from weir.serving.protocols import encode_json, jsonable

DATATYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
"""V2 datatype name -> the numpy dtype a parsed tensor has (``BYTES``: object array of bytes or str)."""

_WIRE = {name: dtype.newbyteorder("<") for name, dtype in DATATYPES.items() if name != "BYTES"}
_LENGTH = struct.Struct("<I")
MAX_DIMS = 32
"""The most dimensions a tensor may have (numpy allows 64)."""

_BY_KIND_SIZE: dict[tuple[str, int], str] = {
    (dtype.kind, dtype.itemsize): name for name, dtype in DATATYPES.items() if name != "BYTES"
}
SUPPORTED = ", ".join(DATATYPES)


def datatype_of(array: np.ndarray) -> str:
    """The V2 datatype name of a numpy array (either byte order; str, bytes and object -> ``BYTES``).

    >>> datatype_of(np.zeros(3, dtype=np.float32)), datatype_of(np.array(["a", "b"]))
    ('FP32', 'BYTES')
    >>> datatype_of(np.zeros(2, dtype=np.complex64))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    weir.errors.ValidationError: numpy dtype complex64 has no V2 datatype; return one of BOOL, UINT8, ..., BYTES.
    """
    dtype = array.dtype
    if dtype.kind in "OUS":
        return "BYTES"
    name = _BY_KIND_SIZE.get((dtype.kind, dtype.itemsize))
    if name is None:
        raise ValidationError(f"numpy dtype {dtype} has no V2 datatype; return one of {SUPPORTED}.", field="datatype")
    return name


def check_datatype(datatype: object, field: str) -> str:
    """Return ``datatype`` if it names a supported V2 datatype, else raise ``ValidationError``."""
    if type(datatype) is str and datatype in DATATYPES:
        return datatype
    raise ValidationError(f"{field} is {datatype!r}, which is not a V2 datatype; use one of {SUPPORTED}.", field=field)


def _count_error(name: str, shape: list[int], count: int, sent: int, noun: str, field: str) -> ValidationError:
    sent_text = f"{sent} {noun} was" if sent == 1 else f"{sent} {noun}s were"
    return ValidationError(
        f"Input '{name}' has shape {shape} ({count} elements) but {sent_text} sent; send shape-product values.",
        field=field,
    )


def decode_json_data(data: object, datatype: str, shape: list[int], count: int, name: str, field: str) -> np.ndarray:
    """The flat array of a tensor's JSON ``data`` (flat or nested), checked against count and datatype."""
    if type(data) is not list:
        raise ValidationError(
            f"Input '{name}' data is {type(data).__name__}; send a JSON array (flat or nested, row-major).",
            field=field,
        )
    if datatype == "BYTES":
        flat: list[Any] = []
        _flatten_strings(data, flat, name, field)
        if len(flat) != count:
            raise _count_error(name, shape, count, len(flat), "value", field)
        array = np.empty(len(flat), dtype=object)
        array[:] = flat
        return array
    try:
        array = np.array(data)
    except (ValueError, TypeError, OverflowError, RecursionError):
        raise ValidationError(
            f"Input '{name}' has ragged nested data; make every nested list the same length.", field=field
        ) from None
    if array.size != count:
        raise _count_error(name, shape, count, array.size, "value", field)
    return _coerce(array, datatype, name, field, data)


def _flatten_strings(data: list[Any], flat: list[Any], name: str, field: str, depth: int = 0) -> None:
    for item in data:
        if type(item) is str:
            flat.append(item)
        elif type(item) is list and depth < MAX_DIMS:
            _flatten_strings(item, flat, name, field, depth + 1)
        else:
            raise ValidationError(
                f"Input '{name}' (BYTES) holds {item!r}; send strings (or binary data for raw bytes).", field=field
            )


_LIMITS: dict[str, tuple[float, float]] = {
    **{name: (int(np.iinfo(d).min), int(np.iinfo(d).max)) for name, d in DATATYPES.items() if d.kind in "iu"},
    **{name: (-float(np.finfo(d).max), float(np.finfo(d).max)) for name, d in DATATYPES.items() if d.kind == "f"},
}
"""Per numeric datatype, the closed range a JSON value must lie in."""


def _coerce(array: np.ndarray, datatype: str, name: str, field: str, data: list[Any]) -> np.ndarray:
    """Cast inferred JSON values to the datatype, refusing values that do not fit it."""
    target = DATATYPES[datatype]
    kind = array.dtype.kind
    if array.size == 0 or array.dtype == target:
        return array.astype(target, copy=False).ravel()
    if datatype == "BOOL" or kind not in "biuf":
        raise _value_error(name, datatype, data, field, "true or false" if datatype == "BOOL" else "numbers")
    if kind == "b" or (target.kind == "f" and (kind != "f" or target.itemsize == 8) and target.itemsize > 2):
        return array.astype(target).ravel()  # always fits: booleans anywhere, integers in FP32, floats in FP64
    values: list[Any] | None = data if array.ndim == 1 else None
    if target.kind in "iu" and kind == "f":
        # Floats here are either fractions (refused) or integers numpy widened to float64 because they
        # mix signs beyond int64 or exceed it; those stay exact only as Python numbers.
        values = values if values is not None else _leaves(data)
        if not all(type(value) is not float or value.is_integer() for value in values):
            raise _value_error(name, datatype, data, field, "integers")
    # Python's min/max on a short flat list beat numpy's reductions, whose fixed cost is about 1 µs.
    if values is not None and (len(values) <= 256 or kind == "f"):
        low, high = min(values), max(values)
    else:
        low, high = array.min().item(), array.max().item()
    floor, ceiling = _LIMITS[datatype]
    if low < floor or high > ceiling:
        raise ValidationError(
            f"Input '{name}' ({datatype}) holds values from {low} to {high}, beyond what {datatype} holds; "
            "send values in range or choose a wider datatype.",
            field=field,
        )
    if target.kind in "iu" and kind == "f":
        return np.array(values, dtype=target)
    return array.astype(target).ravel()


def _leaves(data: list[Any]) -> list[Any]:
    """The leaves of nested lists, row-major."""
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if type(item) is list:
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def _value_error(name: str, datatype: str, data: list[Any], field: str, wanted: str) -> ValidationError:
    culprit = _first_offender(data, datatype)
    return ValidationError(f"Input '{name}' ({datatype}) holds {culprit!r}; send {wanted} only.", field=field)


def _first_offender(data: Any, datatype: str) -> Any:
    allowed: tuple[type, ...] = (bool,) if datatype == "BOOL" else (bool, int, float)
    stack = [data]
    while stack:
        item = stack.pop()
        if type(item) is list:
            stack.extend(reversed(item))
        elif type(item) not in allowed or (datatype[0] in "IU" and type(item) is float and not item.is_integer()):
            return item
    return data


def decode_binary_data(
    chunk: memoryview, datatype: str, shape: list[int], count: int, name: str, field: str
) -> np.ndarray:
    """The flat array of a binary tensor chunk: a zero-copy view of the body except for BYTES."""
    size = len(chunk)
    if datatype == "BYTES":
        return _bytes_elements(chunk, count, name, shape, field)
    wire = _WIRE[datatype]
    if size != count * wire.itemsize:
        raise ValidationError(
            f"Input '{name}' ({datatype}, shape {shape}) needs {count * wire.itemsize} bytes but binary_data_size is "
            f"{size}; send {wire.itemsize} bytes per element.",
            field=field,
        )
    array = np.frombuffer(chunk, dtype=wire)
    if datatype == "BOOL" and count and array.view(np.uint8).max() > 1:
        raise ValidationError(f"Input '{name}' (BOOL) holds bytes other than 0 and 1.", field=field)
    if not array.dtype.isnative:
        array = array.astype(DATATYPES[datatype])
    return array


def _bytes_elements(chunk: memoryview, count: int, name: str, shape: list[int], field: str) -> np.ndarray:
    items: list[bytes] = []
    offset, end = 0, len(chunk)
    while offset < end:
        if offset + 4 > end or len(items) == count:
            raise ValidationError(
                f"Input '{name}' (BYTES, shape {shape}) has {end - offset} bytes left after {len(items)} element(s); "
                "prefix each element with its 4-byte little-endian length and send shape-product elements.",
                field=field,
            )
        (length,) = _LENGTH.unpack_from(chunk, offset)
        offset += 4
        if offset + length > end:
            raise ValidationError(
                f"Input '{name}' (BYTES) element {len(items)} claims {length} bytes but {end - offset} remain; "
                "the length prefix or binary_data_size is wrong.",
                field=field,
            )
        items.append(chunk[offset : offset + length].tobytes())
        offset += length
    if len(items) != count:
        raise _count_error(name, shape, count, len(items), "element", field)
    array = np.empty(count, dtype=object)
    array[:] = items
    return array


def _elements(array: np.ndarray) -> list[Any]:
    return array.astype(object).ravel().tolist() if array.dtype.kind == "S" else array.ravel().tolist()


def encode_json_data(array: np.ndarray, datatype: str, name: str) -> Any:
    """An output's JSON ``data``: flat, row-major; BYTES as UTF-8 strings."""
    if datatype != "BYTES":
        return jsonable(array.ravel())
    values = _elements(array)
    for index, item in enumerate(values):
        if type(item) is str:
            continue
        if isinstance(item, bytes | bytearray):
            try:
                values[index] = bytes(item).decode("utf-8")
            except UnicodeDecodeError:
                raise ValidationError(
                    f"Output '{name}' holds bytes that are not UTF-8 text; request it with binary_data: true.",
                    field=f"outputs.{name}",
                ) from None
        else:
            values[index] = str(item)
    return values


def encode_binary_data(array: np.ndarray, datatype: str, name: str) -> bytes:
    """An output's binary chunk: little-endian, row-major; BYTES elements length-prefixed."""
    if datatype != "BYTES":
        return np.ascontiguousarray(array, dtype=_WIRE[datatype]).tobytes()
    parts = []
    for item in _elements(array):
        raw = bytes(item) if isinstance(item, bytes | bytearray) else str(item).encode("utf-8")
        if len(raw) >= 2**32:
            raise ValidationError(f"Output '{name}' has an element of {len(raw)} bytes; BYTES allows under 4 GiB.")
        parts.append(_LENGTH.pack(len(raw)))
        parts.append(raw)
    return b"".join(parts)


def server_metadata(name: str, version: str, extensions: Sequence[str]) -> dict[str, Any]:
    """The body of ``GET /v2``: the server's name, version and protocol extensions.

    >>> server_metadata("weir", "0.1.0", ["binary_tensor_data"])
    {'name': 'weir', 'version': '0.1.0', 'extensions': ['binary_tensor_data']}
    """
    return {"name": name, "version": version, "extensions": list(extensions)}


def model_metadata(
    name: str,
    versions: Sequence[str],
    platform: str,
    inputs: Sequence[dict[str, Any]],
    outputs: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """The body of ``GET /v2/models/{name}``; tensor entries are ``{"name", "datatype", "shape"}``.

    Variable-size dimensions are ``-1``; each entry is checked, so a typo in a datatype fails here
    rather than in a client.

    >>> meta = model_metadata("iris", ["3"], "sklearn", [{"name": "x", "datatype": "FP64", "shape": [-1, 4]}],
    ...                       [{"name": "label", "datatype": "INT64", "shape": [-1]}])
    >>> meta["inputs"], meta["versions"]
    ([{'name': 'x', 'datatype': 'FP64', 'shape': [-1, 4]}], ['3'])
    """
    return {
        "name": name,
        "versions": [str(version) for version in versions],
        "platform": platform,
        "inputs": [_tensor_metadata(entry, f"inputs[{i}]") for i, entry in enumerate(inputs)],
        "outputs": [_tensor_metadata(entry, f"outputs[{i}]") for i, entry in enumerate(outputs)],
    }


def _tensor_metadata(entry: dict[str, Any], field: str) -> dict[str, Any]:
    name, shape = entry.get("name"), entry.get("shape")
    if not isinstance(name, str) or not name:
        raise ValidationError(f"{field}.name is {name!r}; give every tensor a non-empty name.", field=f"{field}.name")
    datatype = check_datatype(entry.get("datatype"), f"{field}.datatype")
    dims = list(shape) if isinstance(shape, Sequence) and not isinstance(shape, str) else None
    if dims is None or not all(type(dim) is int and dim >= -1 for dim in dims):
        raise ValidationError(
            f"{field}.shape is {shape!r}; give a list of dimensions, -1 for a variable one.", field=f"{field}.shape"
        )
    return {"name": name, "datatype": datatype, "shape": dims}


def error_body(message: str) -> bytes:
    """The V2 error body, ``{"error": "<message>"}``, which the protocol mandates for every failure.

    >>> error_body('Input "x" is missing.')
    b'{"error":"Input \\\\"x\\\\" is missing."}'
    """
    return encode_json({"error": message})


__all__ = [
    "DATATYPES",
    "MAX_DIMS",
    "check_datatype",
    "datatype_of",
    "decode_binary_data",
    "decode_json_data",
    "encode_binary_data",
    "encode_json_data",
    "error_body",
    "model_metadata",
    "server_metadata",
]
