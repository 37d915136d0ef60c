"""Prediction logging off the response path.

The request thread only appends a tuple to a queue (about a microsecond); a background thread turns
each into one :class:`~weir.store.PredictionRecord` per row (inputs by column name, the prediction
and, for classifiers, one ``proba_<class>`` output per class) and hands them to the write-behind
:class:`~weir.store.PredictionBuffer`. Beyond ``max_queue`` waiting requests new ones are dropped
and counted, so a stalled disk costs log records, never the server's memory.
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from weir.store import PredictionBuffer, PredictionLog, PredictionRecord

logger = logging.getLogger(__name__)

MAX_PROBA_CLASSES = 20


class PredictionLogger:
    def __init__(self, buffer: PredictionBuffer, *, max_queue: int = 100_000) -> None:
        self.buffer = buffer
        self.log: PredictionLog = buffer.log
        self.max_queue = max_queue
        self.dropped_ = 0
        self._queue: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="weir-prediction-logger", daemon=True)
        self._thread.start()

    def add(
        self,
        request_id: str,
        endpoint: str,
        served: Any,
        route: str,
        model_input: Any,
        prediction: Any,
        seconds: float,
    ) -> None:
        if self._queue.qsize() >= self.max_queue:
            self.dropped_ += 1
            return
        self._queue.put((request_id, datetime.now(UTC), endpoint, served, route, model_input, prediction, seconds))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(30)
        self.buffer.close()

    def flush(self) -> None:
        """Write everything queued so far (waits for the background thread to catch up)."""
        done = threading.Event()
        self._queue.put(("flush", done))
        done.wait(30)
        self.buffer.flush()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if item[0] == "flush" and len(item) == 2:
                item[1].set()
                continue
            try:
                for record in _records(*item):
                    self.buffer.add(record)
            except Exception:
                logger.exception("could not log request %s", item[0])


def _records(
    rid: str, when: datetime, endpoint: str, served: Any, route: str, X: Any, prediction: Any, seconds: float
) -> list[PredictionRecord]:
    rows = _input_rows(X, served.inputs.names)
    preds = prediction.predictions
    outputs: list[dict[str, Any]] = [
        {"prediction": p} for p in (preds.tolist() if preds.ndim == 1 else preds[:, 0].tolist())
    ]
    if prediction.probabilities is not None and prediction.classes and len(prediction.classes) <= MAX_PROBA_CLASSES:
        names = [f"proba_{c}" for c in prediction.classes]
        for out, probs in zip(outputs, prediction.probabilities.tolist(), strict=True):
            out.update(zip(names, probs, strict=True))
    latency = seconds * 1000 / max(1, len(outputs))
    many = len(outputs) > 1
    model, version = served.model, served.number
    return [
        PredictionRecord(
            f"{rid}:{i}" if many else rid, when, endpoint, model, version, route, rows[i] if rows else {}, out, latency
        )
        for i, out in enumerate(outputs)
    ]


def _input_rows(X: Any, names: tuple[str, ...] | None) -> list[dict[str, Any]] | None:
    if isinstance(X, pd.DataFrame):
        return X.to_dict("records")  # type: ignore[return-value]
    array = np.asarray(X)
    if array.ndim != 2 or array.dtype.kind not in "biufU":
        return None  # tensors of higher rank are not logged column by column
    columns = names if names is not None and len(names) == array.shape[1] else [f"x{i}" for i in range(array.shape[1])]
    return [dict(zip(columns, row, strict=True)) for row in array.tolist()]
