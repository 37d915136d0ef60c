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


def test_make_demo_runs_the_whole_loop(tmp_path: Path) -> None:
    """`make demo` (with --no-serve, so that it exits): drift is detected, retraining is refused by the gate
    until the concept change shows in live performance, and then a better model is rolled out to champion."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEIR_")}
    env.update({"WEIR_HOME": str(tmp_path / "demo"), "COLUMNS": "200"})
    venv = Path(sys.executable).parent.parent
    done = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "demo", f"VENV={venv}", "DEMO_ARGS=--no-serve"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "monitor: data drift detected" in out and "refused by the gate" in out and "passed the gate" in out
    assert "Successful → succeeded" in out and "chain intact" in out
    with weir.connect(home=tmp_path / "demo") as ws:
        champion = ws.models.get_version("loans@champion")
        assert champion.version > 1 and champion.lineage["data_fingerprint"].startswith("sha256:")
        assert [r.passed for r in ws.models.validations(champion.ref)] == [True]
        refused = [v for v in ws.models.versions("loans") if not all(r.passed for r in ws.models.validations(v.ref))]
        assert refused, "the demo shows a candidate the gate refuses"
        (rollout,) = ws.rollouts.list_rollouts("loans")
        assert (rollout.state, rollout.candidate) == ("succeeded", champion.ref)
        deployment = ws.deployments.get("loans")
        assert (deployment.primary, deployment.canary, deployment.shadows) == ("loans@champion", None, ())
        from weir.store import PredictionLog

        served = PredictionLog(ws.settings.prediction_log).read("loans", with_labels=True)
        assert set(served.route) == {"primary", "canary", "shadow"} and served["label"].notna().mean() > 0.9
        assert ws.models.audit.verify().ok
    assert (tmp_path / "demo" / "demo" / "monitoring-report.html").stat().st_size > 10_000


def test_layers_are_respected() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports"))], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stdout
    assert "0 broken" in done.stdout
