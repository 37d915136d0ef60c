"""What the Ray engine asks of Ray Serve, and how its replicas see paths (no cluster needed)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from weir.registry import Deployment

ray_engine = pytest.importorskip("weir.ray_engine")


def test_a_fixed_count_or_an_autoscaling_config_from_the_deployment_options() -> None:
    fixed = ray_engine.app_spec(Deployment("churn", "m/1", options={"min_replicas": 3, "replica_cpus": 0.5}))
    options = fixed.deployment_options()
    assert options["num_replicas"] == 3 and "autoscaling_config" not in options
    assert options["ray_actor_options"] == {"num_cpus": 0.5} and options["name"] == "weir"
    elastic = ray_engine.app_spec(Deployment("churn", "m/1", options={"min_replicas": 0, "max_replicas": 4}))
    config = elastic.deployment_options()["autoscaling_config"]
    assert (config["min_replicas"], config["max_replicas"], config["initial_replicas"]) == (0, 4, 1)
    assert (config["upscale_delay_s"], config["downscale_delay_s"], config["target_ongoing_requests"]) == (30, 600, 2)
    assert fixed != elastic and fixed == ray_engine.app_spec(
        Deployment("churn", "m/2", options={"min_replicas": 3, "replica_cpus": 0.5})
    )  # a version change is the replicas' business (they follow the registry), not a redeployment


def test_the_route_prefix_is_taken_off_before_weirs_routes_see_the_path() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope)

    wrapped = ray_engine.WithoutPrefix(app)
    for path in ("/churn/v2/models/churn/infer", "/churn", "/other"):
        asyncio.run(wrapped({"type": "http", "path": path, "root_path": "/churn"}, None, None))
    asyncio.run(wrapped({"type": "lifespan"}, None, None))
    assert [(s.get("path"), s.get("root_path")) for s in seen] == [
        ("/v2/models/churn/infer", ""),
        ("/", ""),
        ("/other", "/churn"),
        (None, None),
    ]
