"""Feature registry (layer 2): features as code, point-in-time training frames, online serving values."""

from __future__ import annotations

from weir.features.catalog import Applied, FeatureCatalog, Registered
from weir.features.definitions import CsvSource, Entity, FeatureService, FeatureView, ParquetSource, SqlSource
from weir.features.frames import NOT_FOUND, OUTSIDE_MAX_AGE, PRESENT, OnlineFeatures, TrainingFrame
from weir.features.loader import load_definitions
from weir.features.offline import OfflineStore
from weir.features.online import OnlineStore, SqliteOnlineStore, open_online_store
from weir.features.store import FeatureStore

__all__ = [
    "NOT_FOUND",
    "OUTSIDE_MAX_AGE",
    "PRESENT",
    "Applied",
    "CsvSource",
    "Entity",
    "FeatureCatalog",
    "FeatureService",
    "FeatureStore",
    "FeatureView",
    "OfflineStore",
    "OnlineFeatures",
    "OnlineStore",
    "ParquetSource",
    "Registered",
    "SqlSource",
    "SqliteOnlineStore",
    "TrainingFrame",
    "load_definitions",
    "open_online_store",
]
