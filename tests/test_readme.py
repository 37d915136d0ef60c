"""The README's two commands, run as written, so they cannot rot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import weir

ROOT = Path(__file__).resolve().parents[1]


def test_readme_shows_the_two_commands_and_ci_runs_one() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "\ndemo:" in makefile and "\ntest:" in makefile


def test_make_demo_runs_the_registry_walkthrough(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEIR_")}
    env.update({"WEIR_HOME": str(tmp_path / "demo"), "COLUMNS": "160"})
    venv = Path(sys.executable).parent.parent
    done = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "demo", f"VENV={venv}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "champion → breast-cancer/" in done.stdout
    assert "chain intact" in done.stdout
    with weir.connect(home=tmp_path / "demo") as ws:
        versions = ws.models.versions("breast-cancer")
        assert [v.version for v in versions] == [1, 2]
        assert versions[1].lineage["parent_version"] == 1
        assert all(v.lineage["data_fingerprint"].startswith("sha256:") for v in versions)
        champion = ws.models.get_version("breast-cancer@champion")
        assert champion.metrics["roc_auc"] == max(v.metrics["roc_auc"] for v in versions)
        assert [r.name for r in ws.models.validations(champion.ref)] == ["holdout"]
        assert ws.models.audit.verify().ok
        deployment = ws.deployments.get("breast-cancer")
        assert (deployment.primary, deployment.canary_weight) == ("breast-cancer@champion", 20.0)
        from weir.store import PredictionLog

        served = PredictionLog(ws.settings.prediction_log).read("breast-cancer", with_labels=True)
        assert len(served) == 171 and served["label"].notna().all()
        assert set(served.route) == {"primary", "canary"}
    assert "Endpoint breast-cancer: served holdout" in done.stdout
    assert "Monitor breast-cancer-inputs: run over 171 predictions" in done.stdout
    assert "accuracy, version 1" in done.stdout and "columns drifted" in done.stdout


def test_layers_are_respected() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports"))], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stdout
    assert "0 broken" in done.stdout
