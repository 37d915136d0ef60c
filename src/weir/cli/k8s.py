"""``weir k8s render``: Kubernetes manifests for running ``weir serve`` as several replicas.

Written as JSON files (``kubectl apply -f DIR`` reads them): a ConfigMap of settings, a Deployment whose
readiness and liveness probes are the V2 health endpoints, a Service, a HorizontalPodAutoscaler, and
Secret *references* (the Secret itself is created by the operator: it never passes through weir). Every
replica must share the truth, so the settings point at PostgreSQL (database URL from the Secret), Redis
(online store) and one artifact/prediction-log volume (a ReadWriteMany PersistentVolumeClaim).

>>> docs = render(namespace="ml", replicas=2, hpa=(2, 6, 70), image="ghcr.io/acme/weir:0.1.0")
>>> [d["kind"] for d in docs]
['ConfigMap', 'Deployment', 'Service', 'HorizontalPodAutoscaler']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from weir.cli.context import console
from weir.cli.k8s_ray import render_rayservice
from weir.errors import ValidationError
from weir.store.prediction_record import check_endpoint

app = typer.Typer(help="Kubernetes manifests for weir serve.", no_args_is_help=True)
NAME = "weir"
PORT = 8000
MOUNT = "/var/lib/weir"
RAY_VERSION = "2.60.0"
"""The Ray of the RayService's pods: the image must hold the same (``pip install 'weir[ray]'``)."""


def render(
    *,
    namespace: str = "default",
    replicas: int = 2,
    hpa: tuple[int, int, int] | None = None,
    image: str = "weir:latest",
    workers: int = 1,
    redis_url: str = "redis://redis:6379/0",
    secret: str = "weir-secrets",
    volume_claim: str = "weir-data",
    ray_endpoints: list[str] | None = None,
    ray_workers: tuple[int, int] = (1, 4),
) -> list[dict[str, Any]]:
    """The manifests as dictionaries (see the module docstring); with ``ray_endpoints``, a ConfigMap and a
    KubeRay RayService serving those endpoints instead of the Deployment, Service and autoscaler."""
    _check(namespace, replicas, hpa, workers)
    if ray_endpoints is not None and not ray_endpoints:
        raise ValidationError("--engine ray needs --endpoints: the endpoints to serve, such as churn,fraud.")
    if not 0 <= ray_workers[0] <= ray_workers[1] or ray_workers[1] < 1:
        raise ValidationError(f"--ray-workers {ray_workers[0]},{ray_workers[1]}: need 0 <= MIN <= MAX and MAX >= 1.")
    labels = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/component": "serve"}
    meta = {"name": NAME, "namespace": namespace, "labels": labels}
    settings = {
        "WEIR_HOME": MOUNT,
        "WEIR_HOST": "0.0.0.0",  # beyond loopback: authentication is on (auth = on)
        "WEIR_PORT": str(PORT),
        "WEIR_AUTH": "on",
        "WEIR_ARTIFACT_ROOT": f"{MOUNT}/artifacts",
        "WEIR_PREDICTION_LOG": f"{MOUNT}/predictions",
        "WEIR_FEATURE_ROOT": f"{MOUNT}/features",
        "WEIR_ONLINE_STORE": redis_url,
        "WEIR_LOG_LEVEL": "INFO",
    }
    secrets = [
        _secret_env("WEIR_DATABASE_URL", secret, "database-url", optional=False),
        _secret_env("WEIR_AUDIT_KEY", secret, "audit-key", optional=True),
    ]

    def probe(path: str, period: int) -> dict[str, Any]:
        return {
            "httpGet": {"path": path, "port": "http"},
            "periodSeconds": period,
            "timeoutSeconds": 2,
            "failureThreshold": 3,
        }

    container: dict[str, Any] = {
        "name": "serve",
        "image": image,
        "args": ["serve", "--workers", str(workers)],
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "envFrom": [{"configMapRef": {"name": f"{NAME}-settings"}}],
        "env": secrets,
        "readinessProbe": probe("/v2/health/ready", 5),
        "livenessProbe": {**probe("/v2/health/live", 10), "initialDelaySeconds": 10},
        "resources": {"requests": {"cpu": f"{workers}", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
        "volumeMounts": [{"name": "data", "mountPath": MOUNT}],
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [container],
                    "securityContext": {"runAsUser": 10001, "fsGroup": 10001},
                    "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": volume_claim}}],
                },
            },
        },
    }
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {**meta, "name": f"{NAME}-settings"}}
    config_map["data"] = settings
    if ray_endpoints is not None:
        pod_spec = deployment["spec"]["template"]["spec"]  # type: ignore[index]
        service = render_rayservice(
            meta=meta,
            container={
                **container,
                "securityContext": {**container["securityContext"], "readOnlyRootFilesystem": False},
            },
            pod_spec={k: v for k, v in pod_spec.items() if k != "containers"},
            endpoints=ray_endpoints,
            workers=ray_workers,
            ray_version=RAY_VERSION,
        )
        return [config_map, service]
    docs: list[dict[str, Any]] = [
        config_map,
        deployment,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta,
            "spec": {"selector": labels, "ports": [{"name": "http", "port": PORT, "targetPort": "http"}]},
        },
    ]
    if hpa is not None:
        low, high, cpu = hpa
        docs.append(
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": meta,
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": NAME},
                    "minReplicas": low,
                    "maxReplicas": high,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu}},
                        }
                    ],
                },
            }
        )
    return docs


