"""Open Inference Protocol V2 codecs: JSON and binary tensors, interop with the real tritonclient."""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import orjson
import pytest
import tritonclient.http as triton
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from weir.errors import ValidationError
from weir.serving.protocols.v2 import (
    DATATYPES,
    InferRequest,
    binary_outputs,
    datatype_of,
    encode_infer_response,
    error_body,
    model_metadata,
    parse_infer_request,
    server_metadata,
)

NUMERIC = [name for name in DATATYPES if name != "BYTES"]


def sample(datatype: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Seeded data spanning each datatype's range (extremes included where the shape allows)."""
    rng = np.random.default_rng(seed)
    if datatype == "BYTES":
        words = [
            bytes(rng.integers(0, 256, size=int(rng.integers(0, 9)), dtype=np.uint8))
            for _ in range(int(np.prod(shape)))
        ]
        array = np.empty(len(words), dtype=object)
        array[:] = words
        return array.reshape(shape)
    dtype = DATATYPES[datatype]
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
        flat = values.reshape(-1)
        if flat.size >= 2:
            flat[0], flat[1] = info.min, info.max
        return values
    values = (rng.normal(size=shape) * 100).astype(dtype)
    if values.size >= 2:
        values.reshape(-1)[0] = np.finfo(dtype).max
    return values


def request(*inputs: dict[str, Any], **extra: Any) -> bytes:
    return orjson.dumps({"inputs": list(inputs), **extra})


def tensor(name: str, datatype: str, shape: list[int], data: Any = None, **parameters: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": shape}
    if data is not None:
        entry["data"] = data
    if parameters:
        entry["parameters"] = parameters
    return entry


def error_of(body: bytes, header_length: int | None = None) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        parse_infer_request(body, header_length)
    return info.value


# --- JSON requests -----------------------------------------------------------------------------


@pytest.mark.parametrize("datatype", NUMERIC)
def test_json_round_trip_every_numeric_datatype(datatype: str) -> None:
    values = sample(datatype, (3, 4))
    parsed = parse_infer_request(request(tensor("x", datatype, [3, 4], values.reshape(-1).tolist())))
    (x,) = parsed.inputs
    assert x.name == "x" and x.datatype == datatype and x.shape == (3, 4)
    assert x.data.dtype == DATATYPES[datatype]
    np.testing.assert_array_equal(x.data, values)


def test_json_bytes_are_strings() -> None:
    parsed = parse_infer_request(request(tensor("s", "BYTES", [2, 2], [["a", "bé"], ["", "zz"]])))
    data = parsed.inputs[0].data
    assert data.dtype == object and data.shape == (2, 2)
    assert data.tolist() == [["a", "bé"], ["", "zz"]]


def test_nested_and_flat_json_data_give_the_same_tensor() -> None:
    values = sample("INT32", (2, 3, 2), seed=4)
    flat = parse_infer_request(request(tensor("x", "INT32", [2, 3, 2], values.reshape(-1).tolist())))
    nested = parse_infer_request(request(tensor("x", "INT32", [2, 3, 2], values.tolist())))
    np.testing.assert_array_equal(flat.inputs[0].data, values)
    np.testing.assert_array_equal(nested.inputs[0].data, values)


def test_spec_example_request() -> None:
    """The request of inference_rest.md, with input1's data made to match its shape [3]."""
    body = b"""{"id" : "42", "inputs" : [
        {"name" : "input0", "shape" : [ 2, 2 ], "datatype" : "UINT32", "data" : [ 1, 2, 3, 4 ]},
        {"name" : "input1", "shape" : [ 3 ], "datatype" : "BOOL", "data" : [ true, false, true ]}],
      "outputs" : [{"name" : "output0"}]}"""
    parsed = parse_infer_request(body)
    assert parsed.id == "42"
    np.testing.assert_array_equal(parsed.inputs[0].data, np.array([[1, 2], [3, 4]], dtype=np.uint32))
    assert parsed.inputs[1].data.tolist() == [True, False, True]
    assert parsed.outputs is not None and [o.name for o in parsed.outputs] == ["output0"]
    assert parsed.outputs[0].binary_data is None and not parsed.binary_data_output
    # The spec's own example sends one value for shape [3]: the count check names it.
    bad = body.replace(b"true, false, true", b"true")
    err = error_of(bad)
    assert "Input 'input1' has shape [3] (3 elements) but 1 value was sent" in err.message
    assert err.details["field"] == "inputs[1].data"


def test_count_mismatch_names_input_and_fix() -> None:
    err = error_of(request(tensor("x", "FP32", [2, 3], [1, 2, 3, 4, 5])))
    assert err.message == "Input 'x' has shape [2, 3] (6 elements) but 5 values were sent; send shape-product values."
    assert err.details["field"] == "inputs[0].data" and err.status == 400


@pytest.mark.parametrize(
    ("datatype", "data", "culprit"),
    [
        ("FP32", [1.0, "2.0"], "'2.0'"),
        ("INT64", [1, None], "None"),
        ("INT32", [1, 1.5], "1.5"),
        ("BOOL", [True, 1], "1"),
        ("FP64", [{"a": 1}], "{'a': 1}"),
    ],
)
def test_values_that_do_not_fit_the_datatype_name_the_input(datatype: str, data: list[Any], culprit: str) -> None:
    err = error_of(request(tensor("feat", datatype, [len(data)], data)))
    assert f"Input 'feat' ({datatype}) holds {culprit}" in err.message
    assert err.details["field"] == "inputs[0].data"


@pytest.mark.parametrize(
    ("datatype", "data"),
    [
        ("UINT8", [0, 256]),
        ("INT8", [-129]),
        ("UINT64", [-1]),
        ("INT64", [2**63]),
        ("FP16", [70000.0]),
        ("FP32", [1e39]),
    ],
)
def test_values_out_of_range_are_refused(datatype: str, data: list[Any]) -> None:
    err = error_of(request(tensor("x", datatype, [len(data)], data)))
    assert f"Input 'x' ({datatype}) holds values from" in err.message and "wider datatype" in err.message


def test_range_edges_are_accepted() -> None:
    parsed = parse_infer_request(
        request(
            tensor("u", "UINT64", [2], [0, 2**64 - 1]),
            tensor("i", "INT64", [2], [-(2**63), 2**63 - 1]),
            tensor("h", "FP16", [1], [65504.0]),
            tensor("f", "INT16", [2], [1.0, -32768.0]),  # integral floats are integers
        )
    )
    assert parsed.inputs[0].data.tolist() == [0, 2**64 - 1]
    assert parsed.inputs[1].data.tolist() == [-(2**63), 2**63 - 1]
    assert parsed.inputs[2].data.tolist() == [65504.0]
    assert parsed.inputs[3].data.dtype == np.int16 and parsed.inputs[3].data.tolist() == [1, -32768]


def test_ragged_and_non_list_data() -> None:
    assert "ragged" in error_of(request(tensor("x", "FP32", [2, 2], [[1, 2], [3]]))).message
    assert "send a JSON array" in error_of(request(tensor("x", "FP32", [1], 1.0))).message
    assert "holds 3" in error_of(request(tensor("s", "BYTES", [1], [3]))).message


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (request(tensor("x", "FLOAT32", [1], [1.0])), "inputs[0].datatype"),
        (request(tensor("x", "fp32", [1], [1.0])), "inputs[0].datatype"),
        (request(tensor("x", "BF16", [1], [1.0])), "inputs[0].datatype"),
        (request(tensor("x", "FP32", [-1], [1.0])), "inputs[0].shape"),
        (request(tensor("x", "FP32", [1.0], [1.0])), "inputs[0].shape"),
        (request(tensor("x", "FP32", [1])), "inputs[0].data"),
        (request(tensor("", "FP32", [1], [1.0])), "inputs[0].name"),
        (request(tensor("x", "FP32", [1], [1.0]), tensor("x", "FP32", [1], [1.0])), "inputs"),
        (orjson.dumps({"inputs": []}), "inputs"),
        (orjson.dumps([1, 2]), "body"),
        (request(tensor("x", "FP32", [1], [1.0]), id=42), "id"),
        (request(tensor("x", "FP32", [1], [1.0]), parameters=[1]), "parameters"),
        (
            request(tensor("x", "FP32", [1], [1.0]), parameters={"binary_data_output": "yes"}),
            "parameters.binary_data_output",
        ),
        (
            request(tensor("x", "FP32", [1], [1.0]), outputs=[{"name": "y", "parameters": {"binary_data": 1}}]),
            "outputs[0]",
        ),
        (request(tensor("x", "FP32", [1], [1.0]), outputs=[{"name": "y"}, {"name": "y"}]), "outputs"),
        (
            request(tensor("x", "FP32", [1], [1.0], shared_memory_region="r")),
            "inputs[0].parameters.shared_memory_region",
        ),
    ],
)
def test_malformed_requests_name_the_field(body: bytes, field: str) -> None:
    assert error_of(body).details["field"] == field


