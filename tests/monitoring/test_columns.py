"""Column types of a reference frame, and reading columns into numpy (codes for categories)."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest

from weir.errors import ValidationError
from weir.monitoring import columns as columns_module
from weir.monitoring.columns import MIN_ROWS, encode_current, encode_reference, float_block, infer_column_types


def test_column_type_inference_rules() -> None:
    rng = np.random.default_rng(0)
    n = 200
    words = np.array([f"word{i} and more" for i in range(150)], dtype=object)
    frame = pd.DataFrame(
        {
            "flag": rng.random(n) < 0.5,
            "nullable_flag": pd.array([True, None] * (n // 2), dtype="boolean"),
            "tier": pd.Categorical(rng.choice(["gold", "silver"], n)),
            "when": pd.date_range("2024-01-01", periods=n, freq="h"),
            "when_utc": pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC"),
            "lag": pd.to_timedelta(np.arange(n), unit="s"),
            "period": pd.period_range("2024-01", periods=n, freq="D"),
            "dates": np.array([datetime.date(2024, 1, 1 + i % 28) for i in range(n)], dtype=object),
            "stars": rng.integers(1, 6, size=n),
            "nullable_stars": pd.array([1, 2, None, 3] * (n // 4), dtype="Int64"),
            "row_id": rng.permutation(np.arange(1000, 1000 + n)),
            "count": rng.poisson(50, size=n),
            "amount": rng.normal(size=n),
            "few_floats": rng.choice([0.0, 1.0], size=n),
            "boxed_numbers": np.array(rng.normal(size=n), dtype=object),
            "boxed_ints": np.array(rng.integers(0, 1000, size=n), dtype=object),
            "user": [f"user-{i}" for i in range(n)],
            "comment": rng.choice(words, size=n),
            "plan": rng.choice(["a", "b", "c"], size=n),
            "labels": np.array([1, "a", None, 2.5] * (n // 4), dtype=object),
            "empty": np.array([None] * n, dtype=object),
            "complex": np.ones(n, dtype=complex),
        }
    )
    info = infer_column_types(frame)
    expected = {
        "flag": "categorical",
        "nullable_flag": "categorical",
        "tier": "categorical",
        "when": "datetime",
        "when_utc": "datetime",
        "lag": "datetime",
        "period": "datetime",
        "dates": "datetime",
        "stars": "categorical",
        "nullable_stars": "categorical",
        "row_id": "id",
        "count": "numeric",
        "amount": "numeric",
        "few_floats": "numeric",  # floats stay numeric; the choice reads them as categories
        "boxed_numbers": "numeric",
        "boxed_ints": "numeric",
        "user": "id",
        "comment": "text",
        "plan": "categorical",
        "labels": "categorical",
        "empty": "categorical",
        "complex": "excluded",
    }
    assert {name: c.type for name, c in info.items()} == expected
    assert list(info) == list(frame.columns)
    assert info["stars"].reason == "integers with 5 distinct value(s) (≤ 5)" and info["stars"].n_unique == 5
    assert "row number or key" in info["row_id"].reason and "identifier" in info["user"].reason
    assert "free text" in info["comment"].reason and "complex128" in info["complex"].reason
    assert all(c.tested == (c.type in ("numeric", "categorical")) for c in info.values())


def test_id_and_text_need_enough_rows_and_integers_with_six_values_are_numeric() -> None:
    small = pd.DataFrame({"key": [f"k{i}" for i in range(MIN_ROWS - 1)], "n": np.arange(MIN_ROWS - 1)})
    assert {c.type for c in infer_column_types(small).values()} == {"categorical", "numeric"}
    six = pd.DataFrame({"n": np.tile(np.arange(6), 10)})
    assert infer_column_types(six)["n"].type == "numeric"


def test_column_type_overrides() -> None:
    frame = pd.DataFrame({"stars": [1, 2, 3] * 10, "user": [f"u{i}" for i in range(30)], "x": np.arange(30.0)})
    info = infer_column_types(frame, {"stars": "numeric", "user": "categorical", "x": "excluded"})
    assert [info[c].type for c in frame.columns] == ["numeric", "categorical", "excluded"]
    assert {c.reason for c in info.values()} == {"set by column_types"}
    with pytest.raises(
        ValidationError,
        match=r"column_types\['stars'\] is 'ordinal'; allowed types: numeric, categorical, datetime, text, id, excl",
    ):
        infer_column_types(frame, {"stars": "ordinal"})
    with pytest.raises(ValidationError, match=r"column_types names column\(s\) \['age'\] that the reference"):
        infer_column_types(frame, {"age": "numeric"})


def test_documented_table_names_every_type() -> None:
    doc = columns_module.__doc__ or ""
    for column_type in columns_module.COLUMN_TYPES:
        assert f"\n{column_type} " in doc
    assert "NUMBER_UNIQUE_AS_CATEGORICAL = 5" in doc and columns_module.FEW_VALUES == 5


def test_categories_become_codes_and_unseen_ones_new_codes() -> None:
    reference = pd.Series(["b", "a", None, "b", "c"])
    codes, categories = encode_reference(reference)
    np.testing.assert_array_equal(codes, [0, 1, np.nan, 0, 2])
    assert list(categories) == ["b", "a", "c"]
    for current in (
        pd.Series(["c", "z", None, "a", "y", "z"]),
        pd.Series(["c", "z", None, "a", "y", "z"], dtype="category"),
    ):
        coded, new = encode_current(current, categories)
        np.testing.assert_array_equal(coded[[0, 2, 3]], [2, np.nan, 1])
        assert coded[1] == coded[5] >= 3 and coded[4] >= 3 and coded[1] != coded[4] and new == 2
    unused = pd.Series(["a"], dtype=pd.CategoricalDtype(["a", "q"]))  # 'q' declared but absent: not new
    assert encode_current(unused, categories)[1] == 0
    assert np.isnan(encode_current(pd.Series([None, None], dtype=object), categories)[0]).all()


def test_float_block_reads_numbers_and_names_bad_columns() -> None:
    frame = pd.DataFrame({"a": [1.0, None], "b": pd.array([1, None], dtype="Int64"), "c": [True, False]})
    np.testing.assert_array_equal(float_block(frame, ["a", "b", "c"], "current"), [[1, 1, 1], [np.nan, np.nan, 0]])
    with pytest.raises(ValidationError, match=r"Column 'w' of the current data is numeric in the reference"):
        float_block(frame.assign(w=["x", "y"]), ["a", "w"], "current")
    with pytest.raises(ValidationError, match=r"Column\(s\) \['a'\] of the reference data hold infinite values"):
        float_block(frame.assign(a=[np.inf, 1.0]), ["a", "b"], "reference")