def _secret_env(name: str, secret: str, key: str, *, optional: bool) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key, "optional": optional}}}


def _check(namespace: str, replicas: int, hpa: tuple[int, int, int] | None, workers: int) -> None:
    if (
        not namespace
        or len(namespace) > 63
        or not all(c.isalnum() or c == "-" for c in namespace)
        or (not namespace[0].isalnum() or not namespace[-1].isalnum() or namespace != namespace.lower())
    ):
        raise ValidationError(f"Namespace {namespace!r} is not a DNS label (lower-case letters, digits, '-').")
    if replicas < 1 or workers < 1:
        raise ValidationError("--replicas and --workers must be at least 1.")
    if hpa is not None:
        low, high, cpu = hpa
        if not 1 <= low <= high or not 1 <= cpu <= 100:
            raise ValidationError(f"--hpa {low},{high},{cpu}: need 1 <= min <= max and a CPU target in 1..100 %.")


def parse_hpa(value: str | None) -> tuple[int, int, int] | None:
    if value is None:
        return None
    parts = value.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
        raise ValidationError(f"--hpa {value!r} must be MIN,MAX,CPU% such as 2,10,70.", field="hpa")
    low, high, cpu = (int(p) for p in parts)
    return low, high, cpu


@app.command("render")
def render_command(
    out: Annotated[Path, typer.Option(help="Folder to write the manifests into (JSON, one per resource).")],
    namespace: Annotated[str, typer.Option(help="Kubernetes namespace.")] = "default",
    replicas: Annotated[int, typer.Option(help="Replicas of weir serve (without --hpa).")] = 2,
    hpa: Annotated[str | None, typer.Option(help="Autoscale: MIN,MAX,CPU% such as 2,10,70.")] = None,
    image: Annotated[str, typer.Option(help="The container image holding weir.")] = "weir:latest",
    workers: Annotated[int, typer.Option(help="Server workers per pod (the CPU it requests).")] = 1,
    redis_url: Annotated[str, typer.Option(help="The shared online store.")] = "redis://redis:6379/0",
    secret: Annotated[
        str, typer.Option(help="Secret holding database-url (and optionally audit-key).")
    ] = "weir-secrets",
    volume_claim: Annotated[str, typer.Option(help="ReadWriteMany claim for artifacts and logs.")] = "weir-data",
    engine: Annotated[
        str, typer.Option(help="embedded (a Deployment of weir serve) or ray (a KubeRay RayService).")
    ] = "embedded",
    endpoints: Annotated[
        str | None, typer.Option(help="With --engine ray: the endpoints served, e.g. churn,fraud.")
    ] = None,
    ray_workers: Annotated[str | None, typer.Option(help="With --engine ray: Ray worker pods, MIN,MAX (1,4).")] = None,
) -> None:
    """Write Kubernetes manifests (ConfigMap, Deployment with V2 health probes, Service, HPA; or a RayService)."""
    if engine not in ("embedded", "ray"):
        raise ValidationError(f"--engine {engine!r}: use embedded or ray.", field="engine")
    low, _, high = (ray_workers or "1,4").partition(",")
    if not (low.strip().isdigit() and high.strip().isdigit()):
        raise ValidationError(f"--ray-workers {ray_workers!r} must be MIN,MAX such as 1,4.", field="ray_workers")
    ray_endpoints = None
    if engine == "ray":
        ray_endpoints = [check_endpoint(e.strip()) for e in (endpoints or "").split(",") if e.strip()]
    elif endpoints is not None or ray_workers is not None:
        raise ValidationError("--endpoints and --ray-workers are for --engine ray.", field="engine")
    docs = render(
        namespace=namespace,
        replicas=replicas,
        hpa=parse_hpa(hpa),
        image=image,
        workers=workers,
        redis_url=redis_url,
        secret=secret,
        volume_claim=volume_claim,
        ray_endpoints=ray_endpoints,
        ray_workers=(int(low), int(high)),
    )
    out.mkdir(parents=True, exist_ok=True)
    for doc in docs:
        path = out / f"{doc['kind'].lower()}.json"
        path.write_text(json.dumps(doc, indent=2) + "\n")
        console.print(f"wrote {path}")
    console.print(
        f"create the Secret first: kubectl -n {namespace} create secret generic {secret} "
        "--from-literal=database-url=postgresql+psycopg://…"
    )