def test_wrong_datatype_lists_the_supported_ones() -> None:
    err = error_of(request(tensor("x", "FLOAT32", [1], [1.0])))
    assert "'FLOAT32', which is not a V2 datatype" in err.message and "FP32" in err.message and "BYTES" in err.message


def test_malformed_json_names_the_byte_offset() -> None:
    err = error_of(b'{"inputs": [{"name": "\xc3\xa9", "shape": [1],, }]}')
    # orjson reports character 39 (the second comma); "é" is two bytes in UTF-8, so it is byte 40.
    assert "not valid JSON at byte 40 (line 1, column 40): unexpected character" in err.message
    assert err.details["offset"] == 40 and err.details["field"] == "body"


# --- binary requests ---------------------------------------------------------------------------


def binary_request(*parts: tuple[dict[str, Any], bytes], **extra: Any) -> tuple[bytes, int]:
    header = request(*(entry for entry, _ in parts), **extra)
    return header + b"".join(chunk for _, chunk in parts), len(header)


@pytest.mark.parametrize("datatype", NUMERIC)
def test_binary_round_trip_every_numeric_datatype(datatype: str) -> None:
    values = sample(datatype, (2, 5), seed=1)
    raw = values.astype(DATATYPES[datatype].newbyteorder("<")).tobytes()
    body, length = binary_request((tensor("x", datatype, [2, 5], binary_data_size=len(raw)), raw))
    (x,) = parse_infer_request(body, length).inputs
    assert x.data.dtype == DATATYPES[datatype] and x.data.shape == (2, 5)
    np.testing.assert_array_equal(x.data, values)
    assert not x.data.flags.writeable  # a zero-copy view of the request body


