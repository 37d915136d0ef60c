"""Ray Serve's declarative configuration for weir's endpoints (plain data: no Ray import here).

One application per endpoint, at the route prefix ``/{endpoint}``, built by ``weir.app:ray_application``
with ``args: {endpoint: …}``. Its one deployment, ``weir``, carries the endpoint's
:class:`~weir.registry.Scaling` as Ray options. The same shape is deployed by ``weir serve --engine ray``
and written into a KubeRay RayService by ``weir k8s render --engine ray``. Ray tells a code change (the
import path, its arguments, the runtime environment: replicas are replaced) from a configuration change
(replica counts, autoscaling: applied to the running replicas), so a scaling change restarts nothing.

>>> app = application_config("churn", Scaling(min_replicas=1, max_replicas=4))
>>> app["route_prefix"], app["args"], app["deployments"][0]["autoscaling_config"]["max_replicas"]
('/churn', {'endpoint': 'churn'}, 4)
"""

from __future__ import annotations

import math
from typing import Any

from weir.registry.scaling import Scaling

BUILDER = "weir.app:ray_application"
DEPLOYMENT_NAME = "weir"
"""The name of the one deployment in each of weir's applications."""
MAX_ONGOING_REQUESTS = 64


def deployment_options(scaling: Scaling) -> dict[str, Any]:
    """Ray's options for an endpoint's deployment (``@serve.deployment`` keywords, and config fields)."""
    options: dict[str, Any] = {
        "name": DEPLOYMENT_NAME,
        "ray_actor_options": {"num_cpus": scaling.replica_cpus},
        # Ray's router backs off (sleeps) when every replica is at this limit: that costs far more than a
        # queue in the replica, so the limit is high and the autoscaler's target does the balancing
        "max_ongoing_requests": max(MAX_ONGOING_REQUESTS, math.ceil(4 * scaling.target_ongoing_requests)),
        "graceful_shutdown_timeout_s": 20,
    }
    # always an autoscaling config (a fixed count is min = max): Ray counts a switch between a fixed count and
    # autoscaling as a code change, which would replace the replicas
    options["autoscaling_config"] = {
        "min_replicas": scaling.min_replicas,
        "max_replicas": scaling.max_replicas,
        "initial_replicas": max(1, scaling.min_replicas),
        "target_ongoing_requests": scaling.target_ongoing_requests,
        "upscale_delay_s": scaling.upscale_delay_s,
        "downscale_delay_s": scaling.downscale_delay_s,
    }
    return options


def application_config(
    endpoint: str, scaling: Scaling | None = None, environment: dict[str, str] | None = None
) -> dict[str, Any]:
    """One endpoint's application; ``scaling`` as configuration overrides, ``environment`` for its processes."""
    app: dict[str, Any] = {
        "name": endpoint,
        "route_prefix": f"/{endpoint}",
        "import_path": BUILDER,
        "args": {"endpoint": endpoint},
    }
    if environment:
        app["runtime_env"] = {"env_vars": dict(environment)}
    if scaling is not None:
        app["deployments"] = [deployment_options(scaling)]
    return app


def serve_config(
    applications: list[dict[str, Any]], *, host: str, port: int, log_level: str = "INFO"
) -> dict[str, Any]:
    """The whole Serve configuration (the schema of ``serve deploy``)."""
    return {
        "http_options": {"host": host, "port": port},
        "logging_config": {"enable_access_log": False, "log_level": log_level},
        "applications": applications,
    }
