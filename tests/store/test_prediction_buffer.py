from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from weir.store.prediction_buffer import PredictionBuffer
from weir.store.prediction_log import PredictionLog
from weir.store.prediction_record import PredictionRecord


def rec(rid: str) -> PredictionRecord:
    return PredictionRecord(rid, datetime.now(UTC), "churn", "churn", 1, "primary", {"x": 1.0}, {"prediction": 0})


def wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_flushes_when_max_records_wait(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path)
    with PredictionBuffer(log, max_records=10, max_seconds=60) as buffer:
        for i in range(10):
            buffer.add(rec(f"r{i}"))
        wait_for(lambda: log.count("churn") == 10)
        for i in range(10, 15):
            buffer.add(rec(f"r{i}"))
        time.sleep(0.2)
        assert buffer.pending == 5 and buffer.written_ == 10, "fewer than max_records wait for the timer"
    assert log.count("churn") == 15, "close() writes what is left"


def test_flushes_after_max_seconds(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path)
    buffer = PredictionBuffer(log, max_records=1000, max_seconds=0.2)
    buffer.add(rec("r0"))
    assert log.count("churn") == 0
    wait_for(lambda: log.count("churn") == 1, timeout=3)
    buffer.close()
    buffer.add(rec("late"))
    assert buffer.dropped_ == 1 and log.count("churn") == 1


def test_concurrent_adds_lose_nothing(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path)
    buffer = PredictionBuffer(log, max_records=200, max_seconds=0.05)
    threads = [
        threading.Thread(target=lambda t=t: [buffer.add(rec(f"t{t}-{i}")) for i in range(1000)]) for t in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    buffer.close()
    frame = log.read("churn")
    assert len(frame) == 8000 == buffer.written_ and frame["request_id"].is_unique
    assert buffer.dropped_ == 0


class FlakyLog(PredictionLog):
    def __init__(self, root: Path, failures: int) -> None:
        super().__init__(root)
        self.failures = failures

    def append(self, records: Any) -> int:
        if self.failures:
            self.failures -= 1
            raise OSError(28, "No space left on device")
        return super().append(records)


def test_failed_write_is_logged_and_retried_never_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    log = FlakyLog(tmp_path, failures=2)
    buffer = PredictionBuffer(log, max_records=5, max_seconds=0.1)
    for i in range(5):
        buffer.add(rec(f"r{i}"))
    wait_for(lambda: log.count("churn") == 5)
    buffer.close()
    assert buffer.failures_ == 2 and buffer.written_ == 5 and buffer.dropped_ == 0
    assert "keeping them for a retry" in caplog.text


def test_bounded_queue_drops_oldest_and_counts(tmp_path: Path) -> None:
    log = FlakyLog(tmp_path, failures=10**6)  # the disk never comes back
    buffer = PredictionBuffer(log, max_records=5, max_seconds=60, max_pending=10)
    for i in range(25):
        buffer.add(rec(f"r{i}"))
    assert buffer.dropped_ >= 15 and buffer.pending <= 10
    log.failures = 0
    buffer.close()
    kept = list(log.read("churn")["request_id"])
    assert kept == [f"r{i}" for i in range(15, 25)], "the newest records survive"
    assert buffer.dropped_ == 15


def test_a_retry_after_a_partial_commit_adds_no_duplicate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    log = PredictionLog(tmp_path)
    real, calls = os.replace, []

    def flaky(src: Any, dst: Any) -> None:  # the second segment's rename fails once: a partial commit
        calls.append(dst)
        if len(calls) == 2:
            raise OSError("disk hiccup")
        real(src, dst)

    buffer = PredictionBuffer(log, max_records=1000, max_seconds=0.05)
    monkeypatch.setattr("weir.store.prediction_log.os.replace", flaky)
    now = datetime.now(UTC)
    for endpoint in ("a", "b"):  # two endpoints: two segments in one write
        for i in range(5):
            buffer.add(PredictionRecord(f"{endpoint}{i}", now, endpoint, "m", 1, "primary", {"x": i}))
    deadline = time.monotonic() + 10
    while (log.count("a"), log.count("b")) != (5, 5) and time.monotonic() < deadline:
        time.sleep(0.05)
    buffer.close()
    assert buffer.failures_ >= 1 and len(calls) >= 3
    assert (log.count("a"), log.count("b")) == (5, 5)  # the segment written before the failure is not doubled