def test_binary_bytes_use_a_four_byte_little_endian_length_prefix() -> None:
    raw = struct.pack("<I", 3) + b"abc" + struct.pack("<I", 0) + struct.pack("<I", 2) + b"\x00\xff"
    body, length = binary_request((tensor("s", "BYTES", [3], binary_data_size=len(raw)), raw))
    assert parse_infer_request(body, length).inputs[0].data.tolist() == [b"abc", b"", b"\x00\xff"]
    # The response side writes exactly the same layout.
    out, header = encode_infer_response(
        model_name="m",
        model_version=None,
        request_id=None,
        outputs=[("s", np.array([b"abc", b"", b"\x00\xff"], dtype=object))],
        binary=True,
    )
    assert header is not None and out[header:] == raw


def test_binary_and_json_inputs_mix_in_order() -> None:
    a, c = np.arange(4, dtype=np.float32), np.array([True, False])
    body, length = binary_request(
        (tensor("a", "FP32", [4], binary_data_size=16), a.tobytes()),
        (tensor("b", "INT8", [2], [1, -1]), b""),
        (tensor("c", "BOOL", [2], binary_data_size=2), c.tobytes()),
    )
    parsed = parse_infer_request(body, length)
    np.testing.assert_array_equal(parsed.inputs[0].data, a)
    assert parsed.inputs[1].data.tolist() == [1, -1]
    assert parsed.inputs[2].data.tolist() == [True, False]


