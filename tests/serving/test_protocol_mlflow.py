"""MLflow scoring protocol: every input format of ``/invocations`` and the predictions body."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weir.errors import ValidationError
from weir.serving.protocols.mlflow import encode_predictions, parse_invocation

JSON = "application/json"


def parse(document: Any, content_type: str = JSON) -> Any:
    return parse_invocation(json.dumps(document).encode(), content_type)


def error_of(body: bytes, content_type: str | None = JSON) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        parse_invocation(body, content_type)
    return info.value


def assert_table(table: Any, expected: dict[str, list[Any]], dtypes: dict[str, str]) -> None:
    assert isinstance(table, dict) and list(table) == list(expected)
    for name, values in expected.items():
        assert table[name].dtype == np.dtype(dtypes[name]), name
        np.testing.assert_array_equal(table[name], np.array(values, dtype=dtypes[name]), err_msg=name)


# --- the examples of MLflow's "Deploy MLflow Model as a Local Inference Server" page ---------------


def test_docs_dataframe_split() -> None:
    table = parse({"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 2, 3], [4, 5, 6]]}})
    assert_table(table, {"a": [1, 4], "b": [2, 5], "c": [3, 6]}, dict.fromkeys("abc", "int64"))


def test_docs_dataframe_records() -> None:
    table = parse({"dataframe_records": [{"a": 1, "b": 2, "c": 3}, {"a": 4, "b": 5, "c": 6}]})
    assert_table(table, {"a": [1, 4], "b": [2, 5], "c": [3, 6]}, dict.fromkeys("abc", "int64"))


def test_docs_instances_rows_with_vectors() -> None:
    table = parse(
        {
            "instances": [
                {"a": "s1", "b": 1, "c": [1, 2, 3]},
                {"a": "s2", "b": 2, "c": [4, 5, 6]},
                {"a": "s3", "b": 3, "c": [7, 8, 9]},
            ]
        }
    )
    assert table["a"].dtype == object and table["a"].tolist() == ["s1", "s2", "s3"]
    assert table["b"].dtype == np.int64 and table["b"].tolist() == [1, 2, 3]
    np.testing.assert_array_equal(table["c"], np.arange(1, 10).reshape(3, 3))


def test_docs_inputs_columns() -> None:
    table = parse({"inputs": {"a": ["s1", "s2", "s3"], "b": [1, 2, 3], "c": [[1, 2, 3], [4, 5, 6], [7, 8, 9]]}})
    assert table["a"].tolist() == ["s1", "s2", "s3"] and table["b"].tolist() == [1, 2, 3]
    assert table["c"].shape == (3, 3)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"inputs": [[1, 2], [3, 4], [5, 6]]}, np.array([[1, 2], [3, 4], [5, 6]])),
        ({"inputs": [[1, 2, 3, 4]]}, np.array([[1, 2, 3, 4]])),
        ({"instances": [1.5, 2.5]}, np.array([1.5, 2.5])),
        ({"inputs": [[1, None], [2.5, 3]]}, np.array([[1, np.nan], [2.5, 3]])),
    ],
)
def test_docs_tensor_inputs(document: dict[str, Any], expected: np.ndarray) -> None:
    array = parse(document)
    assert isinstance(array, np.ndarray) and array.dtype == expected.dtype
    np.testing.assert_array_equal(array, expected)


def test_string_tensor_is_an_object_array_of_str() -> None:
    array = parse({"instances": ["what color is it?", "and the sky?"]})
    assert array.dtype == object and array.tolist() == ["what color is it?", "and the sky?"]


def test_docs_params_are_checked_and_left_to_the_caller() -> None:
    table = parse(
        {"inputs": {"question": ["What color is it?"], "context": ["Some context"]}, "params": {"max_answer_len": 10}}
    )
    assert table["question"].tolist() == ["What color is it?"]
    err = error_of(b'{"inputs": [1], "params": [10]}')
    assert err.details["field"] == "params" and "must be a JSON object" in err.message


# --- pandas interop: what MLflow's own client sends -----------------------------------------------


def frame(rows: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, size=rows),
            "income": rng.normal(50_000, 12_000, size=rows).round(2),
            "plan": rng.choice(["free", "pro", "team"], size=rows),
            "active": rng.integers(0, 2, size=rows).astype(bool),
        }
    )


def test_pandas_split_and_records_payloads() -> None:
    df = frame()
    for body in (
        orjson.dumps({"dataframe_split": df.to_dict(orient="split")}, option=orjson.OPT_SERIALIZE_NUMPY),
        b'{"dataframe_records": ' + df.to_json(orient="records").encode() + b"}",
        b'{"dataframe_split": ' + df.to_json(orient="split").encode() + b"}",
    ):
        table = parse_invocation(body, JSON)
        assert list(table) == list(df.columns)
        assert table["age"].dtype == np.int64 and table["income"].dtype == np.float64
        assert table["active"].dtype == np.bool_ and table["plan"].dtype == object
        for name in df.columns:
            assert table[name].tolist() == df[name].tolist(), name


def test_pandas_to_csv_round_trip() -> None:
    df = frame()
    table = parse_invocation(df.to_csv(index=False).encode(), "text/csv")
    assert list(table) == list(df.columns)
    assert table["age"].dtype == np.int64 and table["income"].dtype == np.float64
    assert table["active"].dtype == np.bool_ and table["plan"].dtype == object
    for name in df.columns:
        assert table[name].tolist() == df[name].tolist(), name
    # to_csv() with its default index writes an unnamed first column, which pandas reads as "Unnamed: 0".
    with_index = parse_invocation(df.to_csv().encode(), "text/csv")
    assert list(with_index) == ["Unnamed: 0", *df.columns]
    assert list(pd.read_csv(pd.io.common.StringIO(df.to_csv())).columns) == list(with_index)


# --- typing of columns -------------------------------------------------------------------------


def test_records_with_missing_keys_fill_none_and_nan() -> None:
    table = parse({"dataframe_records": [{"x": 1, "s": "a"}, {"x": 2.5}, {"s": "c", "y": True}]})
    assert list(table) == ["x", "s", "y"]
    np.testing.assert_array_equal(table["x"], [1.0, 2.5, np.nan])
    assert table["s"].tolist() == ["a", None, "c"]
    assert table["y"].dtype == object and table["y"].tolist() == [None, None, True]


def test_split_typing_per_column() -> None:
    table = parse(
        {
            "dataframe_split": {
                "columns": ["i", "f", "m", "s", "b", "n"],
                "data": [[1, 1.5, 1, "a", True, None], [2, 2, 2.5, "b", False, 3]],
                "index": [0, 1],
            }
        }
    )
    assert table["i"].dtype == np.int64 and table["f"].dtype == np.float64 and table["m"].dtype == np.float64
    assert table["s"].dtype == object and table["b"].dtype == np.bool_
    np.testing.assert_array_equal(table["n"], [np.nan, 3.0])
    big = parse({"dataframe_split": {"columns": ["u"], "data": [[2**63], [1]]}})
    assert big["u"].dtype == np.float64  # beyond int64: floats, as pandas would not keep them exact either


def test_csv_typing() -> None:
    body = b"\xef\xbb\xbfid,score,label,flag,note\r\n1,0.5,x,true,\r\n\r\n2,,y,FALSE,hi\r\n3,nan,z,True,\r\n"
    table = parse_invocation(body, "text/csv; charset=UTF-8")
    assert table["id"].dtype == np.int64 and table["id"].tolist() == [1, 2, 3]
    np.testing.assert_array_equal(table["score"], [0.5, np.nan, np.nan])
    assert table["label"].tolist() == ["x", "y", "z"]
    assert table["flag"].tolist() == [True, False, True]
    assert table["note"].tolist() == [None, "hi", None]
    with_gap = parse_invocation(b"n,q\n1,\n,2\n3,1_000\n", "text/csv")
    np.testing.assert_array_equal(with_gap["n"], [1.0, np.nan, 3.0])
    assert with_gap["q"].tolist() == [None, "2", "1_000"]  # CSV writers never write 1_000 for a number
    header_only = parse_invocation(b"a,b\n", "text/csv")
    assert list(header_only) == ["a", "b"] and len(header_only["a"]) == 0


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8", "application/json;"],
)
def test_accepted_json_content_types(content_type: str) -> None:
    assert parse_invocation(b'{"inputs": [1]}', content_type).tolist() == [1]


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        (None, "Content-Type None is not supported; send application/json or text/csv."),
        ("application/octet-stream", "Content-Type 'application/octet-stream' is not supported"),
        ("application/json; charset=latin-1", "'charset=latin-1' is not supported; only charset=utf-8 is."),
        ("application/json; format=pandas-records", "'format=pandas-records' is not supported"),
    ],
)
def test_unsupported_content_types(content_type: str | None, message: str) -> None:
    err = error_of(b'{"inputs": [1]}', content_type)
    assert message in err.message and err.details["field"] == "Content-Type"


@pytest.mark.parametrize(
    ("document", "field", "message"),
    [
        (
            {"columns": ["a"], "data": [[1]]},
            "body",
            "exactly one of dataframe_split, dataframe_records, instances, inputs",
        ),
        ({"inputs": [1], "instances": [1]}, "body", "it holds instances, inputs"),
        (
            {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3]]}},
            "dataframe_split.data[1]",
            "Row 1 of dataframe_split.data has 1 values but there are 2 columns",
        ),
        (
            {"dataframe_split": {"columns": ["a"], "data": [[1]], "orient": "split"}},
            "dataframe_split",
            "unexpected keys ['orient']",
        ),
        (
            {"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}},
            "dataframe_split.data",
            "names a column twice",
        ),
        (
            {"dataframe_split": {"columns": ["a"], "data": [[1]], "index": [0, 1]}},
            "dataframe_split.index",
            "one entry per row (1)",
        ),
        ({"dataframe_split": {"columns": "a", "data": [[1]]}}, "dataframe_split.columns", "list of column names"),
        (
            {"dataframe_records": [{"a": 1}, [2]]},
            "dataframe_records[1]",
            "dataframe_records[1] is list; send an object per row",
        ),
        ({"dataframe_records": {"a": 1}}, "dataframe_records", "must be a list of row objects"),
        ({"inputs": [[1, 2], [3]]}, "inputs", "nested lists of different lengths"),
        ({"inputs": {"a": [1, 2], "b": [1]}}, "inputs", "different lengths ({'a': 2, 'b': 1})"),
        ({"instances": [{"c": [1, 2]}, {"c": [3]}]}, "instances.c", "nested lists of different lengths"),
    ],
)
def test_malformed_json_inputs_name_the_field(document: Any, field: str, message: str) -> None:
    err = error_of(json.dumps(document).encode())
    assert message in err.message and err.details["field"] == field


def test_not_json_and_not_an_object() -> None:
    assert "not valid JSON at byte 1" in error_of(b"{,}").message
    assert "got list" in error_of(b"[1, 2]").message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "The CSV body is empty"),
        (b"a,b\n1,2\n3\n", "CSV line 3 has 1 fields but the header has 2"),
        (b"a,a\n1,2\n", "names a column twice"),
        (b"a\n\xff\n", "not UTF-8 at byte 2"),
        (b'a,b\n"1,2\n', "malformed"),
    ],
)
def test_malformed_csv(body: bytes, message: str) -> None:
    assert message in error_of(body, "text/csv").message


# --- predictions ----------------------------------------------------------------------------------


def test_encode_predictions() -> None:
    assert encode_predictions(np.array([0, 1, 1])) == b'{"predictions":[0,1,1]}'
    assert encode_predictions(np.array([[0.25, np.nan]], dtype=np.float32)) == b'{"predictions":[[0.25,null]]}'
    assert encode_predictions(np.array(["yes", "no"])) == b'{"predictions":["yes","no"]}'
    assert encode_predictions(np.float64(2.5)) == b'{"predictions":2.5}'
    assert orjson.loads(encode_predictions({"label": np.array([1]), "proba": np.array([[0.1, 0.9]])})) == {
        "predictions": {"label": [1], "proba": [[0.1, 0.9]]}
    }
    # bytes are base64 with a trailing newline, as MLflow's NumpyEncoder writes them (base64.encodebytes)
    assert encode_predictions(np.array([b"\x00\x01"], dtype=object)) == b'{"predictions":["AAE=\\n"]}'
    strided = np.arange(12, dtype=">f8").reshape(3, 4)[:, ::2]
    assert orjson.loads(encode_predictions(strided)) == {"predictions": strided.tolist()}


# --- fuzz --------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=3), children, max_size=4),
    max_leaves=16,
)
rows = st.lists(
    st.lists(st.integers(-5, 5) | st.floats(-2, 2) | st.none() | st.text(max_size=2), min_size=2, max_size=3),
    max_size=4,
)
documents = st.fixed_dictionaries(
    {},
    optional={
        "dataframe_split": st.fixed_dictionaries(
            {"data": rows | json_values}, optional={"columns": st.just(["a", "b"]) | json_values, "index": json_values}
        )
        | json_values,
        "dataframe_records": st.lists(st.dictionaries(st.sampled_from("abc"), json_values, max_size=3), max_size=4)
        | json_values,
        "instances": json_values,
        "inputs": json_values,
        "params": json_values,
    },
)


@settings(max_examples=200, deadline=None)
@given(document=documents)
def test_fuzz_json_raises_only_validation_errors(document: dict[str, Any]) -> None:
    try:
        result = parse_invocation(json.dumps(document).encode(), JSON)
    except ValidationError as err:
        assert err.message
    else:
        columns = result.values() if isinstance(result, dict) else [result]
        assert all(isinstance(column, np.ndarray) for column in columns)
        if isinstance(result, dict) and result:
            assert len({len(column) for column in result.values()}) == 1


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=200) | st.text(alphabet=',"\n\r ab1.-_e\x00', max_size=60).map(str.encode),
    csv=st.booleans(),
)
def test_fuzz_bytes_raise_only_validation_errors(body: bytes, csv: bool) -> None:
    try:
        result = parse_invocation(body, "text/csv" if csv else JSON)
    except ValidationError as err:
        assert err.message
    else:
        if isinstance(result, dict):
            assert len({len(column) for column in result.values()}) <= 1
