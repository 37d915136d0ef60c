"""Traffic figures of an endpoint from the prediction log: request rate, error rate and p99 latency of the
requests answered to callers (primary and canary). Shadow predictions are copies of those requests, so they
are counted per route but not as requests.

>>> import pandas as pd
>>> rows = pd.DataFrame({"route": ["primary", "primary", "canary", "shadow"],
...                      "latency_ms": [2.0, 4.0, 8.0, 90.0], "failed": [False, True, False, False]})
>>> t = figures(rows, hours=1.0)
>>> (t.requests, round(t.error_rate, 3), round(t.p99_ms, 2), t.routes)
(3, 0.333, 7.94, {'canary': 1, 'primary': 2, 'shadow': 1})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from weir.store import PredictionLog

SHADOW = "shadow"


@dataclass(frozen=True)
class Traffic:
    requests: int  # answered to callers: primary and canary
    per_minute: float
    error_rate: float | None
    p99_ms: float | None  # of the requests answered without an error
    routes: dict[str, int] = field(default_factory=dict)  # predictions logged per route, shadow included


def traffic(log: PredictionLog, endpoint: str, *, hours: float = 1.0, now: datetime | None = None) -> Traffic:
    """Rows logged for ``endpoint`` in the last ``hours`` (sampled logs count what they kept), read in one scan."""
    now = now or datetime.now(UTC)
    return figures(log.requests(endpoint, start=now - timedelta(hours=hours), end=now), hours=hours)


def figures(rows: pd.DataFrame, *, hours: float) -> Traffic:
    """The figures of ``rows`` (``route``, ``latency_ms``, ``failed``) logged over ``hours``."""
    routes = {str(k): int(v) for k, v in sorted(rows["route"].value_counts().items())}
    served = rows[rows["route"] != SHADOW]
    total = len(served)
    if not total:
        return Traffic(0, 0.0, None, None, routes)
    failed = served["failed"].to_numpy(bool)
    ok = served["latency_ms"].to_numpy(float)[~failed]
    return Traffic(
        total,
        total / (hours * 60),
        float(failed.sum()) / total,
        float(np.percentile(ok, 99)) if len(ok) else None,
        routes,
    )