def test_binary_size_mismatches() -> None:
    raw = np.arange(6, dtype=np.float32).tobytes()
    body, length = binary_request((tensor("x", "FP32", [2, 3], binary_data_size=20), raw[:20]))
    err = error_of(body, length)
    assert "Input 'x' (FP32, shape [2, 3]) needs 24 bytes but binary_data_size is 20" in err.message
    assert err.details["field"] == "inputs[0].parameters.binary_data_size"
    # Declared size beyond the body: truncated.
    body, length = binary_request((tensor("x", "FP32", [2, 3], binary_data_size=24), raw[:16]))
    assert "only 16 bytes of binary data remain" in error_of(body, length).message
    # Bytes left over after every input took its share.
    body, length = binary_request((tensor("x", "FP32", [2, 3], binary_data_size=24), raw + b"\x00"))
    assert "add up to 24 bytes but 25 bytes follow" in error_of(body, length).message
    # Binary data without the header length.
    body, _ = binary_request((tensor("x", "FP32", [2, 3], binary_data_size=24), raw))
    assert error_of(body).details["field"] == "body"  # the binary tail makes the body invalid JSON
    header = request(tensor("x", "FP32", [2, 3], binary_data_size=24))
    assert error_of(header).details["field"] == "Inference-Header-Content-Length"
    # data and binary_data_size together.
    body, length = binary_request((tensor("x", "FP32", [2, 3], [0] * 6, binary_data_size=24), raw))
    assert "both data and binary_data_size" in error_of(body, length).message


@pytest.mark.parametrize("header_length", [-1, 10_000, "12", 1.5])
def test_header_length_beyond_body_or_not_an_integer(header_length: Any) -> None:
    err = error_of(request(tensor("x", "FP32", [1], [1.0])), header_length)
    assert err.details["field"] == "Inference-Header-Content-Length"


def test_header_length_that_cuts_the_json() -> None:
    body = request(tensor("x", "FP32", [1], [1.0]))
    assert "The JSON part of the body is not valid JSON" in error_of(body, len(body) - 3).message


def test_binary_bytes_framing_errors() -> None:
    cases = {
        struct.pack("<I", 5) + b"abc": "element 0 claims 5 bytes but 3 remain",
        struct.pack("<I", 1) + b"a" + b"\x01\x00": "has 2 bytes left after 1 element(s)",
        struct.pack("<I", 1) + b"a": "(2 elements) but 1 element was sent",
    }
    for raw, message in cases.items():
        body, length = binary_request(
            (tensor("s", "BYTES", [2] if message.startswith("(") else [1], binary_data_size=len(raw)), raw)
        )
        assert message in error_of(body, length).message


def test_binary_bool_must_be_zero_or_one() -> None:
    body, length = binary_request((tensor("b", "BOOL", [2], binary_data_size=2), b"\x01\x02"))
    assert "other than 0 and 1" in error_of(body, length).message


# --- requested outputs -------------------------------------------------------------------------


def parsed_with(**extra: Any) -> InferRequest:
    return parse_infer_request(request(tensor("x", "FP32", [1], [1.0]), **extra))


def test_binary_outputs_rules() -> None:
    names = ["label", "proba"]
    assert binary_outputs(parsed_with(), names) == set()
    assert binary_outputs(parsed_with(parameters={"binary_data_output": True}), names) == {"label", "proba"}
    per_output = parsed_with(outputs=[{"name": "label", "parameters": {"binary_data": True}}, {"name": "proba"}])
    assert binary_outputs(per_output, names) == {"label"}
    overridden = parsed_with(
        outputs=[{"name": "label", "parameters": {"binary_data": False}}, {"name": "proba"}],
        parameters={"binary_data_output": True},
    )
    assert binary_outputs(overridden, names) == {"proba"}
    # Only requested outputs are returned, so only they can be binary.
    only_proba = parsed_with(outputs=[{"name": "proba"}], parameters={"binary_data_output": True})
    assert binary_outputs(only_proba, names) == {"proba"}
    assert only_proba.outputs is not None and only_proba.outputs[0].binary_data is None
    # An empty outputs list is read as none given: every output, at the request-level default.
    empty = parsed_with(outputs=[], parameters={"binary_data_output": True})
    assert empty.outputs is None and binary_outputs(empty, names) == {"label", "proba"}


# --- responses ---------------------------------------------------------------------------------


@pytest.mark.parametrize("binary", [False, True])
def test_response_round_trip_every_datatype_through_tritonclient(binary: bool) -> None:
    outputs = [(f"out_{name}", sample(name, (3, 2), seed=7)) for name in DATATYPES]
    if not binary:  # JSON carries BYTES as UTF-8 text
        outputs[-1] = ("out_BYTES", np.array([["a", "b"], ["cé", ""], ["x", "yz"]], dtype=object))
    body, length = encode_infer_response(
        model_name="iris", model_version="2", request_id="r-1", outputs=outputs, binary=binary
    )
    assert (length is None) is (not binary)
    result = triton.InferResult.from_response_body(body, header_length=length)
    response = result.get_response()
    assert response["model_name"] == "iris" and response["model_version"] == "2" and response["id"] == "r-1"
    for name, expected in outputs:
        got = result.as_numpy(name)
        assert got is not None and got.shape == expected.shape, name
        if expected.dtype == object:
            assert got.tolist() == expected.tolist(), name
        else:
            assert got.dtype == expected.dtype, name
            np.testing.assert_array_equal(got, expected, err_msg=name)


