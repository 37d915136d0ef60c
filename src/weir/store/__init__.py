"""Storage (layer 1): the metadata database, the content-addressed artifact store, the prediction log."""

from __future__ import annotations

from weir.store.artifacts import ArtifactStore
from weir.store.database import Database
from weir.store.prediction_batch import PredictionBatch
from weir.store.prediction_buffer import PredictionBuffer
from weir.store.prediction_log import PredictionLog
from weir.store.prediction_record import PredictionRecord

__all__ = ["ArtifactStore", "Database", "PredictionBatch", "PredictionBuffer", "PredictionLog", "PredictionRecord"]
