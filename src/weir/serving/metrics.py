"""Prometheus metrics of the inference server: requests, errors and latency by endpoint, version, route.

With several worker processes, prometheus_client's ``PROMETHEUS_MULTIPROC_DIR`` must be set before
the workers start (``weir serve`` does) and the same folder given here: every worker writes its
samples there and ``/metrics`` sums them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class RouteMetrics(NamedTuple):
    requests: Any
    rows: Any
    latency: Any


class ServingMetrics:
    def __init__(self, multiprocess_dir: str | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        self._routes: dict[tuple[str, str, int, str, str], RouteMetrics] = {}
        self.registry = CollectorRegistry()
        labels = ("endpoint", "model", "version", "route")
        self.requests = Counter("weir_requests", "Predictions answered.", (*labels, "protocol"), registry=self.registry)
        self.latency = Histogram(
            "weir_request_latency_seconds",
            "Time from request to response, parsing included.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rows = Counter("weir_rows", "Rows predicted.", labels, registry=self.registry)
        self.errors = Counter(
            "weir_request_errors", "Requests answered with an error.", ("endpoint", "code"), registry=self.registry
        )
        self.shadow_errors = Counter(
            "weir_shadow_errors",
            "Shadow predictions that failed (callers never see them).",
            ("endpoint", "model", "version"),
            registry=self.registry,
        )
        self.shadow_dropped = Counter(
            "weir_shadow_dropped",
            "Shadow requests skipped because the shadow queue was full.",
            ("endpoint",),
            registry=self.registry,
        )
        self.loaded = Gauge(
            "weir_versions_loaded",
            "Model versions loaded in this worker.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )

    def for_route(self, endpoint: str, model: str, version: int, route: str, protocol: str) -> RouteMetrics:
        """The children of one label set, cached: ``labels()`` costs microseconds on every request."""
        key = (endpoint, model, version, route, protocol)
        found = self._routes.get(key)
        if found is None:
            labels = (endpoint, model, str(version), route)
            found = self._routes[key] = RouteMetrics(
                self.requests.labels(*labels, protocol), self.rows.labels(*labels), self.latency.labels(*labels)
            )
        return found

    def render(self) -> tuple[bytes, str]:
        """The exposition text (summed over workers in multiprocess mode) and its content type."""
        if self.multiprocess_dir:
            registry = CollectorRegistry()
            prometheus_multiprocess.MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
