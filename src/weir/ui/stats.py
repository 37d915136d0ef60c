"""Traffic figures of an endpoint from the prediction log: requests, error rate and p99 latency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from weir.store import PredictionLog
from weir.store.prediction_log import ERROR


@dataclass(frozen=True)
class Traffic:
    requests: int
    per_minute: float
    error_rate: float | None
    p99_ms: float | None


def traffic(log: PredictionLog, endpoint: str, *, hours: float = 1.0, now: datetime | None = None) -> Traffic:
    """Rows logged for ``endpoint`` in the last ``hours`` (sampled logs count what they kept)."""
    now = now or datetime.now(UTC)
    if endpoint not in log.endpoints():
        return Traffic(0, 0.0, None, None)
    frame = log.read(endpoint, start=now - timedelta(hours=hours), end=now)
    if frame.empty:
        return Traffic(0, 0.0, None, None)
    failed = frame[ERROR].notna() if ERROR in frame else np.zeros(len(frame), dtype=bool)
    ok = frame.loc[~np.asarray(failed), "latency_ms"].to_numpy(float)
    return Traffic(
        len(frame),
        len(frame) / (hours * 60),
        float(np.mean(failed)),
        float(np.percentile(ok, 99)) if len(ok) else None,
    )
