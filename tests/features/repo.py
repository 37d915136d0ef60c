"""A small feature repository written to a folder: driver data (Parquet) and a definitions file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

DEFINITIONS = """
from datetime import timedelta
from weir.features import Entity, FeatureService, FeatureView, ParquetSource

driver = Entity("driver", join_keys={"driver_id": "int64"}, description="A driver")
driver_stats = FeatureView(
    "driver_stats",
    entities=[driver],
    source=ParquetSource("driver_stats.parquet"),
    event_time="event_timestamp",
    created_time="created",
    fields=FIELDS,
    ttl=timedelta(days=TTL_DAYS),
)
driver_service = FeatureService("driver_service", features=[SERVICE_FEATURES])
"""


def write_data(folder: Path) -> pd.DataFrame:
    """Three drivers; driver 1 has two rows (the newer wins online), driver 3 is very old."""
    frame = pd.DataFrame(
        {
            "driver_id": [1, 1, 2, 3],
            "event_timestamp": pd.to_datetime(
                ["2026-11-01T00:00", "2026-11-02T00:00", "2026-11-01T12:00", "2020-01-01T00:00"], utc=True
            ),
            "created": pd.to_datetime(["2026-11-01", "2026-11-02", "2026-11-02", "2020-01-01"], utc=True),
            "conv_rate": [0.1, 0.2, 0.5, 0.9],
            "trips": [10, 20, 50, 90],
        }
    )
    frame.to_parquet(folder / "driver_stats.parquet", index=False)
    return frame


def write_repo(
    folder: Path,
    *,
    fields: str = '{"conv_rate": "float64", "trips": "int64"}',
    ttl_days: int = 0,
    service_features: str = '"driver_stats:conv_rate", "driver_stats:trips"',
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "driver_stats.parquet").exists():
        write_data(folder)
    path = folder / "features.py"
    text = (
        DEFINITIONS.replace("FIELDS", fields)
        .replace("TTL_DAYS", str(ttl_days))
        .replace("SERVICE_FEATURES", service_features)
    )
    path.write_text(text)
    return path
