"""The inference service: follows the registry's deployments, routes each request, logs it.

A background thread polls the metadata database's change stamp (one indexed row) every
``poll_interval`` seconds. When it moves, the service re-reads the deployments and tokens, resolves
every ref (aliases included), loads and checks any version it does not hold yet, and only then
swaps in the new routing table in one assignment. Requests in flight keep the table they started
with, so the old version is released once they finish. A version that fails to load never gets
traffic: its endpoint keeps its previous routes, and the error is reported by :meth:`status`.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import threading
import time
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from weir.errors import DeploymentNotFoundError, ModelLoadError, NotFoundError, ServiceUnavailableError, WeirError
from weir.registry import Deployment, Deployments, ModelRegistry, Tokens
from weir.registry.tokens import TokenTable
from weir.serving.batching import MicroBatcher
from weir.serving.inputs import Table
from weir.serving.metrics import ServingMetrics
from weir.serving.prediction_logger import PredictionLogger
from weir.serving.routing import Splitter
from weir.serving.runtimes import Prediction
from weir.serving.served import ServedVersion, load_version

logger = logging.getLogger(__name__)

RETRY_FAILED_SECONDS = 30.0


@dataclass(frozen=True, eq=False)
class EndpointRoutes:
    """One endpoint's routing table, immutable: a change builds a new one."""

    deployment: Deployment
    primary: ServedVersion
    canary: ServedVersion | None
    shadows: tuple[tuple[ServedVersion, float], ...]
    splitter: Splitter
    batchers: Mapping[int, MicroBatcher] = field(default_factory=dict)
    """Micro-batchers by version number, when the deployment asks for batching."""

    def versions(self) -> list[tuple[str, ServedVersion]]:
        out = [("primary", self.primary)]
        if self.canary is not None:
            out.append(("canary", self.canary))
        return out + [("shadow", s) for s, _ in self.shadows]

    def pinned(self, number: int) -> tuple[str, ServedVersion]:
        for route, served in self.versions():
            if served.number == number:
                return route, served
        served_numbers = ", ".join(str(s.number) for _, s in self.versions())
        raise NotFoundError(
            f"Endpoint {self.deployment.endpoint!r} does not serve version {number}; it serves {served_numbers}."
        )


@dataclass(frozen=True, eq=False)
class Outcome:
    request_id: str
    endpoint: str
    route: str
    served: ServedVersion
    prediction: Prediction