def test_response_mixes_binary_and_json_outputs() -> None:
    label, proba = np.array([0, 2], dtype=np.int64), np.array([[0.1, 0.9], [0.7, 0.3]], dtype=np.float32)
    body, length = encode_infer_response(
        model_name="m",
        model_version=None,
        request_id=None,
        outputs=[("label", label), ("proba", proba)],
        binary={"proba"},
        parameters={"batch": 2},
    )
    header = orjson.loads(body[:length])
    assert "model_version" not in header and "id" not in header and header["parameters"] == {"batch": 2}
    assert header["outputs"][0]["data"] == [0, 2]
    assert header["outputs"][1]["parameters"] == {"binary_data_size": 16}
    result = triton.InferResult.from_response_body(body, header_length=length)
    np.testing.assert_array_equal(result.as_numpy("label"), label)
    np.testing.assert_array_equal(result.as_numpy("proba"), proba)


def test_binary_argument_forms() -> None:
    outputs = [("y", np.array([1.0])), ("yy", np.array([2.0]))]
    for binary, expected in (("yy", {"yy"}), (["y"], {"y"}), (set(), set()), (True, {"y", "yy"}), (False, set())):
        body, length = encode_infer_response(
            model_name="m", model_version=None, request_id=None, outputs=outputs, binary=binary
        )
        header = orjson.loads(body if length is None else body[:length])
        assert {o["name"] for o in header["outputs"] if "parameters" in o} == expected, binary
        assert (length is None) == (not expected)


def test_json_response_writes_nan_as_null_which_tritonclient_reads_as_nan() -> None:
    values = np.array([1.5, np.nan, -2.0], dtype=np.float64)
    body, length = encode_infer_response(model_name="m", model_version=None, request_id=None, outputs=[("y", values)])
    assert b'"data":[1.5,null,-2.0]' in body
    np.testing.assert_array_equal(
        triton.InferResult.from_response_body(body, header_length=length).as_numpy("y"), values
    )


def test_json_response_refuses_non_utf8_bytes() -> None:
    with pytest.raises(ValidationError, match="binary_data: true"):
        encode_infer_response(
            model_name="m", model_version=None, request_id=None, outputs=[("s", np.array([b"\xff"], dtype=object))]
        )


def test_response_normalises_layout_and_byte_order() -> None:
    big_endian = np.arange(6, dtype=">i4").reshape(2, 3)
    column_slice = np.arange(12, dtype=np.float64).reshape(3, 4)[:, ::2]
    for binary in (False, True):
        body, length = encode_infer_response(
            model_name="m",
            model_version=None,
            request_id=None,
            outputs=[("be", big_endian), ("cs", column_slice)],
            binary=binary,
        )
        result = triton.InferResult.from_response_body(body, header_length=length)
        np.testing.assert_array_equal(result.as_numpy("be"), big_endian)
        np.testing.assert_array_equal(result.as_numpy("cs"), column_slice)


def test_datatype_of() -> None:
    for name, dtype in DATATYPES.items():
        assert datatype_of(np.zeros(1, dtype=dtype)) == name
    assert datatype_of(np.array(["a"])) == "BYTES" and datatype_of(np.array([b"a"])) == "BYTES"
    assert datatype_of(np.zeros(1, dtype=">f8")) == "FP64"
    for unsupported in ("complex128", "datetime64[s]", "V4"):
        with pytest.raises(ValidationError, match="has no V2 datatype"):
            datatype_of(np.zeros(1, dtype=unsupported))


# --- interop with the real client -----------------------------------------------------------


