"""The command line, run as a user runs it: the installed ``weir`` script in a subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.dummy import DummyClassifier

import weir
from weir.cli.main import app as cli_app

ROOT = Path(__file__).resolve().parents[2]
WEIR = str(Path(sys.executable).with_name("weir"))


def run(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEIR_")}
    env.update({"WEIR_HOME": str(home), "WEIR_USER": "cli-user", "COLUMNS": "200"})
    done = subprocess.run([WEIR, *args], capture_output=True, text=True, env=env, timeout=120)
    if check:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli")
    with weir.connect(home=path, user="setup") as ws:
        model = DummyClassifier(strategy="most_frequent").fit([[0], [1], [1]], [0, 1, 1])
        ws.models.register("churn", model, input_example=[[0.0]], code_path=None, metrics={"auc": 0.5})
        ws.models.register("churn", model, input_example=[[0.0]], code_path=None, metrics={"auc": 0.6})
    return path


def test_list_show_versions_as_json(home: Path) -> None:
    listed = json.loads(run(home, "models", "list", "--json").stdout)
    assert [(m["name"], m["latest_version"]) for m in listed] == [("churn", 2)]
    shown = json.loads(run(home, "models", "show", "churn/1", "--json").stdout)
    assert shown["version"] == 1 and shown["metrics"] == {"auc": 0.5}
    assert len(shown["artifacts"]["model"]["digest"]) == 64
    versions = json.loads(run(home, "models", "versions", "churn", "--json").stdout)
    assert [v["version"] for v in versions] == [1, 2]
    table = run(home, "models", "versions", "churn").stdout
    assert "auc=0.6" in table


def test_alias_history_and_audit(home: Path) -> None:
    out = run(home, "models", "alias", "churn", "champion", "2", "--reason", "better").stdout
    assert "churn@champion → version 2 (was nothing)" in out
    moves = json.loads(run(home, "models", "history", "churn", "--json").stdout)
    assert [(m["alias"], m["version"], m["moved_by"], m["reason"]) for m in moves] == [
        ("champion", 2, "cli-user", "better")
    ]
    at = json.loads(
        run(
            home, "models", "history", "churn", "--alias", "champion", "--at", "2000-01-01T00:00:00+00:00", "--json"
        ).stdout
    )
    assert at["version"] is None
    audit = json.loads(run(home, "models", "audit", "--model", "churn", "--json").stdout)
    assert audit[-1]["action"] == "alias.set" and audit[-1]["actor"] == "cli-user"


def test_verify_passes_then_detects_a_corrupted_artifact(tmp_path: Path, home: Path) -> None:
    assert "audit chain intact" in run(home, "models", "verify").stdout
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(home, copy)
    blob = next((copy / "artifacts" / "sha256").rglob("*"))
    while blob.is_dir():
        blob = next(blob.iterdir())
    blob.chmod(0o644)
    blob.write_bytes(b"tampered")
    done = run(copy, "models", "verify", check=False)
    assert done.returncode == 1
    assert f"Artifact {blob.name} is corrupt" in done.stderr.replace("\n", "")  # a model or its input example


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["models", "show", "nope"], "error (model_not_found): Model 'nope' does not exist"),
        (["models", "show", "churn/9"], "has no version 9; latest is 2"),
        (["models", "alias", "churn", "champion", "7"], "has no version 7"),
        (["models", "alias", "churn", "champion"], "Give the version"),
        (["models", "history", "churn", "--at", "yesterday", "--alias", "champion"], "not an ISO time"),
        (["--database-url", "postgresql+psycopg://x@127.0.0.1:1/db", "models", "list"], "did not answer"),
    ],
)
def test_errors_are_one_line_with_exit_status_1(home: Path, args: list[str], needle: str) -> None:
    done = run(home, *args, check=False)
    assert done.returncode == 1
    assert needle in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr


def test_usage_error_exits_2(home: Path) -> None:
    assert run(home, "models", "bogus", check=False).returncode == 2


def test_server_refuses_a_public_address_without_authentication(home: Path) -> None:
    done = run(home, "serve", "--host", "0.0.0.0", check=False)
    assert done.returncode == 1 and "Refusing to listen on 0.0.0.0 without authentication" in done.stderr.replace(
        "\n", " "
    )


def test_scale_sets_the_replicas_shown_by_deployments_show(home: Path) -> None:
    run(home, "deploy", "scaled", "churn/1")
    assert "on Ray: replicas 1, 1 CPU each" in run(home, "deployments", "show", "scaled").stdout
    run(home, "deployments", "scale", "scaled", "--min", "2", "--max", "4", "--target", "3", "--upscale-delay", "5")
    shown = " ".join(run(home, "deployments", "show", "scaled").stdout.split())
    assert "on Ray: replicas 2–4, aiming at 3 requests in flight each (up after 5 s, down after 600 s)" in shown
    refused = run(home, "deployments", "scale", "scaled", "--max", "1", check=False)
    assert refused.returncode == 1 and "min_replicas 2 is above max_replicas 1" in refused.stderr
    assert run(home, "deployments", "scale", "scaled", check=False).returncode == 2  # nothing to change


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["serve", "--engine", "spark"], "Unknown engine 'spark'"),
        (["serve", "--address", "127.0.0.1:6379"], "--address is for --engine ray"),
        (["serve", "--engine", "ray", "--workers", "2"], "Ray scales replicas itself"),
    ],
)
def test_serve_engine_options_are_checked(home: Path, args: list[str], needle: str) -> None:
    done = run(home, *args, check=False)
    assert done.returncode in (1, 2) and needle in " ".join(done.stderr.split()), done.stderr


def _commands(group: object, prefix: str = "weir") -> set[str]:
    import typer.main

    command = typer.main.get_command(group)  # type: ignore[arg-type]
    found = set()
    for name, sub in getattr(command, "commands", {}).items():
        if getattr(sub, "commands", None):
            found |= {f"{prefix} {name} {n}" for n in sub.commands}
        else:
            found.add(f"{prefix} {name}")
    return found


def test_every_command_is_documented() -> None:
    doc = (ROOT / "docs" / "cli.md").read_text()
    documented = {m.strip() for m in re.findall(r"^\| `(weir [a-z0-9 -]+?)(?: [A-Z\[`-]|`)", doc, flags=re.M)}
    assert _commands(cli_app) == documented