class InferenceService:
    """Everything a worker needs to answer predictions; framework-free (the HTTP layer wraps it)."""

    def __init__(
        self,
        registry: ModelRegistry,
        deployments: Deployments,
        tokens: Tokens,
        *,
        predictions: PredictionLogger | None = None,
        metrics: ServingMetrics | None = None,
        poll_interval: float = 0.5,
        threads: int = 1,
        shadow_queue: int = 1000,
        endpoints: Collection[str] | None = None,
    ) -> None:
        self.registry = registry
        self.deployments = deployments
        self.tokens = tokens
        self.predictions = predictions
        self.metrics = metrics or ServingMetrics()
        self.poll_interval = poll_interval
        self.threads = threads
        self.shadow_queue = shadow_queue
        self.only = frozenset(endpoints) if endpoints is not None else None
        """Serve only these endpoints (an elastic engine runs one endpoint per group of replicas); all if None."""
        self.routes: Mapping[str, EndpointRoutes] = {}
        self.token_table = TokenTable({})
        self.errors: dict[str, str] = {}
        self.stamp: int | None = None
        self._pool: dict[tuple[str, int], ServedVersion] = {}
        self._failed: dict[tuple[str, int], tuple[float, str]] = {}
        self._shadow_pool = ThreadPoolExecutor(1, thread_name_prefix="weir-shadow")
        self._shadow_pending = 0
        self._shadow_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._refresh_lock = threading.Lock()
        self._refreshed = False
        self._loaded_now: set[tuple[str, int]] = set()
        self._id_prefix = secrets.token_hex(6)  # request ids: unique per process, then a counter (no syscall)
        self._ids = itertools.count(1)

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> InferenceService:
        """Load every deployment now, then follow changes in the background."""
        self.refresh()
        self._thread = threading.Thread(target=self._follow, name="weir-follow-registry", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._shadow_pool.shutdown(wait=True)
        if self.predictions is not None:
            self.predictions.close()

    def _follow(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self.refresh()
            except Exception:  # the database may be briefly away: keep serving what we have
                logger.exception("following the registry failed; serving the last known deployments")

    # --- following the registry ------------------------------------------------------------------

    def refresh(self) -> bool:
        """Apply registry changes; returns whether anything was re-read."""
        with self._refresh_lock:
            stamp = self.registry.db.change_stamp()
            if stamp == self.stamp:
                return False
            deployments = [
                d for d in self.deployments.list_deployments() if self.only is None or d.endpoint in self.only
            ]
            self.token_table = self.tokens.table()  # before any slow load: a revocation applies at once
            routes: dict[str, EndpointRoutes] = {}
            errors: dict[str, str] = {}
            self._loaded_now = set()
            for deployment in deployments:
                try:
                    routes[deployment.endpoint] = self._routes(deployment)
                except WeirError as exc:
                    errors[deployment.endpoint] = exc.message
                    old = self.routes.get(deployment.endpoint)
                    if self.errors.get(deployment.endpoint) != exc.message:  # log each distinct failure once
                        logger.error(
                            "endpoint %s: %s; %s",
                            deployment.endpoint,
                            exc.message,
                            "keeping its previous routes" if old else "it has no routes yet",
                        )
                    if old is not None:
                        routes[deployment.endpoint] = old
            self.routes = routes
            self.errors = errors
            # versions loaded for a configuration that failed elsewhere stay, so the retry does not reload them
            in_use = {s.key for r in routes.values() for _, s in r.versions()} | self._loaded_now
            for key in set(self._pool) - in_use:
                logger.info("released %s/%d", *key)
                del self._pool[key]
            self.metrics.loaded.set(len(self._pool))
            self.stamp = None if errors else stamp  # keep retrying while something failed
            self._refreshed = True
            return True

    def _routes(self, deployment: Deployment) -> EndpointRoutes:
        resolved = self.registry.resolve_versions(deployment.refs())
        served = {ref: self._served(version) for ref, version in resolved.items()}
        old = self.routes.get(deployment.endpoint)
        if (
            old is not None
            and old.deployment.revision == deployment.revision
            and [s.key for _, s in old.versions()] == [s.key for s in served.values()]
        ):
            return old  # nothing changed for this endpoint: keep its table (and its batchers' queues)
        options = deployment.options
        batchers = {}
        if int(options.get("max_batch_size", 1)) > 1:
            for version in served.values():
                if version.inputs.numeric:  # fixed-width matrices only
                    batchers[version.number] = MicroBatcher(
                        version.runtime,
                        max_size=int(options["max_batch_size"]),
                        max_wait_ms=float(options.get("max_batch_wait_ms", 2.0)),
                    )
        return EndpointRoutes(
            deployment,
            served[deployment.primary],
            served[deployment.canary] if deployment.canary else None,
            tuple((served[s.ref], s.percent) for s in deployment.shadows),
            old.splitter if old is not None else Splitter(deployment.endpoint),
            batchers,
        )

    def _served(self, version: Any) -> ServedVersion:
        key = (version.model, version.version)
        self._loaded_now.add(key)
        if key in self._pool:
            return self._pool[key]
        failed = self._failed.get(key)
        if failed is not None and time.monotonic() - failed[0] < RETRY_FAILED_SECONDS:
            raise ModelLoadError(failed[1])
        try:
            served = load_version(self.registry, version, threads=self.threads)
        except ModelLoadError as exc:
            self._loaded_now.discard(key)
            self._failed[key] = (time.monotonic(), exc.message)
            raise
        self._failed.pop(key, None)
        self._pool[key] = served
        return served

    # --- answering -------------------------------------------------------------------------------

    def endpoint(self, name: str) -> EndpointRoutes:
        routes = self.routes.get(name)
        if routes is not None:
            return routes
        if name in self.errors:
            raise ServiceUnavailableError(
                f"Endpoint {name!r} is not ready: its versions failed to load (details in /v1/status and the log)."
            )
        known = ", ".join(sorted(self.routes)) or "none"
        raise DeploymentNotFoundError(f"No endpoint {name!r} is served here (endpoints: {known}).")

    def predict(
        self,
        endpoint: str,
        data: Table | np.ndarray[Any, Any],
        *,
        route_key: str | None = None,
        request_id: str | None = None,
        version: int | None = None,
        protocol: str = "json",
    ) -> Outcome:
        routes, route, served, start = self._route(endpoint, route_key, version)
        try:
            model_input = served.inputs.build(data)
            prediction = served.runtime.predict(model_input)
        except Exception as exc:
            self._log_failure(routes, route, served, data, start, request_id, exc)
            raise
        return self._after(routes, route, served, data, model_input, prediction, start, request_id, protocol)

    async def predict_async(
        self,
        endpoint: str,
        data: Table | np.ndarray[Any, Any],
        *,
        route_key: str | None = None,
        request_id: str | None = None,
        version: int | None = None,
        protocol: str = "json",
    ) -> Outcome:
        """:meth:`predict`, micro-batched with concurrent requests when the deployment asks for it
        (options ``max_batch_size`` > 1 and ``max_batch_wait_ms``) and the input is a numeric matrix."""
        routes, route, served, start = self._route(endpoint, route_key, version)
        try:
            model_input = served.inputs.build(data)
            batcher = routes.batchers.get(served.number)
            if batcher is not None and isinstance(model_input, np.ndarray) and model_input.ndim == 2:
                prediction = await batcher.predict(model_input)
            else:
                prediction = served.runtime.predict(model_input)
        except Exception as exc:
            self._log_failure(routes, route, served, data, start, request_id, exc)
            raise
        return self._after(routes, route, served, data, model_input, prediction, start, request_id, protocol)

    def _route(
        self, endpoint: str, route_key: str | None, version: int | None
    ) -> tuple[EndpointRoutes, str, ServedVersion, float]:
        """Pick the route: a pinned version, the sticky canary or the primary."""
        routes = self.endpoint(endpoint)
        if version is not None:
            route, served = routes.pinned(version)
        elif routes.canary is not None and routes.splitter.to_canary(routes.deployment.canary_weight, route_key):
            route, served = "canary", routes.canary
        else:
            route, served = "primary", routes.primary
        return routes, route, served, time.perf_counter()

    def _log_failure(
        self,
        routes: EndpointRoutes,
        route: str,
        served: ServedVersion,
        data: Table | np.ndarray[Any, Any],
        start: float,
        rid: str | None,
        exc: Exception,
    ) -> None:
        """A version that could not answer is logged as a row with ``output.error`` (what rollouts count).
        Input the primary rejects too is the caller's error, not the version's: it is not logged."""
        seconds = time.perf_counter() - start
        if self.predictions is None or (isinstance(exc, WeirError) and self._primary_rejects(routes, data)):
            return
        sample = routes.deployment.options.get("log_sample", 1.0)
        if sample >= 1 or routes.splitter.random.random() < sample:
            rid = rid or f"{self._id_prefix}-{next(self._ids)}"
            self.predictions.add_error(rid, routes.deployment.endpoint, served, route, exc, seconds)

    @staticmethod
    def _primary_rejects(routes: EndpointRoutes, data: Table | np.ndarray[Any, Any]) -> bool:
        try:
            routes.primary.inputs.build(data)
        except Exception:
            return True
        return False

    def _after(
        self,
        routes: EndpointRoutes,
        route: str,
        served: ServedVersion,
        data: Table | np.ndarray[Any, Any],
        model_input: Any,
        prediction: Prediction,
        start: float,
        request_id: str | None,
        protocol: str,
    ) -> Outcome:
        """Metrics, the prediction log and shadows: everything after the answer is known."""
        seconds = time.perf_counter() - start
        endpoint = routes.deployment.endpoint
        rid = request_id or f"{self._id_prefix}-{next(self._ids)}"
        metrics = self.metrics.for_route(endpoint, served.model, served.number, route, protocol)
        metrics.requests.inc()
        metrics.rows.inc(len(prediction.predictions))
        sample = routes.deployment.options.get("log_sample", 1.0)
        logged = self.predictions is not None and (sample >= 1 or routes.splitter.random.random() < sample)
        if logged:
            assert self.predictions is not None
            self.predictions.add(rid, endpoint, served, route, model_input, prediction, seconds)
        for shadow, percent in routes.shadows:
            if shadow is not served and routes.splitter.mirror(percent):
                self._shadow(endpoint, shadow, data, rid, logged)
        return Outcome(rid, endpoint, route, served, prediction)

    def _shadow(
        self, endpoint: str, served: ServedVersion, data: Table | np.ndarray[Any, Any], rid: str, log: bool
    ) -> None:
        with self._shadow_lock:
            if self._shadow_pending >= self.shadow_queue:
                self.metrics.shadow_dropped.labels(endpoint).inc()
                return
            self._shadow_pending += 1
        self._shadow_pool.submit(self._run_shadow, endpoint, served, data, rid, log)

    def _run_shadow(
        self, endpoint: str, served: ServedVersion, data: Table | np.ndarray[Any, Any], rid: str, log: bool
    ) -> None:
        try:
            start = time.perf_counter()
            model_input = served.inputs.build(data)
            prediction = served.runtime.predict(model_input)
            if log and self.predictions is not None:
                self.predictions.add(
                    rid, endpoint, served, "shadow", model_input, prediction, time.perf_counter() - start
                )
        except Exception as exc:  # a shadow's failure is the shadow's business, never the caller's
            self.metrics.shadow_errors.labels(endpoint, served.model, str(served.number)).inc()
            if log and self.predictions is not None:  # the primary answered this input: the failure is the shadow's
                self.predictions.add_error(rid, endpoint, served, "shadow", exc, time.perf_counter() - start)
            logger.warning("shadow %s on %s failed for request %s: %s", served.version.ref, endpoint, rid, exc)
        finally:
            with self._shadow_lock:
                self._shadow_pending -= 1

    def feedback(self, endpoint: str, labels: list[tuple[str, Any]]) -> int:
        """Record ground truth by request id in the prediction log."""
        self.endpoint(endpoint)
        if self.predictions is None:
            raise ServiceUnavailableError("This server does not keep a prediction log, so it cannot take labels.")
        return self.predictions.log.append_labels(endpoint, labels)

    # --- health ----------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Every deployment has routes (its versions loaded and checked)."""
        return self._refreshed and all(name in self.routes for name in self.errors)

    def status(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "endpoints": {
                name: {
                    "revision": r.deployment.revision,
                    "canary_weight": r.deployment.canary_weight,
                    "routes": [{"route": route, **s.describe()} for route, s in r.versions()],
                }
                for name, r in sorted(self.routes.items())
            },
            "errors": dict(self.errors),
        }
