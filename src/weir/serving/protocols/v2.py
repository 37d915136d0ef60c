"""Open Inference Protocol V2 REST: inference requests and responses, JSON and binary tensors.

A request body is a JSON object, optionally followed by binary tensor data (Triton's binary tensor
data extension, which tritonclient uses by default). When binary data follows, the
``Inference-Header-Content-Length`` header gives the length of the JSON part; each input carrying
binary data names its length in ``parameters.binary_data_size``, and the chunks follow the JSON in
the order of the inputs. Binary tensors are little-endian, row-major, unpadded; ``BOOL`` is one
byte (0 or 1); a ``BYTES`` element is a 4-byte little-endian length and then that many bytes.

Parsed tensors are numpy arrays already shaped and typed per :data:`DATATYPES`. Binary tensors are
zero-copy, read-only views of the request body. ``BYTES`` tensors are object arrays holding
``bytes`` when sent binary and ``str`` when sent as JSON strings (as tritonclient reads them).

Responses mirror this: :func:`encode_infer_response` writes each output as JSON or binary, and
:func:`binary_outputs` says which ones the client asked for binary (an output's own
``binary_data`` parameter wins, else the request's ``binary_data_output``). In JSON, NaN and
infinities become ``null`` (JSON has no spelling for them); tritonclient reads ``null`` back as NaN.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from weir.errors import ValidationError
from weir.serving.protocols import decode_json, encode_json
from weir.serving.protocols.v2_metadata import (
    DATATYPES,
    MAX_DIMS,
    check_datatype,
    datatype_of,
    decode_binary_data,
    decode_json_data,
    encode_binary_data,
    encode_json_data,
    error_body,
    model_metadata,
    server_metadata,
)


@dataclass(frozen=True, eq=False)
class Tensor:
    """One input tensor: ``data`` is already shaped to ``shape`` with the dtype of ``datatype``.

    >>> t = parse_infer_request(b'{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}')
    >>> t.inputs[0].data
    array([[1., 2.]], dtype=float32)
    """

    name: str
    datatype: str
    shape: tuple[int, ...]
    data: np.ndarray
    parameters: dict[str, Any]


@dataclass(frozen=True, eq=False)
class RequestedOutput:
    """An entry of the request's ``outputs``: ``binary_data`` is ``None`` when the client left it out.

    >>> r = parse_infer_request(b'{"inputs": [{"name": "x", "shape": [1], "datatype": "INT8", "data": [1]}], '
    ...                         b'"outputs": [{"name": "label", "parameters": {"binary_data": false}}]}')
    >>> r.outputs[0].name, r.outputs[0].binary_data
    ('label', False)
    """

    name: str
    binary_data: bool | None
    parameters: dict[str, Any]


@dataclass(frozen=True, eq=False)
class InferRequest:
    """A parsed inference request; ``outputs`` is ``None`` when the client asked for every output.

    >>> r = parse_infer_request(b'{"id": "7", "inputs": [{"name": "x", "shape": [1], "datatype": "BOOL", '
    ...                         b'"data": [true]}], "parameters": {"binary_data_output": true}}')
    >>> r.id, r.outputs, r.binary_data_output
    ('7', None, True)
    """

    id: str | None
    inputs: tuple[Tensor, ...]
    outputs: tuple[RequestedOutput, ...] | None
    parameters: dict[str, Any]
    binary_data_output: bool


def parse_infer_request(body: bytes, header_length: int | None = None) -> InferRequest:
    """Parse an inference request body; ``header_length`` is the ``Inference-Header-Content-Length``.

    ``None`` means the whole body is JSON. JSON ``data`` may be flat or nested (row-major); its
    element count must equal the product of ``shape`` and its values must fit ``datatype``.
    Anything malformed raises :class:`~weir.errors.ValidationError` naming the field.

    >>> import struct
    >>> header = (b'{"inputs": [{"name": "x", "shape": [2], "datatype": "INT32", '
    ...           b'"parameters": {"binary_data_size": 8}}]}')
    >>> request = parse_infer_request(header + struct.pack("<2i", 7, -1), header_length=len(header))
    >>> request.inputs[0].data
    array([ 7, -1], dtype=int32)
    >>> parse_infer_request(b'{"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", '
    ...                     b'"data": [1, 2, 3, 4, 5]}]}')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    weir.errors.ValidationError: Input 'x' has shape [2, 3] (6 elements) but 5 values were sent; send shape-product ...
    """
    if header_length is None:
        document, binary = decode_json(body), memoryview(b"")
    else:
        if type(header_length) is not int or not 0 <= header_length <= len(body):
            raise ValidationError(
                f"Inference-Header-Content-Length is {header_length!r} but the body has {len(body)} bytes; "
                "send the byte length of the JSON part.",
                field="Inference-Header-Content-Length",
            )
        view = memoryview(body)
        document, binary = decode_json(view[:header_length], "The JSON part of the body"), view[header_length:]
    if type(document) is not dict:
        raise ValidationError("The request must be a JSON object with an 'inputs' list.", field="body")
    request_id = document.get("id")
    if request_id is not None and type(request_id) is not str:
        raise ValidationError(f"id is {request_id!r}; send the request id as a string.", field="id")
    parameters = _parameters(document.get("parameters"), "parameters")
    binary_data_output = _flag(parameters.get("binary_data_output"), "parameters.binary_data_output")
    raw_inputs = document.get("inputs")
    if type(raw_inputs) is not list or not raw_inputs:
        raise ValidationError("inputs must be a non-empty list of input tensors.", field="inputs")
    inputs, cursor, has_binary = [], 0, header_length is not None
    for index, raw in enumerate(raw_inputs):
        tensor, cursor = _parse_input(raw, f"inputs[{index}]", binary, cursor, has_binary)
        inputs.append(tensor)
    if len({tensor.name for tensor in inputs}) != len(inputs):
        raise ValidationError("Two inputs share a name; send each input once.", field="inputs")
    if cursor != len(binary):
        raise ValidationError(
            f"The inputs' binary_data_size values add up to {cursor} bytes but {len(binary)} bytes follow the "
            "JSON; make Inference-Header-Content-Length the JSON length and binary_data_size each chunk's length.",
            field="Inference-Header-Content-Length",
        )
    # An empty "outputs" list reads as no list at all: every output, with the request-level default.
    outputs = _parse_outputs(document["outputs"]) if document.get("outputs") not in (None, []) else None
    return InferRequest(request_id, tuple(inputs), outputs, parameters, binary_data_output)


def _parameters(value: object, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if type(value) is not dict:
        raise ValidationError(f"{field} must be a JSON object of name/value pairs, not {value!r}.", field=field)
    return value


def _flag(value: object, field: str) -> bool:
    if value is None or type(value) is bool:
        return bool(value)
    raise ValidationError(f"{field} is {value!r}; send true or false.", field=field)


def _parse_input(raw: object, field: str, binary: memoryview, cursor: int, has_binary: bool) -> tuple[Tensor, int]:
    if type(raw) is not dict:
        raise ValidationError(f"{field} must be an object with name, shape, datatype and data.", field=field)
    name = raw.get("name")
    if type(name) is not str or not name:
        raise ValidationError(f"{field}.name is {name!r}; name every input.", field=f"{field}.name")
    datatype = check_datatype(raw.get("datatype"), f"{field}.datatype")
    shape = raw.get("shape")
    if (
        type(shape) is not list
        or len(shape) > MAX_DIMS
        or not all(type(dim) is int and 0 <= dim < 2**63 for dim in shape)
    ):
        raise ValidationError(
            f"Input '{name}' has shape {shape!r}; send a list of at most {MAX_DIMS} non-negative integers.",
            field=f"{field}.shape",
        )
    parameters = _parameters(raw.get("parameters"), f"{field}.parameters")
    count = math.prod(shape)
    size = parameters.get("binary_data_size")
    if size is None:
        if "shared_memory_region" in parameters:
            raise ValidationError(
                f"Input '{name}' uses shared memory, which this server does not support; send data or binary data.",
                field=f"{field}.parameters.shared_memory_region",
            )
        if "data" not in raw:
            raise ValidationError(
                f"Input '{name}' has no data; send 'data' or a binary_data_size and the binary data.",
                field=f"{field}.data",
            )
        data = decode_json_data(raw["data"], datatype, shape, count, name, f"{field}.data")
    else:
        data, cursor = _from_binary(raw, size, datatype, shape, count, name, field, binary, cursor, has_binary)
    try:
        data = data.reshape(shape)
    except ValueError:  # numpy cannot hold the shape (a dimension beyond its index range)
        raise ValidationError(
            f"Input '{name}' has shape {shape}, which numpy cannot hold.", field=f"{field}.shape"
        ) from None
    return Tensor(name, datatype, tuple(shape), data, parameters), cursor


def _from_binary(
    raw: dict[str, Any],
    size: object,
    datatype: str,
    shape: list[int],
    count: int,
    name: str,
    field: str,
    binary: memoryview,
    cursor: int,
    has_binary: bool,
) -> tuple[np.ndarray, int]:
    where = f"{field}.parameters.binary_data_size"
    if type(size) is not int or size < 0:
        raise ValidationError(f"Input '{name}' has binary_data_size {size!r}; send a byte count.", field=where)
    if "data" in raw:
        raise ValidationError(
            f"Input '{name}' has both data and binary_data_size; send one of them.", field=f"{field}.data"
        )
    if not has_binary:
        raise ValidationError(
            f"Input '{name}' declares {size} bytes of binary data but no Inference-Header-Content-Length was given; "
            "send that header with the byte length of the JSON part.",
            field="Inference-Header-Content-Length",
        )
    end = cursor + size
    if end > len(binary):
        raise ValidationError(
            f"Input '{name}' declares binary_data_size {size} but only {len(binary) - cursor} bytes of binary data "
            "remain; the body is truncated or a size is wrong.",
            field=where,
        )
    return decode_binary_data(binary[cursor:end], datatype, shape, count, name, where), end


def _parse_outputs(raw: object) -> tuple[RequestedOutput, ...]:
    if type(raw) is not list:
        raise ValidationError("outputs must be a list of {name, parameters} objects.", field="outputs")
    outputs = []
    for index, entry in enumerate(raw):
        field = f"outputs[{index}]"
        if type(entry) is not dict or type(entry.get("name")) is not str or not entry["name"]:
            raise ValidationError(f"{field} must be an object with a non-empty name.", field=f"{field}.name")
        parameters = _parameters(entry.get("parameters"), f"{field}.parameters")
        flag = parameters.get("binary_data")
        if flag is not None and type(flag) is not bool:
            raise ValidationError(f"{field}.parameters.binary_data is {flag!r}; send true or false.", field=field)
        outputs.append(RequestedOutput(entry["name"], flag, parameters))
    if len({output.name for output in outputs}) != len(outputs):
        raise ValidationError("Two requested outputs share a name; request each output once.", field="outputs")
    return tuple(outputs)


def binary_outputs(request: InferRequest, output_names: Sequence[str]) -> set[str]:
    """The outputs among ``output_names`` the client wants as binary data.

    A requested output's ``binary_data`` parameter decides; where it is absent (or the request lists
    no outputs) the request-level ``binary_data_output`` does.

    >>> r = parse_infer_request(b'{"inputs": [{"name": "x", "shape": [0], "datatype": "FP32", "data": []}], '
    ...     b'"outputs": [{"name": "a", "parameters": {"binary_data": true}}, {"name": "b"}]}')
    >>> sorted(binary_outputs(r, ["a", "b", "c"]))
    ['a']
    """
    if request.outputs is None:
        return set(output_names) if request.binary_data_output else set()
    wanted = set(output_names)
    return {
        output.name
        for output in request.outputs
        if output.name in wanted
        and (output.binary_data if output.binary_data is not None else request.binary_data_output)
    }


def encode_infer_response(
    *,
    model_name: str,
    model_version: str | None,
    request_id: str | None,
    outputs: Sequence[tuple[str, np.ndarray]],
    binary: bool | Collection[str] = False,
    parameters: Mapping[str, Any] | None = None,
) -> tuple[bytes, int | None]:
    """Encode an inference response: ``(body, json_header_length)``.

    ``binary=True`` sends every output as binary data, a collection sends those outputs. The header
    length (for ``Inference-Header-Content-Length``) is ``None`` when nothing is binary, and the
    body is then plain JSON.

    >>> body, length = encode_infer_response(model_name="m", model_version="1", request_id="42",
    ...                                      outputs=[("y", np.array([[0.5], [1.0]], dtype=np.float32))])
    >>> import orjson
    >>> length, orjson.loads(body)["outputs"]
    (None, [{'name': 'y', 'datatype': 'FP32', 'shape': [2, 1], 'data': [0.5, 1.0]}])
    >>> body, length = encode_infer_response(model_name="m", model_version=None, request_id=None,
    ...                                      outputs=[("y", np.array([1, 2], dtype=np.int8))], binary=True)
    >>> body[length:], length
    (b'\\x01\\x02', 109)
    """
    if isinstance(binary, bool):
        wanted = {name for name, _ in outputs} if binary else set()
    else:
        wanted = {binary} if isinstance(binary, str) else set(binary)
    entries, chunks, any_binary = [], [], False
    for name, value in outputs:
        array = np.asarray(value)
        datatype = datatype_of(array)
        entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(array.shape)}
        if name in wanted:
            chunk = encode_binary_data(array, datatype, name)
            entry["parameters"] = {"binary_data_size": len(chunk)}
            chunks.append(chunk)
            any_binary = True
        else:
            entry["data"] = encode_json_data(array, datatype, name)
        entries.append(entry)
    document: dict[str, Any] = {"model_name": model_name}
    if model_version is not None:
        document["model_version"] = model_version
    if request_id is not None:
        document["id"] = request_id
    if parameters:
        document["parameters"] = dict(parameters)
    document["outputs"] = entries
    header = encode_json(document)
    if not any_binary:
        return header, None
    return b"".join([header, *chunks]), len(header)


__all__ = [
    "DATATYPES",
    "InferRequest",
    "RequestedOutput",
    "Tensor",
    "binary_outputs",
    "datatype_of",
    "encode_infer_response",
    "error_body",
    "model_metadata",
    "parse_infer_request",
    "server_metadata",
]
