"""Per-feature statistics of a training frame: the reference profile monitoring compares against.

Numeric features: count, nulls, mean, std, min, max, quantiles and a 20-bin histogram. Other
features: count, nulls, distinct values and the 10 most frequent.

>>> import pyarrow as pa
>>> p = profile_table(pa.table({"x": [1.0, 2.0, None, 4.0]}), ["x"])
>>> p["x"]["count"], p["x"]["nulls"], p["x"]["quantiles"]["0.5"]
(3, 1, 2.0)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from weir.types import JSONDict

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
BINS = 20
TOP = 10


def profile_table(table: pa.Table, columns: Sequence[str]) -> JSONDict:
    """Columns are profiled in parallel (numpy and Arrow release the GIL)."""
    with ThreadPoolExecutor(max_workers=min(len(columns), os.cpu_count() or 1) or 1) as pool:
        return dict(zip(columns, pool.map(lambda name: profile_column(table[name]), columns), strict=True))


def profile_column(column: pa.ChunkedArray) -> JSONDict:
    nulls = column.null_count
    kind = column.type
    out: JSONDict = {"type": str(kind), "count": len(column) - nulls, "nulls": nulls}
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        values = column.drop_null().to_numpy().astype(np.float64)
        values = values[np.isfinite(values)]
        if values.size:
            low, high = float(values.min()), float(values.max())
            width = (high - low) / BINS or 1.0
            bins = np.minimum(((values - low) / width).astype(np.int64), BINS - 1)
            counts = np.bincount(bins, minlength=BINS)
            edges = low + width * np.arange(BINS + 1)
            out.update(
                mean=float(values.mean()),
                std=float(values.std()),
                min=low,
                max=high,
                quantiles={str(p): float(v) for p, v in zip(QUANTILES, np.quantile(values, QUANTILES), strict=True)},
                histogram={"edges": edges.tolist(), "counts": counts.tolist()},
            )
        return out
    counted = pc.value_counts(column.drop_null()) if len(column) > nulls else pa.array([], pa.struct([]))
    pairs: list[tuple[Any, int]] = sorted(
        ((str(v["values"]), int(v["counts"])) for v in counted.to_pylist()), key=lambda p: (-p[1], p[0])
    )
    out.update(distinct=len(pairs), top=[{"value": v, "count": c} for v, c in pairs[:TOP]])
    return out
