"""The inference server's wire codecs: request bytes in, numpy data out, and back.

Pure functions, no web framework: the HTTP layer passes the body (and the one or two headers that
matter) and sends what comes back.

- :mod:`weir.serving.protocols.v2`: Open Inference Protocol V2 REST, JSON and Triton's binary
  tensor data extension (``/v2/models/{name}/infer``).
- :mod:`weir.serving.protocols.mlflow`: MLflow's scoring protocol (``/invocations``: JSON
  ``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs``, and CSV).
- :mod:`weir.serving.protocols.records`: weir's own plain JSON endpoint and label feedback.

Every parse function raises :class:`weir.errors.ValidationError` (and nothing else) for any
malformed body. This module holds the two helpers they share: :func:`decode_json`, which turns
orjson's complaint into a ``ValidationError`` naming the byte offset, and :func:`jsonable`, which
prepares a numpy array for ``orjson.dumps(..., option=orjson.OPT_SERIALIZE_NUMPY)``.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import orjson

from weir.errors import ValidationError, WeirError

JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
"""Options for every ``orjson.dumps`` of a response: numpy arrays and scalars serialise natively."""


def decode_json(body: bytes | bytearray | memoryview, what: str = "Request body") -> Any:
    """Parse JSON bytes; malformed JSON raises ``ValidationError`` naming the byte offset.

    orjson reports a character position; the message converts it to the byte offset, which is what
    a client inspecting its own bytes needs.

    >>> decode_json(b'{"a": [1, 2]}')
    {'a': [1, 2]}
    >>> decode_json(b'{"a": [1, 2,]}')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    weir.errors.ValidationError: Request body is not valid JSON at byte 11 (line 1, column 12): trailing comma is ...
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        offset = _byte_offset(bytes(body), exc.pos)
        reason = exc.msg
        raise ValidationError(
            f"{what} is not valid JSON at byte {offset} (line {exc.lineno}, column {exc.colno}): {reason}; "
            "send one well-formed JSON document.",
            field="body",
            offset=offset,
        ) from None


def _byte_offset(raw: bytes, char_pos: int) -> int:
    """The byte offset of character ``char_pos`` of ``raw`` read as UTF-8."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start  # orjson rejects invalid UTF-8 first; the culprit is the first bad byte
    return len(text[:char_pos].encode("utf-8", errors="surrogatepass"))


def jsonable(array: np.ndarray) -> Any:
    """Return what ``orjson.dumps(..., option=JSON_OPTIONS)`` writes as the (nested) list ``array`` holds.

    Numeric and boolean arrays pass through untouched (orjson serialises C-contiguous, native-endian
    numpy arrays in native code, much faster than ``tolist()``); others become lists. Floating-point
    NaN and infinities become ``null``: JSON has no spelling for them, and orjson writes ``null``
    rather than emitting invalid JSON. ``bytes`` elements become base64 text, as MLflow's scoring
    server writes them.

    >>> orjson.dumps(jsonable(np.array([[1.5, np.nan]])), option=JSON_OPTIONS)
    b'[[1.5,null]]'
    >>> jsonable(np.array([b"hi", "there"], dtype=object))
    ['aGk=\\n', 'there']
    """
    if array.ndim == 0:  # orjson serialises arrays, not numpy 0-d scalars-in-arrays
        return _plain(array.tolist())
    if array.dtype.kind in "biuf" and array.dtype.itemsize <= 8:
        if not array.dtype.isnative:
            array = array.astype(array.dtype.newbyteorder("="))
        return np.ascontiguousarray(array)
    if array.dtype.kind == "S":
        array = array.astype(object)
    return _plain(array.tolist())


def _plain(value: Any) -> Any:
    """Replace ``bytes`` (base64, as MLflow does) and numpy leftovers in a ``tolist()`` result."""
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, bytes | bytearray):
        return base64.encodebytes(bytes(value)).decode("ascii")
    if isinstance(value, np.ndarray):
        return jsonable(value)
    return value


def encode_json(document: Any) -> bytes:
    """Serialise a response document with orjson (numpy arrays and scalars natively).

    A value JSON cannot hold (a model returning arbitrary Python objects) raises ``WeirError``
    (500): the server, not the client, produced it.

    >>> encode_json({"predictions": np.array([1, 2])})
    b'{"predictions":[1,2]}'
    """
    try:
        return orjson.dumps(document, option=JSON_OPTIONS)
    except orjson.JSONEncodeError as exc:
        raise WeirError(
            f"The response cannot be written as JSON: {exc}; return numbers, booleans, strings or bytes."
        ) from None


__all__ = ["JSON_OPTIONS", "decode_json", "encode_json", "jsonable"]
