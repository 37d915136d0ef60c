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

This process is the driver. It owns the cluster's declarative Serve configuration
(:mod:`weir.serving.ray_config`) and re-applies it when the deployments change: Ray creates the
application of a new endpoint, applies a scaling change to the running replicas (a configuration
change: nothing restarts), deletes the application of a deleted endpoint, and leaves the others alone.
A new version, an alias move or a canary change is not the driver's business: the replicas follow the
registry themselves. When the driver stops it deletes its applications. The replicas read the
settings (database URL included) from their runtime environment, which Ray stores: enable Ray's token
authentication and run the cluster where only trusted code runs, as for the database itself.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from ray import serve

from weir.errors import ConfigError
from weir.registry import Deployment, Scaling
from weir.server import check_exposure
from weir.serving.ray_config import DEPLOYMENT_NAME, application_config, deployment_options, serve_config

if TYPE_CHECKING:
    from weir.app import Workspace

logger = logging.getLogger(__name__)

REPLICA_HEADER = b"x-weir-replica"
ERROR_LOG_INTERVAL = 60.0
AppBuilder = Callable[[str], Any]


@serve.ingress()
class WeirReplica:
    """One replica: the inference application of one endpoint, built on the replica by ``build``."""

    def __init__(self, build: AppBuilder, endpoint: str) -> None:
        self.build = build
        self.endpoint = endpoint

    def __serve_build_asgi_app__(self) -> Any:
        replica = serve.get_replica_context().replica_id.unique_id
        return WithoutPrefix(self.build(self.endpoint), replica)


class WithoutPrefix:
    """Ray's proxy passes the whole path with ``root_path`` set to the route prefix; weir's routes are
    written without it, so the prefix is taken off before they see the request. Each response names the
    replica that answered (``x-weir-replica``)."""

    def __init__(self, app: Any, replica: str = "") -> None:
        self.app = app
        self.header = (REPLICA_HEADER, replica.encode())

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        root = scope.get("root_path", "")
        if root and scope["path"].startswith(root):
            scope = {**scope, "path": scope["path"][len(root) :] or "/", "root_path": ""}

        async def named(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), self.header]}
            await send(message)

        await self.app(scope, receive, named)


def _client() -> Any:
    """Serve's controller client: the declarative ``deploy_apps`` that ``serve deploy`` uses has no
    public Python API yet (this is why the Ray extra is bounded to the versions tested)."""
    client = serve.context._get_global_client()
    if client is None:
        raise ConfigError("Ray Serve is not running on this cluster; `weir serve --engine ray` starts it.")
    return client


def application(build: AppBuilder, deployment: Deployment) -> Any:
    """The Ray Serve application of one endpoint, with its scaling as Ray options."""
    options = deployment_options(Scaling.from_options(deployment.options, endpoint=deployment.endpoint))
    return serve.deployment(**options)(WeirReplica).bind(build, deployment.endpoint)


class RayEngine:
    """The driver of ``weir serve --engine ray`` (see the module's documentation)."""

    def __init__(self, ws: Workspace, *, address: str | None = None, poll_interval: float = 1.0) -> None:
        self.ws = ws
        self.address = address
        self.poll_interval = poll_interval
        self.applied: dict[str, Any] | None = None
        self._statuses: dict[str, str] = {}
        self._stop = threading.Event()
        self._last_error = 0.0

    def run(self, *, allow_unauthenticated: bool = False) -> None:
        """Connect (or start a local Ray), deploy every endpoint, follow changes until interrupted."""
        check_exposure(self.ws, allow_unauthenticated)
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            while not self._stop.is_set():
                try:
                    self.sync()
                except Exception:  # the database or Ray may be briefly away: the applications keep serving
                    if time.monotonic() - self._last_error > ERROR_LOG_INTERVAL:
                        self._last_error = time.monotonic()
                        logger.exception("following the deployments failed; Ray keeps serving the last ones applied")
                self._stop.wait(self.poll_interval)
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
        try:  # "local" starts a Ray for this command, never attaching to one found on the machine
            address = self.address or "local"
            ray.init(address=address, namespace="weir", include_dashboard=False, logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError) as exc:
            raise ConfigError(
                f"Cannot use the Ray cluster at {self.address or 'local'}: {exc}. Check the address (`ray status`), "
                "and give this process the cluster's RAY_AUTH_TOKEN when it uses token authentication."
            ) from exc
        serve.start(
            http_options={"host": settings.host, "port": settings.port},
            logging_config={"enable_access_log": False, "log_level": settings.log_level},
        )
        http = _client().http_config
        if (http.host, http.port) != (settings.host, settings.port):
            raise ConfigError(
                f"Ray Serve already listens on {http.host}:{http.port} on this cluster, not {settings.host}:"
                f"{settings.port}: use those (--host, --port), or restart Serve (`serve shutdown`)."
            )
        logger.info(
            "Ray Serve on %s; endpoints at http://%s:%d/{endpoint}/",
            self.address or "a local Ray",
            settings.host,
            settings.port,
        )

    def config(self) -> dict[str, Any]:
        """The Serve configuration the deployments call for."""
        settings = self.ws.settings
        environment = settings.environment()
        applications = [
            application_config(d.endpoint, Scaling.from_options(d.options, endpoint=d.endpoint), environment)
            for d in self.ws.deployments.list_deployments()
        ]
        return serve_config(applications, host=settings.host, port=settings.port, log_level=settings.log_level)

    def sync(self) -> bool:
        """Apply the configuration if the deployments changed it (Ray does the rest); report statuses."""
        from ray.serve.schema import ServeDeploySchema

        config = self.config()
        changed = config != self.applied
        if changed:
            _client().deploy_apps(ServeDeploySchema.model_validate(config))
            before = {a["name"] for a in (self.applied or {}).get("applications", [])}
            now = {a["name"] for a in config["applications"]}
            logger.info(
                "applied the Serve config: %d endpoint(s)%s%s",
                len(now),
                f", new: {', '.join(sorted(now - before))}" if now - before else "",
                f", deleted: {', '.join(sorted(before - now))}" if before - now else "",
            )
            self.applied = config
        self._report()
        return changed

    def statuses(self) -> dict[str, dict[str, Any]]:
        """Each endpoint's application status and replica states, as Ray reports them."""
        out = {}
        names = {a["name"] for a in (self.applied or {}).get("applications", [])}
        for name, app in serve.status().applications.items():
            if name in names and DEPLOYMENT_NAME in app.deployments:
                states = app.deployments[DEPLOYMENT_NAME].replica_states
                out[name] = {
                    "status": str(getattr(app.status, "value", app.status)),
                    "message": app.message,
                    "replicas": {str(getattr(k, "value", k)): v for k, v in states.items()},
                }
        return out

    def _report(self) -> None:
        for endpoint, status in self.statuses().items():
            line = f"{status['status']}, replicas: {status['replicas']}"
            if self._statuses.get(endpoint) != line:
                failed = status["status"] == "DEPLOY_FAILED"
                logger.log(logging.ERROR if failed else logging.INFO, "endpoint %s: %s", endpoint, line)
                if failed:
                    logger.error("endpoint %s failed to deploy: %s", endpoint, status["message"])
                self._statuses[endpoint] = line

    def stop(self) -> None:
        import ray

        if not ray.is_initialized():
            return
        names = [a["name"] for a in (self.applied or {}).get("applications", [])]
        try:
            _client().delete_apps(names, blocking=True)
        except Exception as exc:  # the cluster may be gone already
            logger.warning("could not delete the applications %s: %s", names, exc)
        self.applied = None
        ray.shutdown()
