"""Running weir's deployments on Ray Serve (``weir serve --engine ray``): one application per endpoint.

Each endpoint becomes a Ray Serve application at the route prefix ``/{endpoint}``. Every replica runs
the embedded server's own inference code for that one endpoint (``InferenceService`` behind the same
HTTP application), so routing (sticky canary, shadows), hot swap (each replica follows the registry's
change stamp), prediction logging, metrics and tokens are not implemented twice. Ray adds and removes
replicas with the load, within the deployment's :class:`~weir.registry.Scaling` options. On the Ray
HTTP proxy the paths are the embedded server's, under the prefix::

    POST /churn/v2/models/churn/infer      Open Inference Protocol V2
    POST /churn/invocations                MLflow (the application serves exactly one endpoint)
    GET  /churn/v2/health/ready

This process is the driver: it watches the deployments, creates an application for a new endpoint,
updates one whose scaling changed (Ray rolls its replicas over, new ones up before old ones go), deletes one whose
deployment was deleted, and deletes its applications when it stops. The replicas receive the
settings (database URL included) as constructor arguments through Ray: run Ray where only trusted
code runs, as you would for the database itself.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

from ray import serve

from weir.config import Settings
from weir.errors import ConfigError
from weir.registry import Deployment, Scaling
from weir.server import check_exposure

if TYPE_CHECKING:
    from weir.app import Workspace

logger = logging.getLogger(__name__)

DEPLOYMENT_NAME = "weir"
"""The name of the one deployment in each of weir's applications: how the driver recognises its own."""

MAX_ONGOING_REQUESTS = 64
RETRY_FAILED_SECONDS = 30
AppBuilder = Callable[[Settings, str], Any]


@serve.ingress()
class WeirReplica:
    """One replica: the inference application of one endpoint, built on the replica by ``build``."""

    def __init__(self, build: AppBuilder, settings: Settings, endpoint: str) -> None:
        self.build = build
        self.settings = settings
        self.endpoint = endpoint

    def __serve_build_asgi_app__(self) -> Any:
        return WithoutPrefix(self.build(self.settings, self.endpoint))


