"""Data for the feature-store bench, generated with a seed (shared by weir's side and Feast's side).

Two feature views over 30 days, 1,000,000 feature rows in all (500,000 each), timestamps in whole
seconds (so equal event times occur and the created time decides), and an entity frame of 100,000
rows whose keys include ids that have no feature rows (their features must come back null):

- ``driver_stats.parquet``: ``driver_id`` (int64, 10,000 ids), ``event_timestamp``, ``created``
  (timestamps, UTC), 10 features ``f0`` … ``f9`` (float64, f9 int64); ttl 2 days.
- ``customer_stats.parquet``: ``customer_id`` (int64, 20,000 ids), ``event_timestamp``,
  ``created``, 5 features ``c0`` … ``c4`` (float64); ttl 7 days.
- ``entities.parquet``: ``driver_id`` (0 … 10,999), ``customer_id`` (0 … 20,999),
  ``event_timestamp``.

    .venv/bin/python bench/features_data.py DIR [--feature-rows 1000000] [--entity-rows 100000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

START = pd.Timestamp("2026-10-01", tz="UTC")
DAYS = 30
DRIVER_FEATURES = [f"f{i}" for i in range(10)]
CUSTOMER_FEATURES = [f"c{i}" for i in range(5)]
DRIVER_TTL_DAYS = 2
CUSTOMER_TTL_DAYS = 7


def _times(rng: np.random.Generator, n: int) -> pd.Series:
    seconds = rng.integers(0, DAYS * 86_400, size=n)
    return pd.Series(START + pd.to_timedelta(seconds, unit="s"))


def _view(rng: np.random.Generator, key: str, ids: int, n: int, features: list[str]) -> pd.DataFrame:
    event = _times(rng, n)
    frame = pd.DataFrame({key: rng.integers(0, ids, size=n, dtype=np.int64), "event_timestamp": event})
    frame["created"] = event + pd.to_timedelta(rng.integers(0, 3_600, size=n), unit="s")
    for name in features:
        frame[name] = rng.normal(size=n).round(6)
    if "f9" in features:
        frame["f9"] = rng.integers(0, 1_000, size=n, dtype=np.int64)
    return frame


def generate(folder: Path, *, feature_rows: int = 1_000_000, entity_rows: int = 100_000, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    half = feature_rows // 2
    _view(rng, "driver_id", 10_000, half, DRIVER_FEATURES).to_parquet(folder / "driver_stats.parquet", index=False)
    _view(rng, "customer_id", 20_000, half, CUSTOMER_FEATURES).to_parquet(
        folder / "customer_stats.parquet", index=False
    )
    entities = pd.DataFrame(
        {
            "driver_id": rng.integers(0, 11_000, size=entity_rows, dtype=np.int64),
            "customer_id": rng.integers(0, 21_000, size=entity_rows, dtype=np.int64),
            "event_timestamp": _times(rng, entity_rows),
        }
    )
    entities.to_parquet(folder / "entities.parquet", index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--feature-rows", type=int, default=1_000_000)
    parser.add_argument("--entity-rows", type=int, default=100_000)
    args = parser.parse_args()
    generate(args.folder, feature_rows=args.feature_rows, entity_rows=args.entity_rows)


if __name__ == "__main__":
    main()
