"""weir's plain JSON predict endpoint and label feedback."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weir.errors import ValidationError, WeirError
from weir.serving.protocols.records import encode_predict_response, parse_feedback, parse_predict_request


def error_of(document: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        parse_predict_request(json.dumps(document).encode())
    return info.value


def test_records() -> None:
    rng = np.random.default_rng(5)
    ages, incomes = rng.integers(18, 90, size=3).tolist(), rng.normal(5e4, 1e4, size=3).round(2).tolist()
    records = [
        {"age": a, "income": i, "plan": p} for a, i, p in zip(ages, incomes, ["free", "pro", "team"], strict=True)
    ]
    request = parse_predict_request(json.dumps({"records": records, "route_key": "customer-9", "id": "r-1"}).encode())
    assert request.table is not None and request.entities is None
    assert request.route_key == "customer-9" and request.request_id == "r-1"
    assert request.table["age"].dtype == np.int64 and request.table["age"].tolist() == ages
    assert request.table["income"].dtype == np.float64 and request.table["income"].tolist() == incomes
    assert request.table["plan"].tolist() == ["free", "pro", "team"]


def test_records_with_missing_fields() -> None:
    request = parse_predict_request(b'{"records": [{"x": 1.5, "s": "a"}, {"x": 2}, {"s": "b"}]}')
    assert request.table is not None
    np.testing.assert_array_equal(request.table["x"], [1.5, 2.0, np.nan])
    assert request.table["s"].tolist() == ["a", None, "b"]


def test_columns() -> None:
    request = parse_predict_request(b'{"columns": {"x": [1, 2], "y": [0.5, null], "v": [[1, 2], [3, 4]]}}')
    assert request.table is not None and request.route_key is None and request.request_id is None
    assert request.table["x"].tolist() == [1, 2]
    np.testing.assert_array_equal(request.table["y"], [0.5, np.nan])
    assert request.table["v"].shape == (2, 2)


def test_entities() -> None:
    request = parse_predict_request(b'{"entities": [{"customer_id": 1}, {"customer_id": 2, "region": "eu"}]}')
    assert request.table is None
    assert request.entities == [{"customer_id": 1}, {"customer_id": 2, "region": "eu"}]


@pytest.mark.parametrize(
    ("document", "field", "message"),
    [
        ({"record": [{"x": 1}]}, "record", "Unknown key 'record'"),
        (
            {"records": [{"x": 1}], "columns": {"x": [1]}},
            "body",
            "exactly one of records, columns or entities; got records, columns",
        ),
        ({"route_key": "k"}, "body", "got none"),
        ({"records": []}, "records", "non-empty list of objects"),
        ({"records": [{"x": 1}, 2]}, "records[1]", "records[1] is int; send an object per row"),
        ({"records": [{"x": [1, 2]}, {"x": [3]}]}, "records.x", "nested lists of different lengths"),
        ({"columns": {}}, "columns", "non-empty object"),
        ({"columns": {"x": [1, 2], "y": [1]}}, "columns", "different lengths"),
        ({"entities": [{"id": [1]}]}, "entities[0]", "scalar values"),
        ({"entities": [{}]}, "entities[0]", "scalar values"),
        ({"entities": {"id": 1}}, "entities", "non-empty list"),
        ({"records": [{"x": 1}], "route_key": 7}, "route_key", "route_key is 7; send a string."),
        ({"records": [{"x": 1}], "id": None, "route_key": None}, None, None),
        ({"records": [{"x": 1}], "id": 12}, "id", "id is 12; send a string."),
        ([{"x": 1}], "body", "must be a JSON object (a predict request), not list"),
    ],
)
def test_errors_name_the_field(document: Any, field: str | None, message: str | None) -> None:
    if field is None:  # explicit nulls mean "not given"
        assert parse_predict_request(json.dumps(document).encode()).route_key is None
        return
    err = error_of(document)
    assert message is not None and message in err.message and err.details["field"] == field


def test_malformed_json() -> None:
    with pytest.raises(ValidationError, match="not valid JSON at byte 12"):
        parse_predict_request(b'{"records": ]')


# --- response -----------------------------------------------------------------------------------


def test_response_with_probabilities() -> None:
    body = encode_predict_response(
        request_id="r-1",
        model="churn",
        version=4,
        route="canary",
        runtime="onnx",
        predictions=np.array(["stay", "leave"], dtype=object),
        probabilities=np.array([[0.75, 0.25], [0.125, 0.875]], dtype=np.float32),
        classes=np.array(["stay", "leave"]),
    )
    assert orjson.loads(body) == {
        "id": "r-1",
        "model": "churn",
        "version": 4,
        "route": "canary",
        "runtime": "onnx",
        "predictions": ["stay", "leave"],
        "probabilities": [{"stay": 0.75, "leave": 0.25}, {"stay": 0.125, "leave": 0.875}],
    }


def test_response_without_probabilities_and_with_nan() -> None:
    body = encode_predict_response(
        request_id="r",
        model="price",
        version=1,
        route="primary",
        runtime="sklearn",
        predictions=np.array([1.5, np.nan]),
        probabilities=None,
        classes=None,
    )
    document = orjson.loads(body)
    assert document["predictions"] == [1.5, None] and "probabilities" not in document


def test_response_class_labels_become_strings_and_default_to_positions() -> None:
    common = {"request_id": "r", "model": "m", "version": 1, "route": "primary", "runtime": "onnx"}
    body = encode_predict_response(
        **common, predictions=np.array([1]), probabilities=np.array([[0.5, 0.5]]), classes=np.array([0, 1])
    )
    assert orjson.loads(body)["probabilities"] == [{"0": 0.5, "1": 0.5}]
    body = encode_predict_response(
        **common, predictions=np.array([1]), probabilities=np.array([[0.5, 0.5]]), classes=None
    )
    assert orjson.loads(body)["probabilities"] == [{"0": 0.5, "1": 0.5}]
    with pytest.raises(WeirError, match="one row per prediction and one column per class"):
        encode_predict_response(
            **common, predictions=np.array([1, 0]), probabilities=np.array([[0.5, 0.5]]), classes=[0, 1]
        )
    with pytest.raises(WeirError, match="one column per class"):
        encode_predict_response(
            **common, predictions=np.array([1]), probabilities=np.array([[0.5, 0.5]]), classes=[0, 1, 2]
        )


# --- feedback -----------------------------------------------------------------------------------


def test_feedback_forms() -> None:
    assert parse_feedback(b'{"id": "r-1", "label": 0}') == [("r-1", 0)]
    body = b'{"labels": [{"id": "r-1", "label": true}, {"id": "r-2", "label": 2.5}, {"id": "r-3", "label": "churn"}]}'
    assert parse_feedback(body) == [("r-1", True), ("r-2", 2.5), ("r-3", "churn")]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (b'{"labels": []}', "labels", "non-empty list"),
        (b'{"labels": [{"id": "a", "label": 1}], "id": "b", "label": 2}', "body", "not both"),
        (b'{"labels": [{"id": "a"}]}', "labels[0]", "labels[0] must be an object with exactly id and label"),
        (b'{"labels": [{"id": "", "label": 1}]}', "labels[0].id", "labels[0].id is ''"),
        (b'{"labels": [{"id": 3, "label": 1}]}', "labels[0].id", "labels[0].id is 3"),
        (b'{"id": "a", "label": null}', "label", "label is None; send a string, number or boolean."),
        (b'{"id": "a", "label": {"y": 1}}', "label", "send a string, number or boolean"),
        (b'{"id": "a", "lable": 1}', "body", "The body must be an object with exactly id and label"),
        (b"[]", "body", "not list"),
    ],
)
def test_feedback_errors(body: bytes, field: str, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_feedback(body)
    assert message in info.value.message and info.value.details["field"] == field


# --- fuzz ---------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=3), children, max_size=4),
    max_leaves=16,
)
row_objects = st.lists(st.dictionaries(st.sampled_from("xyz"), json_values, max_size=3), max_size=4)
predict_documents = st.fixed_dictionaries(
    {},
    optional={
        "records": row_objects | json_values,
        "columns": st.dictionaries(st.sampled_from("xyz"), st.lists(json_values, max_size=3) | json_values, max_size=3)
        | json_values,
        "entities": row_objects | json_values,
        "route_key": json_values,
        "id": json_values,
    },
)
feedback_documents = st.fixed_dictionaries(
    {},
    optional={
        "labels": st.lists(st.fixed_dictionaries({}, optional={"id": json_values, "label": json_values}), max_size=3)
        | json_values,
        "id": json_values,
        "label": json_values,
    },
)


@settings(max_examples=200, deadline=None)
@given(document=predict_documents | json_values, raw=st.binary(max_size=60), use_raw=st.booleans())
def test_fuzz_predict_raises_only_validation_errors(document: Any, raw: bytes, use_raw: bool) -> None:
    try:
        request = parse_predict_request(raw if use_raw else json.dumps(document).encode())
    except ValidationError as err:
        assert err.message
    else:
        assert (request.table is None) != (request.entities is None)


@settings(max_examples=200, deadline=None)
@given(document=feedback_documents | json_values, raw=st.binary(max_size=60), use_raw=st.booleans())
def test_fuzz_feedback_raises_only_validation_errors(document: Any, raw: bytes, use_raw: bool) -> None:
    try:
        pairs = parse_feedback(raw if use_raw else json.dumps(document).encode())
    except ValidationError as err:
        assert err.message
    else:
        assert pairs and all(isinstance(request_id, str) and request_id for request_id, _ in pairs)