class WithoutPrefix:
    """Ray's proxy passes the whole path with ``root_path`` set to the route prefix; weir's routes are
    written without it, so the prefix is taken off before they see the request."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        root = scope.get("root_path", "")
        if root and scope["type"] in ("http", "websocket") and scope["path"].startswith(root):
            scope = {**scope, "path": scope["path"][len(root) :] or "/", "root_path": ""}
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class AppSpec:
    """What a Ray application of one endpoint is made from; a change of it redeploys the application."""

    endpoint: str
    scaling: Scaling

    def deployment_options(self) -> dict[str, Any]:
        s = self.scaling
        options: dict[str, Any] = {
            "name": DEPLOYMENT_NAME,
            "ray_actor_options": {"num_cpus": s.replica_cpus},
            # Ray's router backs off (sleeps) when every replica is at this limit: that costs far more than
            # a queue in the replica, so the limit is high and the autoscaler's target does the balancing
            "max_ongoing_requests": max(MAX_ONGOING_REQUESTS, math.ceil(4 * s.target_ongoing_requests)),
            "graceful_shutdown_timeout_s": 20,
        }
        if s.elastic:
            options["autoscaling_config"] = {
                "min_replicas": s.min_replicas,
                "max_replicas": s.max_replicas,
                "initial_replicas": max(1, s.min_replicas),
                "target_ongoing_requests": s.target_ongoing_requests,
                "upscale_delay_s": s.upscale_delay_s,
                "downscale_delay_s": s.downscale_delay_s,
            }
        else:
            options["num_replicas"] = s.min_replicas
        return options


def app_spec(deployment: Deployment) -> AppSpec:
    return AppSpec(deployment.endpoint, Scaling.from_options(deployment.options, endpoint=deployment.endpoint))


def application(build: AppBuilder, settings: Settings, spec: AppSpec) -> Any:
    """The Ray Serve application of one endpoint (what ``serve.run`` or a RayService's config deploys)."""
    return serve.deployment(**spec.deployment_options())(WeirReplica).bind(build, settings, spec.endpoint)


class RayEngine:
    """The driver of ``weir serve --engine ray`` (see the module's documentation)."""

    def __init__(
        self, ws: Workspace, build: AppBuilder, *, address: str | None = None, poll_interval: float = 1.0
    ) -> None:
        self.ws = ws
        self.build = build
        self.address = address
        self.poll_interval = poll_interval
        self.deployed: dict[str, AppSpec] = {}
        self.failed: dict[str, tuple[AppSpec, float]] = {}
        self._replicas: dict[str, dict[str, int]] = {}
        self._stop = threading.Event()

    def run(self, *, allow_unauthenticated: bool = False) -> None:
        """Connect (or start a local Ray), deploy every endpoint, follow changes until interrupted."""
        check_exposure(self.ws, allow_unauthenticated)
        self.start()
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            while True:
                try:
                    self.sync()
                except Exception:  # the database or Ray may be briefly away: the applications keep serving
                    logger.exception("following the deployments failed; Ray keeps serving the last ones applied")
                if self._stop.wait(self.poll_interval):
                    break
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            self.stop()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        logger.info("stopping: deleting weir's Ray Serve applications")
        self._stop.set()

    def start(self) -> None:
        import ray

        settings = self.ws.settings
        try:
            ray.init(address=self.address, namespace="weir", include_dashboard=False, logging_level=logging.WARNING)
        except ConnectionError as exc:
            raise ConfigError(
                f"Cannot reach the Ray cluster at {self.address}: {exc}. Start one (`ray start --head`) "
                "or leave out --address to run a local one."
            ) from exc
        serve.start(
            http_options={"host": settings.host, "port": settings.port},
            logging_config={"enable_access_log": False, "log_level": settings.log_level},
        )
        running = serve.status().applications
        for name, app in running.items():  # applications left by an earlier driver of this cluster
            if DEPLOYMENT_NAME in app.deployments and name not in self.deployed:
                self.deployed[name] = AppSpec(name, Scaling(max_replicas=0))  # redeployed at once
        logger.info(
            "Ray Serve on %s, HTTP on %s:%d; endpoints at http://%s:%d/{endpoint}/",
            self.address or "a local Ray",
            settings.host,
            settings.port,
            settings.host,
            settings.port,
        )

    def sync(self) -> list[str]:
        """Bring the Ray applications in line with the deployments; returns what changed."""
        changed = []
        wanted = {d.endpoint: d for d in self.ws.deployments.list_deployments()}
        for endpoint, deployment in wanted.items():
            spec = app_spec(deployment)
            failed = self.failed.get(endpoint)
            if self.deployed.get(endpoint) == spec or (
                failed is not None and failed[0] == spec and time.monotonic() - failed[1] < RETRY_FAILED_SECONDS
            ):
                continue
            if self.deploy(spec):
                changed.append(f"deployed {endpoint}")
        for endpoint in sorted(set(self.deployed) - set(wanted)):
            serve.delete(endpoint)
            del self.deployed[endpoint]
            self._replicas.pop(endpoint, None)
            logger.info("deleted the application of %s (its deployment is gone)", endpoint)
            changed.append(f"deleted {endpoint}")
        self._report_replicas()
        return changed

    def deploy(self, spec: AppSpec) -> bool:
        try:
            serve.run(
                application(self.build, self.ws.settings, spec),
                name=spec.endpoint,
                route_prefix=f"/{spec.endpoint}",
                logging_config={"enable_access_log": False, "log_level": self.ws.settings.log_level},
            )
        except Exception as exc:  # Ray reports a failed deployment as a RuntimeError with the replica's error
            self.failed[spec.endpoint] = (spec, time.monotonic())
            logger.error(
                "endpoint %s could not be deployed on Ray (retried in %d s, or on its next change): %s",
                spec.endpoint,
                RETRY_FAILED_SECONDS,
                exc,
            )
            return False
        self.failed.pop(spec.endpoint, None)
        self.deployed[spec.endpoint] = spec
        logger.info("endpoint %s on Ray Serve at /%s: %s", spec.endpoint, spec.endpoint, spec.scaling.describe())
        return True

    def replicas(self) -> dict[str, dict[str, int]]:
        """Replica states of weir's applications, by endpoint (``{"RUNNING": 2}``)."""
        out = {}
        for name, app in serve.status().applications.items():
            if name in self.deployed and DEPLOYMENT_NAME in app.deployments:
                states = app.deployments[DEPLOYMENT_NAME].replica_states
                out[name] = {str(getattr(k, "value", k)): v for k, v in states.items()}
        return out

    def _report_replicas(self) -> None:
        now = self.replicas()
        for endpoint, states in now.items():
            if self._replicas.get(endpoint) != states:
                logger.info("endpoint %s replicas: %s", endpoint, ", ".join(f"{n} {s}" for s, n in states.items()))
        self._replicas = now

    def stop(self) -> None:
        import ray

        for endpoint in list(self.deployed):
            try:
                serve.delete(endpoint)
            except Exception as exc:  # the cluster may be gone already
                logger.warning("could not delete the application of %s: %s", endpoint, exc)
        self.deployed.clear()
        ray.shutdown()
