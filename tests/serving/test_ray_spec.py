"""What the Ray engine asks of Ray Serve, and how its replicas see paths (no cluster needed)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from weir.registry import Scaling
from weir.serving.ray_config import application_config, deployment_options, serve_config


def test_the_autoscaling_config_from_the_scaling_options() -> None:
    options = deployment_options(Scaling(min_replicas=3, max_replicas=3, replica_cpus=0.5))
    assert options["autoscaling_config"]["min_replicas"] == options["autoscaling_config"]["max_replicas"] == 3
    assert options["ray_actor_options"] == {"num_cpus": 0.5} and options["name"] == "weir"
    config = deployment_options(Scaling(min_replicas=0, max_replicas=4))["autoscaling_config"]
    assert (config["min_replicas"], config["max_replicas"], config["initial_replicas"]) == (0, 4, 1)
    assert (config["upscale_delay_s"], config["downscale_delay_s"], config["target_ongoing_requests"]) == (30, 600, 2)


def test_ray_accepts_the_config_and_a_scaling_change_is_not_a_code_change() -> None:
    """Ray replaces replicas only when an application's code version changes; scaling must not change it."""
    pytest.importorskip("ray.serve")
    from ray.serve._private.deploy_utils import get_app_code_version
    from ray.serve.schema import ServeDeploySchema

    def app(scaling: Scaling) -> Any:
        config = serve_config([application_config("churn", scaling, {"WEIR_HOME": "/srv"})], host="127.0.0.1", port=1)
        return ServeDeploySchema.model_validate(config).applications[0]

    one, four, two = app(Scaling()), app(Scaling(min_replicas=1, max_replicas=4)), app(Scaling(min_replicas=2))
    assert one.route_prefix == "/churn" and one.runtime_env == {"env_vars": {"WEIR_HOME": "/srv"}}
    assert get_app_code_version(one) == get_app_code_version(four) == get_app_code_version(two)


def test_the_route_prefix_is_taken_off_and_the_replica_named() -> None:
    ray_engine = pytest.importorskip("weir.ray_engine")
    seen: list[dict[str, Any]] = []
    sent: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope)
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"a", b"b")]})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    wrapped = ray_engine.WithoutPrefix(app, "r1")
    for path in ("/churn/v2/models/churn/infer", "/churn", "/other"):
        asyncio.run(wrapped({"type": "http", "path": path, "root_path": "/churn"}, None, send))
    asyncio.run(wrapped({"type": "lifespan"}, None, send))
    assert [(s.get("path"), s.get("root_path")) for s in seen] == [
        ("/v2/models/churn/infer", ""),
        ("/", ""),
        ("/other", "/churn"),
        (None, None),
    ]
    assert sent[0]["headers"] == [(b"a", b"b"), (b"x-weir-replica", b"r1")]
