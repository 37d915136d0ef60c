"""Prediction logging, written behind the response and built off the request path.

The request thread only queues what it already has (the request id, the served version, the model input
and the prediction: a small object, about a microsecond) in the write-behind
:class:`~weir.store.PredictionBuffer`. Its writer thread turns everything queued into columnar
:class:`~weir.store.PredictionBatch` es, one per group of like requests (same endpoint, version, route,
day and input and output shapes), concatenating their matrices in numpy, and writes Parquet segments.
Rows get the request id, or ``<id>:<row>`` when a request holds several rows (labels are given back by
those ids). Outputs: ``prediction`` and, for classifiers with at most ``MAX_PROBA_CLASSES`` classes, one
``proba_<class>`` column per class.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from weir.serving.runtimes import Prediction
from weir.store import PredictionBatch, PredictionBuffer, PredictionLog, PredictionRecord

logger = logging.getLogger(__name__)

MAX_PROBA_CLASSES = 20


class Pending:
    """One answered request, as the request thread left it."""

    __slots__ = ("at", "endpoint", "model_input", "prediction", "request_id", "route", "seconds", "served")

    def __init__(
        self,
        request_id: str,
        endpoint: str,
        served: Any,
        route: str,
        model_input: Any,
        prediction: Prediction,
        seconds: float,
    ) -> None:
        self.request_id, self.endpoint, self.served, self.route = request_id, endpoint, served, route
        self.model_input, self.prediction, self.seconds = model_input, prediction, seconds
        self.at = time.time()

    def __len__(self) -> int:
        return len(self.prediction.predictions)


class PredictionLogger:
    def __init__(self, buffer: PredictionBuffer) -> None:
        self.buffer = buffer
        self.buffer.prepare = build_batches
        self.log: PredictionLog = buffer.log
        self.failed_ = 0

    def add(
        self,
        request_id: str,
        endpoint: str,
        served: Any,
        route: str,
        model_input: Any,
        prediction: Prediction,
        seconds: float,
    ) -> None:
        try:
            self.buffer.add(Pending(request_id, endpoint, served, route, model_input, prediction, seconds))
        except Exception:  # logging must never fail a prediction
            self.failed_ += 1
            logger.exception("could not log request %s", request_id)

    def add_error(
        self, request_id: str, endpoint: str, served: Any, route: str, exc: Exception, seconds: float
    ) -> None:
        """A prediction that failed: a row whose ``output.error`` names the exception."""
        message = f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"[:500]
        try:
            self.buffer.add(
                PredictionRecord(
                    request_id,
                    datetime.now(UTC),
                    endpoint,
                    served.model,
                    served.number,
                    route,
                    {},
                    {"error": message},
                    seconds * 1000,
                )
            )
        except Exception:  # logging must never fail a prediction
            self.failed_ += 1
            logger.exception("could not log the failure of request %s", request_id)

    def flush(self) -> None:
        self.buffer.flush()

    def close(self) -> None:
        self.buffer.close()


def build_batches(items: Sequence[Any]) -> list[PredictionRecord | PredictionBatch]:
    """The buffer's ``prepare``: queued requests become one batch per group of like ones; records and
    batches pass through."""
    out: list[PredictionRecord | PredictionBatch] = []
    groups: dict[tuple[Any, ...], list[Pending]] = {}
    for item in items:
        if isinstance(item, Pending):
            groups.setdefault(_key(item), []).append(item)
        else:
            out.append(item)
    for group in groups.values():
        out.append(batch(group))
    return out


def _key(p: Pending) -> tuple[Any, ...]:
    X, prediction = p.model_input, p.prediction
    if isinstance(X, pd.DataFrame):
        shape: Any = ("frame", tuple((str(c), str(X[c].dtype)) for c in X.columns))
    elif isinstance(X, np.ndarray) and X.ndim == 2:
        shape = ("matrix", X.shape[1], X.dtype.str)
    else:
        shape = ("other",)
    probabilities = prediction.probabilities
    outputs = (
        prediction.predictions.ndim,
        prediction.predictions.dtype.str,
        None if probabilities is None else probabilities.shape[1:],
        prediction.classes,
    )
    day = int(p.at // 86_400)  # a batch never spans midnight (segments are kept per day)
    return (p.endpoint, p.served.model, p.served.number, p.route, day, shape, outputs)


def batch(group: Sequence[Pending]) -> PredictionBatch:
    """One batch of like requests (see :func:`_key`), concatenated column by column."""
    first = group[0]
    served, X = first.served, first.model_input
    sizes = np.array([len(p) for p in group])
    ids = [p.request_id if len(p) == 1 else f"{p.request_id}:{i}" for p in group for i in range(len(p))]
    preds = _concat([p.prediction.predictions for p in group])
    outputs = {"prediction": preds if preds.ndim == 1 else preds[:, 0]}
    classes = first.prediction.classes
    if first.prediction.probabilities is not None and classes and len(classes) <= MAX_PROBA_CLASSES:
        probs = _concat([p.prediction.probabilities for p in group])  # type: ignore[misc]
        outputs.update({f"proba_{c}": probs[:, i] for i, c in enumerate(classes)})
    inputs: dict[str, np.ndarray[Any, Any]] = {}
    matrix: np.ndarray[Any, Any] | None = None
    names: tuple[str, ...] = ()
    if isinstance(X, pd.DataFrame):
        frames = [p.model_input for p in group]
        inputs = {str(c): _concat([f[c].to_numpy() for f in frames]) for c in X.columns if X[c].dtype.kind in "biufOU"}
    elif isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype.kind in "biuf":
        given = served.inputs.names
        names = given if given is not None and len(given) == X.shape[1] else tuple(f"x{i}" for i in range(X.shape[1]))
        matrix = _concat([p.model_input for p in group])  # tensors of higher rank are not logged column by column
    times = np.array([p.at for p in group])
    latencies = np.array([p.seconds * 1000 / max(1, len(p)) for p in group])
    return PredictionBatch(
        ids,
        datetime.fromtimestamp(first.at, UTC),
        first.endpoint,
        served.model,
        served.number,
        first.route,
        inputs,
        outputs,
        float(latencies[0]),
        names,
        matrix,
        row_times_us=np.repeat((times * 1_000_000).astype(np.int64), sizes),
        row_latencies_ms=np.repeat(latencies, sizes),
    )


def _concat(arrays: list[np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
