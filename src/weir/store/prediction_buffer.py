"""Batches prediction records in memory and writes them to the prediction log from a background thread.

``add`` never blocks on disk and never raises for a failed write (``prepare``, when given, turns what
was added into records or batches on the writer thread, off the request path): the writer thread flushes when
``max_records`` are waiting or the oldest has waited ``max_seconds``. A write that fails is logged and
its batch kept for a retry after ``max_seconds``; a batch the log rejects as invalid (a
:class:`~weir.errors.ValidationError`, which no retry can fix) is logged and counted in ``rejected_``.
At most ``max_pending`` records wait in memory: beyond that the oldest are dropped and counted in
``dropped_``, so a dead disk costs log records, never the server's memory. Records added after
``close`` are dropped and counted too.

>>> import tempfile
>>> from datetime import datetime, timezone
>>> from weir.store import PredictionLog, PredictionRecord
>>> log = PredictionLog(tempfile.mkdtemp())
>>> with PredictionBuffer(log, max_records=100, max_seconds=5.0) as buffer:
...     buffer.add(PredictionRecord("r1", datetime.now(timezone.utc), "churn", "churn", 1, "primary"))
>>> log.count("churn"), buffer.written_, buffer.dropped_
(1, 1, 0)
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from weir.errors import ValidationError
from weir.store.prediction_batch import PredictionBatch
from weir.store.prediction_log import PredictionLog
from weir.store.prediction_record import PredictionRecord

logger = logging.getLogger(__name__)


class PredictionBuffer:
    """Thread-safe write-behind buffer in front of a :class:`PredictionLog`."""

    def __init__(
        self,
        log: PredictionLog,
        *,
        max_records: int = 1000,
        max_seconds: float = 1.0,
        max_pending: int = 100_000,
        prepare: Callable[[list[Any]], list[PredictionRecord | PredictionBatch]] | None = None,
    ) -> None:
        if max_records < 1 or max_pending < max_records or max_seconds <= 0:
            raise ValidationError(
                f"PredictionBuffer needs max_records >= 1, max_pending >= max_records and max_seconds > 0; "
                f"got max_records={max_records}, max_pending={max_pending}, max_seconds={max_seconds}."
            )
        self.log = log
        self.prepare = prepare
        self.max_records = max_records
        self.max_seconds = max_seconds
        self.max_pending = max_pending
        self.written_ = 0
        self.dropped_ = 0
        self.rejected_ = 0
        self.failures_ = 0
        self._pending: collections.deque[Any] = collections.deque()
        self._rows = 0  # rows waiting: a batch counts its rows
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()  # one batch at a time, so records keep their order
        self._oldest: float | None = None  # monotonic time the oldest pending record arrived
        self._retry_at = 0.0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="weir-prediction-buffer", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        with self._cond:
            return self._rows

    def add(self, record: Any) -> None:
        """Queue one record, a columnar batch of one request's rows, or anything ``prepare`` turns into
        those on the writer thread (with ``len()`` its rows); returns at once."""
        with self._cond:
            if self._closed:
                self.dropped_ += _rows(record)
                logger.warning("prediction buffer is closed; dropped %d record(s)", _rows(record))
                return
            self._pending.append(record)
            self._rows += _rows(record)
            first = self._oldest is None
            if first:
                self._oldest = time.monotonic()
            self._trim()
            if first or self._rows >= self.max_records:
                self._cond.notify()  # wake the writer to start the timer, or to write a full batch

    def flush(self) -> int:
        """Write everything pending now; return how many records were written (0 if the write failed)."""
        with self._write_lock:
            with self._cond:
                batch = list(self._pending)
                self._pending.clear()
                count, self._rows = self._rows, 0
                self._oldest = None
            if not batch:
                return 0
            if self.prepare is not None:
                try:
                    batch = self.prepare(batch)  # it passes records and batches through: a retry keeps them
                except Exception:
                    self.rejected_ += count
                    logger.exception("could not build %d prediction records; they are dropped", count)
                    return 0
            try:
                self.log.append(batch)
            except ValidationError:
                self.rejected_ += count
                logger.exception("prediction log rejected a batch of %d records; they are dropped", count)
                return 0
            except Exception:
                logger.exception("writing %d predictions failed; keeping them for a retry", count)
                with self._cond:
                    self.failures_ += 1
                    self._pending.extendleft(reversed(batch))
                    self._rows += count
                    self._trim()
                    self._oldest = time.monotonic()
                    self._retry_at = self._oldest + self.max_seconds
                return 0
            self.written_ += count
            return count

    def close(self, timeout: float | None = 30.0) -> None:
        """Stop the writer thread and flush what is left (records a failed final write are logged as lost)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)
        self.flush()
        left = self.pending
        if left:
            logger.error("prediction buffer closed with %d records that could not be written", left)

    def __enter__(self) -> PredictionBuffer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _trim(self) -> None:
        while self._rows > self.max_pending and self._pending:
            gone = _rows(self._pending.popleft())
            self._rows -= gone
            self.dropped_ += gone

    def _due(self, now: float) -> float | None:
        """Seconds until the next flush is due (<= 0: now), or None when nothing waits."""
        if not self._pending or self._oldest is None:
            return None
        wait = self._retry_at - now
        if self._rows < self.max_records:
            wait = max(wait, self._oldest + self.max_seconds - now)
        return wait

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed:
                    wait = self._due(time.monotonic())
                    if wait is not None and wait <= 0:
                        break
                    self._cond.wait(wait)
                if self._closed:
                    return  # close() writes what is left
            self.flush()


def _rows(item: Any) -> int:
    return 1 if isinstance(item, PredictionRecord) else len(item)
