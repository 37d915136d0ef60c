"""Prediction logging: one columnar batch per request, written behind the response.

The request thread builds a :class:`~weir.store.PredictionBatch` (the model input's columns and the
outputs as arrays: a few microseconds, no per-row objects) and hands it to the write-behind
:class:`~weir.store.PredictionBuffer`, whose thread writes Parquet segments. Rows get the request id,
or ``<id>:<row>`` when a request holds several rows (labels are given back by those ids).
Outputs: ``prediction`` and, for classifiers with at most ``MAX_PROBA_CLASSES`` classes, one
``proba_<class>`` column per class.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from weir.serving.runtimes import Prediction
from weir.store import PredictionBatch, PredictionBuffer, PredictionLog, PredictionRecord

logger = logging.getLogger(__name__)

MAX_PROBA_CLASSES = 20


class PredictionLogger:
    def __init__(self, buffer: PredictionBuffer) -> None:
        self.buffer = buffer
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
            self.buffer.add(batch(request_id, endpoint, served, route, model_input, prediction, seconds))
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


def batch(
    rid: str, endpoint: str, served: Any, route: str, X: Any, prediction: Prediction, seconds: float
) -> PredictionBatch:
    preds = prediction.predictions
    n = len(preds)
    outputs = {"prediction": preds if preds.ndim == 1 else preds[:, 0]}
    probs, classes = prediction.probabilities, prediction.classes
    if probs is not None and classes and len(classes) <= MAX_PROBA_CLASSES:
        outputs.update({f"proba_{c}": probs[:, i] for i, c in enumerate(classes)})
    ids = [f"{rid}:{i}" for i in range(n)] if n > 1 else [rid]
    inputs: dict[str, np.ndarray[Any, Any]] = {}
    matrix: np.ndarray[Any, Any] | None = None
    names: tuple[str, ...] = ()
    if isinstance(X, pd.DataFrame):
        inputs = {str(c): X[c].to_numpy() for c in X.columns if X[c].dtype.kind in "biufOU"}
    elif isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype.kind in "biuf":
        given = served.inputs.names
        names = given if given is not None and len(given) == X.shape[1] else tuple(f"x{i}" for i in range(X.shape[1]))
        matrix = X  # tensors of higher rank are not logged column by column
    return PredictionBatch(
        ids,
        datetime.now(UTC),
        endpoint,
        served.model,
        served.number,
        route,
        inputs,
        outputs,
        seconds * 1000 / max(1, n),
        names,
        matrix,
    )
