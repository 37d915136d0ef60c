"""What the feature store hands back: training frames and online feature values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa

from weir.types import JSONDict

PRESENT, NOT_FOUND, OUTSIDE_MAX_AGE = "PRESENT", "NOT_FOUND", "OUTSIDE_MAX_AGE"


@dataclass(frozen=True)
class TrainingFrame:
    """One row per entity row, in input order, with the features; plus what the registry records.

    Pass ``**frame.lineage()`` to :meth:`weir.registry.ModelRegistry.register` to record the frame's
    fingerprint and feature service as the model's lineage.
    """

    table: pa.Table
    fingerprint: str
    features: list[str]
    profile: JSONDict
    feature_service: str | None = None
    feature_service_version: int | None = None

    def to_pandas(self) -> pd.DataFrame:
        frame: pd.DataFrame = self.table.to_pandas()
        return frame

    def to_arrow(self) -> pa.Table:
        return self.table

    def lineage(self) -> JSONDict:
        return {
            "data_fingerprint": self.fingerprint,
            "feature_service": self.feature_service,
            "feature_service_version": self.feature_service_version,
        }

    def __len__(self) -> int:
        return int(self.table.num_rows)


@dataclass
class OnlineFeatures:
    """Columnar values for the requested entities: ``values[name][i]`` for entity ``i``, with a status
    per value (``PRESENT``, ``NOT_FOUND``, or ``OUTSIDE_MAX_AGE`` when older than the view's ttl: the
    value is then None) and the event time it was observed at (µs since the epoch, UTC)."""

    values: dict[str, list[Any]] = field(default_factory=dict)
    statuses: dict[str, list[str]] = field(default_factory=dict)
    event_us: dict[str, list[int | None]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, list[Any]]:
        return self.values

    def to_pandas(self) -> pd.DataFrame:
        return pd.DataFrame(self.values)

    def to_json(self) -> JSONDict:
        return {"features": self.values, "statuses": self.statuses, "event_timestamps_us": self.event_us}
