"""Traffic figures of an endpoint from the prediction log: requests, error rate and p99 latency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from weir.store import PredictionLog


@dataclass(frozen=True)
class Traffic:
    requests: int
    per_minute: float
    error_rate: float | None
    p99_ms: float | None


def traffic(log: PredictionLog, endpoint: str, *, hours: float = 1.0, now: datetime | None = None) -> Traffic:
    """Rows logged for ``endpoint`` in the last ``hours`` (sampled logs count what they kept): all rows are
    counted, and only the latencies of the answered ones are read."""
    now = now or datetime.now(UTC)
    if endpoint not in log.endpoints():
        return Traffic(0, 0.0, None, None)
    start = now - timedelta(hours=hours)
    total = log.count(endpoint, start=start, end=now)
    if not total:
        return Traffic(0, 0.0, None, None)
    ok = log.read(endpoint, start=start, end=now, columns=["latency_ms"], failed=False)["latency_ms"].to_numpy(float)
    return Traffic(
        total,
        total / (hours * 60),
        (total - len(ok)) / total,
        float(np.percentile(ok, 99)) if len(ok) else None,
    )
