"""The KubeRay RayService of ``weir k8s render --engine ray``: weir's endpoints on a Ray cluster in Kubernetes.

KubeRay owns the Ray cluster and the Serve applications here, so there is no ``weir serve`` driver:
``serveConfigV2`` lists one application per endpoint, built by ``weir.app:ray_application`` (settings
from the pods' ``WEIR_*`` environment, scaling from the deployment's options when the application is
built). The pods take the same ConfigMap and Secret references as the plain Deployment, Ray's token
authentication is on (KubeRay creates the token), and Serve listens on port 8000 of the head, behind
the ``{name}-serve-svc`` Service that KubeRay creates.
"""

from __future__ import annotations

import json
from typing import Any

from weir.serving.ray_config import application_config, serve_config

SERVE_PORT = 8000


def render_rayservice(
    *,
    meta: dict[str, Any],
    container: dict[str, Any],
    pod_spec: dict[str, Any],
    endpoints: list[str],
    workers: tuple[int, int],
    ray_version: str,
) -> dict[str, Any]:
    """A RayService whose head and worker pods run ``container`` (its image must hold ``weir[ray]``)."""
    labels = meta.get("labels", {})
    ray_container = {
        **container,
        "args": None,  # KubeRay supplies `ray start`
        "ports": [
            {"name": "gcs", "containerPort": 6379, "protocol": "TCP"},
            {"name": "serve", "containerPort": SERVE_PORT, "protocol": "TCP"},
        ],
        "readinessProbe": None,  # KubeRay probes Ray and Serve itself
        "livenessProbe": None,
        "volumeMounts": [*container.get("volumeMounts", []), {"name": "ray-tmp", "mountPath": "/tmp"}],
    }
    ray_container = {k: v for k, v in ray_container.items() if v is not None}
    spec = {**pod_spec, "volumes": [*pod_spec.get("volumes", []), {"name": "ray-tmp", "emptyDir": {}}]}

    def template(name: str) -> dict[str, Any]:
        return {"metadata": {"labels": labels}, "spec": {**spec, "containers": [{**ray_container, "name": name}]}}

    low, high = workers
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": meta,
        "spec": {
            # JSON is YAML; scaling comes from each deployment's options when its application is built
            "serveConfigV2": json.dumps(
                serve_config([application_config(e) for e in endpoints], host="0.0.0.0", port=SERVE_PORT), indent=2
            ),
            "rayClusterConfig": {
                "rayVersion": ray_version,
                "enableInTreeAutoscaling": True,
                "authOptions": {"mode": "token"},
                "headGroupSpec": {"rayStartParams": {"num-cpus": "0"}, "template": template("ray-head")},
                "workerGroupSpecs": [
                    {
                        "groupName": "serve",
                        "replicas": low,
                        "minReplicas": low,
                        "maxReplicas": high,
                        "rayStartParams": {},
                        "template": template("ray-worker"),
                    }
                ],
            },
        },
    }
