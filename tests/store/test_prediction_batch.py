"""Columnar prediction batches: validated per column, merged with records, read back row by row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from weir.errors import ValidationError
from weir.store import PredictionBatch, PredictionBuffer, PredictionLog, PredictionRecord

T = datetime(2026, 3, 3, 12, tzinfo=UTC)


def batch(ids: list[str], time: datetime = T, version: int = 1, **inputs: np.ndarray) -> PredictionBatch:
    outputs = {"prediction": np.arange(len(ids))}
    return PredictionBatch(ids, time, "churn", "churn", version, "primary", inputs, outputs, latency_ms=0.5)


def test_batches_and_records_land_in_one_log(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path)
    written = log.append(
        [
            batch(["a:0", "a:1"], age=np.array([30, 40])),
            batch(["b"], T + timedelta(seconds=1), version=2, age=np.array([50.5])),
            PredictionRecord("c", T, "churn", "churn", 1, "canary", {"age": 60}, {"prediction": 7}),
            batch(["d"], T + timedelta(days=1), age=np.array([70])),
        ]
    )
    assert written == 5
    frame = log.read("churn").sort_values("request_id").reset_index(drop=True)
    assert frame.request_id.tolist() == ["a:0", "a:1", "b", "c", "d"]
    assert frame["input.age"].tolist() == [30, 40, 50.5, 60, 70]
    assert frame.version.tolist() == [1, 1, 2, 1, 1] and frame.route.tolist()[3] == "canary"
    assert frame.time.tolist()[2] == T + timedelta(seconds=1)
    assert len(list((tmp_path / "predictions" / "endpoint=churn").iterdir())) == 2  # one folder a day


def test_buffer_counts_rows_of_batches(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path)
    with PredictionBuffer(log, max_records=3, max_pending=4, max_seconds=60) as buffer:
        buffer.add(batch(["a:0", "a:1"], age=np.array([1, 2])))
        assert buffer.pending == 2
        buffer.add(batch(["b:0", "b:1", "b:2"], age=np.array([1, 2, 3])))
        assert buffer.dropped_ == 2  # 5 rows > max_pending 4: the oldest batch goes, whole
    assert log.count("churn") == 3 and buffer.written_ == 3


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: batch([]), "one non-empty request id"),
        (lambda: batch(["a", "b"], age=np.array([1])), "1-D array of 2"),
        (lambda: batch(["a"], age=np.array([{"x": 1}], dtype=object).reshape(1, 1)), "1-D array of 1"),
        (lambda: PredictionBatch(["a"], T.replace(tzinfo=None), "churn", "churn", 1, "primary"), "aware"),
        (lambda: PredictionBatch(["a"], T, "churn", "churn", 1, "sideways"), "route"),
        (lambda: PredictionBatch(["a"], T, "bad name", "churn", 1, "primary"), "Endpoint name"),
    ],
)
def test_bad_batches_are_refused(make, words: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match=words):
        make()