def triton_inputs(binary_data: bool) -> list[tuple[triton.InferInput, np.ndarray]]:
    pairs = []
    for index, name in enumerate(DATATYPES):
        values = sample(name, (2, 3), seed=10 + index)
        if name == "BYTES" and not binary_data:  # tritonclient sends JSON BYTES as UTF-8 text
            values = np.array([["a", "b", "c"], ["d", "é", ""]], dtype=object)
        item = triton.InferInput(f"in_{name}", list(values.shape), name)
        item.set_data_from_numpy(values, binary_data=binary_data)
        pairs.append((item, values))
    return pairs


@pytest.mark.parametrize("binary_data", [True, False])
def test_parses_tritonclient_request_bodies(binary_data: bool) -> None:
    pairs = triton_inputs(binary_data)
    body, length = triton.InferenceServerClient.generate_request_body([item for item, _ in pairs], request_id="abc")
    assert (length is None) is (not binary_data)
    parsed = parse_infer_request(body, length)
    assert parsed.id == "abc"
    # No outputs requested: tritonclient asks for every output as binary data.
    assert parsed.outputs is None and parsed.binary_data_output
    assert binary_outputs(parsed, ["y"]) == {"y"}
    for (item, expected), got in zip(pairs, parsed.inputs, strict=True):
        assert got.name == item.name() and got.datatype == item.datatype()
        if expected.dtype == object:
            assert got.data.tolist() == expected.tolist()
        else:
            assert got.data.dtype == expected.dtype
            np.testing.assert_array_equal(got.data, expected)


def test_parses_tritonclient_requested_outputs() -> None:
    (item, _), *_ = triton_inputs(True)
    outputs = [triton.InferRequestedOutput("label"), triton.InferRequestedOutput("proba", binary_data=False)]
    body, length = triton.InferenceServerClient.generate_request_body([item], outputs=outputs)
    parsed = parse_infer_request(body, length)
    assert parsed.outputs is not None and [(o.name, o.binary_data) for o in parsed.outputs] == [
        ("label", True),
        ("proba", False),
    ]
    assert not parsed.binary_data_output  # tritonclient sets it only when no outputs are listed
    assert binary_outputs(parsed, ["label", "proba"]) == {"label"}


def test_full_exchange_with_tritonclient() -> None:
    """Client request -> parse -> "model" -> encode what the client asked for -> client reads it."""
    rng = np.random.default_rng(3)
    features = rng.normal(size=(4, 30)).astype(np.float32)
    item = triton.InferInput("x", list(features.shape), "FP32")
    item.set_data_from_numpy(features)
    wanted = [triton.InferRequestedOutput("score"), triton.InferRequestedOutput("label", binary_data=False)]
    body, length = triton.InferenceServerClient.generate_request_body([item], outputs=wanted, request_id="q")
    parsed = parse_infer_request(body, length)
    x = parsed.inputs[0].data
    score = x.sum(axis=1, dtype=np.float64)
    label = np.where(score > 0, "pos", "neg").astype(object)
    names = ["score", "label"]
    out, header = encode_infer_response(
        model_name="lin",
        model_version="1",
        request_id=parsed.id,
        outputs=[("score", score), ("label", label)],
        binary=binary_outputs(parsed, names),
    )
    result = triton.InferenceServerClient.parse_response_body(out, header_length=header)
    np.testing.assert_array_equal(result.as_numpy("score"), score)
    assert result.as_numpy("label").tolist() == label.tolist()
    assert result.get_output("label")["data"] == label.tolist()
    assert result.get_response()["id"] == "q"


# --- metadata ----------------------------------------------------------------------------------


def test_metadata_and_error_bodies() -> None:
    assert server_metadata("weir", "0.1.0", ("binary_tensor_data",)) == {
        "name": "weir",
        "version": "0.1.0",
        "extensions": ["binary_tensor_data"],
    }
    meta = model_metadata("churn", ["1", "2"], "onnx", [{"name": "x", "datatype": "FP32", "shape": [-1, 30]}], [])
    assert meta == {
        "name": "churn",
        "versions": ["1", "2"],
        "platform": "onnx",
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 30]}],
        "outputs": [],
    }
    with pytest.raises(ValidationError, match="inputs\\[0\\].datatype is 'FLOAT'"):
        model_metadata("m", [], "onnx", [{"name": "x", "datatype": "FLOAT", "shape": [1]}], [])
    with pytest.raises(ValidationError, match="outputs\\[0\\].shape"):
        model_metadata("m", [], "onnx", [], [{"name": "y", "datatype": "FP32", "shape": [-2]}])
    assert orjson.loads(error_body('Model "x" is not ready.')) == {"error": 'Model "x" is not ready.'}


