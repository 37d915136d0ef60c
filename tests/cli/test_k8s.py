"""`weir k8s render`: every manifest validates against the Kubernetes schemas, offline."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest
from typer.testing import CliRunner

import weir
from weir.cli.context import CliState
from weir.cli.k8s import render
from weir.cli.main import app
from weir.errors import ValidationError

K8S = "1.30.0"


@pytest.mark.parametrize("hpa", [None, (2, 8, 70)])
def test_every_rendered_manifest_is_valid_kubernetes(hpa: tuple[int, int, int] | None) -> None:
    docs = render(namespace="ml-prod", replicas=3, hpa=hpa, image="ghcr.io/acme/weir:0.1.0", workers=2)
    for doc in docs:
        kubernetes_validate.validate(doc, K8S, strict=True)
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    assert env["WEIR_DATABASE_URL"] == {"name": "weir-secrets", "key": "database-url", "optional": False}
    settings = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    assert settings["WEIR_AUTH"] == "on" and settings["WEIR_ONLINE_STORE"].startswith("redis://")
    assert ("HorizontalPodAutoscaler" in [d["kind"] for d in docs]) == (hpa is not None)
    deployment["spec"]["replicas"] = "three"  # the validator does check: a wrong type is refused
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S, strict=True)


def test_bad_flags_are_named() -> None:
    with pytest.raises(ValidationError, match="not a DNS label"):
        render(namespace="ML_Prod")
    with pytest.raises(ValidationError, match="min <= max"):
        render(hpa=(5, 2, 70))


def test_the_command_writes_one_json_file_per_resource(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "--home",
            str(tmp_path / "ws"),
            "k8s",
            "render",
            "--out",
            str(tmp_path / "k8s"),
            "--hpa",
            "2,10,70",
            "--namespace",
            "ml",
        ],
        obj=CliState(connect=weir.connect),
    )
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in (tmp_path / "k8s").iterdir())
    assert files == ["configmap.json", "deployment.json", "horizontalpodautoscaler.json", "service.json"]
    for path in (tmp_path / "k8s").iterdir():
        kubernetes_validate.validate(json.loads(path.read_text()), K8S, strict=True)
    bad = CliRunner().invoke(
        app,
        ["--home", str(tmp_path / "ws"), "k8s", "render", "--out", str(tmp_path / "x"), "--hpa", "2,10"],
        obj=CliState(connect=weir.connect),
    )
    assert isinstance(bad.exception, ValidationError) and "MIN,MAX,CPU%" in bad.exception.message


def test_the_rayservice_has_valid_pods_and_a_serve_config_ray_accepts(tmp_path: Path) -> None:
    """KubeRay's resource is a custom one, so its parts are validated by their owners: each pod template as
    a Kubernetes pod template, and ``serveConfigV2`` by Ray Serve's own schema (that of `serve deploy`)."""
    pytest.importorskip("ray.serve")
    from ray.serve.schema import ServeDeploySchema

    args = ["--home", str(tmp_path / "ws"), "k8s", "render", "--out", str(tmp_path / "k8s"), "--engine", "ray"]
    args += ["--endpoints", "churn,fraud", "--ray-workers", "1,6", "--namespace", "ml"]
    result = CliRunner().invoke(app, args, obj=CliState(connect=weir.connect))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "k8s").iterdir()) == ["configmap.json", "rayservice.json"]
    service = json.loads((tmp_path / "k8s" / "rayservice.json").read_text())
    assert (service["apiVersion"], service["kind"], service["metadata"]["namespace"]) == (
        "ray.io/v1",
        "RayService",
        "ml",
    )
    cluster = service["spec"]["rayClusterConfig"]
    assert cluster["authOptions"] == {"mode": "token"}
    workers = cluster["workerGroupSpecs"][0]
    assert (workers["minReplicas"], workers["maxReplicas"]) == (1, 6)
    for template in (cluster["headGroupSpec"]["template"], workers["template"]):
        labels = template["metadata"]["labels"]
        wrapper = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "pod-check", "namespace": "ml"},
            "spec": {"selector": {"matchLabels": labels}, "template": template},
        }
        kubernetes_validate.validate(wrapper, K8S, strict=True)
        env = {e["name"] for e in template["spec"]["containers"][0]["env"]}
        assert "WEIR_DATABASE_URL" in env
    config = ServeDeploySchema.model_validate(json.loads(service["spec"]["serveConfigV2"]))
    assert [(a.name, a.route_prefix, a.import_path, a.args) for a in config.applications] == [
        ("churn", "/churn", "weir.app:ray_application", {"endpoint": "churn"}),
        ("fraud", "/fraud", "weir.app:ray_application", {"endpoint": "fraud"}),
    ]
    with pytest.raises(ValidationError, match="needs --endpoints"):
        render(ray_endpoints=[])
    with pytest.raises(ValidationError, match="0 <= MIN <= MAX"):
        render(ray_endpoints=["churn"], ray_workers=(3, 2))
    for wrong, needle in (
        (["--endpoints", "bad name!"], "Endpoint name"),
        (["--ray-workers", "1,2"], "for --engine ray"),
    ):
        bad = CliRunner().invoke(
            app,
            ["--home", str(tmp_path / "ws"), "k8s", "render", "--out", str(tmp_path / "x"), *wrong]
            + (["--engine", "ray"] if wrong[0] == "--endpoints" else []),
            obj=CliState(connect=weir.connect),
        )
        assert isinstance(bad.exception, ValidationError) and needle in bad.exception.message


def test_ray_application_builds_an_endpoint_from_the_environment_settings(tmp_path: Path) -> None:
    """What KubeRay imports: ``weir.app:ray_application`` reads the deployment's scaling from the registry."""
    pytest.importorskip("ray.serve")
    from sklearn.dummy import DummyClassifier

    from weir.app import ray_application

    with weir.connect(home=tmp_path / "ws") as ws:
        ws.models.register("m", DummyClassifier().fit([[0], [1]], [0, 1]), input_example=[[0.0]])
        ws.deployments.deploy("churn", "m/1", options={"min_replicas": 2, "max_replicas": 5})
    monkey = pytest.MonkeyPatch()
    monkey.setenv("WEIR_HOME", str(tmp_path / "ws"))
    try:
        built = ray_application({"endpoint": "churn"})
        with pytest.raises(weir.errors.DeploymentNotFoundError):
            ray_application({"endpoint": "nope"})
    finally:
        monkey.undo()
    config = built._bound_deployment._deployment_config.autoscaling_config
    assert (config.min_replicas, config.max_replicas) == (2, 5)