# --- fuzz: only ValidationError escapes ----------------------------------------------------------

junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=8,
)
ELEMENTS = {
    "BOOL": st.booleans(),
    "BYTES": st.text(max_size=3),
    **{name: st.integers(-300, 300) for name in NUMERIC if name[0] in "IU"},
    **{name: st.floats(-1e5, 1e5) for name in NUMERIC if name[0] == "F"},
}


def binary_chunk(datatype: str, count: int) -> bytes:
    values = sample(datatype, (count,))
    if datatype != "BYTES":
        return values.astype(DATATYPES[datatype].newbyteorder("<")).tobytes()
    return b"".join(struct.pack("<I", len(v)) + v for v in values.tolist())


@st.composite
def v2_bodies(draw: st.DrawFn) -> tuple[bytes, int | None]:
    """Mostly well-formed requests (JSON and binary inputs) where any field may turn to junk."""

    def field(valid: st.SearchStrategy[Any]) -> Any:
        return draw(junk) if draw(st.integers(0, 7)) == 0 else draw(valid)

    inputs, chunks = [], []
    for index in range(draw(st.integers(0, 3))):
        datatype = field(st.sampled_from(list(DATATYPES)))
        shape = field(st.lists(st.integers(0, 3), max_size=3))
        entry: dict[str, Any] = {"name": field(st.just(f"in{index}")), "datatype": datatype, "shape": shape}
        valid_shape = isinstance(shape, list) and all(type(dim) is int and dim >= 0 for dim in shape)
        count = int(np.prod(shape)) if valid_shape else draw(st.integers(0, 4))
        known = isinstance(datatype, str) and datatype in DATATYPES
        if known and draw(st.booleans()):
            raw = binary_chunk(datatype, count)
            raw = draw(st.sampled_from([raw, raw, raw[:-1], raw + b"\x00"]))
            entry["parameters"] = {"binary_data_size": field(st.just(len(raw)))}
            chunks.append(raw)
        else:
            element = ELEMENTS[datatype] if known else junk
            entry["data"] = field(st.lists(element, min_size=count, max_size=count))
        inputs.append(entry)
    document: dict[str, Any] = {"inputs": field(st.just(inputs))}
    if draw(st.booleans()):
        document["id"] = field(st.text(max_size=3))
    if draw(st.booleans()):
        document["parameters"] = field(st.fixed_dictionaries({"binary_data_output": st.booleans()}))
    if draw(st.booleans()):
        wanted = st.fixed_dictionaries(
            {"name": st.sampled_from("ab")},
            optional={"parameters": st.fixed_dictionaries({"binary_data": st.booleans()})},
        )
        document["outputs"] = field(st.lists(wanted, max_size=2))
    header = json.dumps(document).encode()  # the stdlib writes integers beyond 64 bits, orjson refuses them
    length = len(header) + draw(st.sampled_from([0, 0, 0, -1, 1])) if chunks or draw(st.booleans()) else None
    return header + b"".join(chunks), length


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request_body=v2_bodies())
def test_fuzz_structured_requests_raise_only_validation_errors(request_body: tuple[bytes, int | None]) -> None:
    body, length = request_body
    try:
        parsed = parse_infer_request(body, length)
    except ValidationError as err:
        assert err.message and err.status == 400
    else:
        for item in parsed.inputs:
            assert item.data.shape == item.shape and item.data.dtype == DATATYPES[item.datatype]


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=300), length=st.none() | st.integers(-5, 400))
def test_fuzz_random_bytes_raise_only_validation_errors(body: bytes, length: int | None) -> None:
    try:
        parse_infer_request(body, length)
    except ValidationError as err:
        assert err.message


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_fuzz_mutated_tritonclient_bodies_raise_only_validation_errors(data: st.DataObject) -> None:
    pairs = triton_inputs(binary_data=True)[:: data.draw(st.integers(1, 4))]
    body, length = triton.InferenceServerClient.generate_request_body([item for item, _ in pairs])
    raw = bytearray(body)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    shift = data.draw(st.integers(-3, 3))
    try:
        parse_infer_request(bytes(raw[:cut]), None if length is None else length + shift)
    except ValidationError as err:
        assert err.message
