"""`weir agent` as a real process: one per store, and killed mid-rollout then restarted it finishes the
rollout without ever leaving traffic on an unchecked step. Also `weir rollouts` from the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import weir
from weir.app import Workspace
from weir.cli.context import CliState
from weir.cli.main import app
from weir.errors import ValidationError
from weir.serving.service import InferenceService
from weir.store.lease import Lease
from weir.training.agent import LEASE, Agent, AgentRunningError
from weir.training.rollouts import _matches

from .conftest import FAST, drive

WEIR = str(Path(sys.executable).with_name("weir"))


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("WEIR_")} | {"COLUMNS": "200"}


def weir_cli(ws: Workspace, *args: str) -> Result:
    """The command line in-process (the agent test above runs it as a real process)."""
    result = CliRunner().invoke(app, ["--home", str(ws.settings.home), *args], obj=CliState(connect=weir.connect))
    return result


def start_agent(ws: Workspace) -> subprocess.Popen[str]:
    return subprocess.Popen([WEIR, "--home", str(ws.settings.home), "agent", "--interval", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env())  # fmt: skip


def test_a_second_agent_is_refused_and_a_dead_ones_lease_is_taken_over(ws: Workspace) -> None:
    first = ws.agent()
    first.acquire()
    second = ws.agent()
    with pytest.raises(AgentRunningError, match="Another weir agent holds this store") as refused:
        second.acquire()
    assert first.lease.holder in refused.value.message
    first.lease.release()
    second.acquire()
    second.lease.release()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    import socket

    Lease(ws.db, LEASE, f"{socket.gethostname()}:{gone.pid}:dead").acquire()  # a holder killed without releasing
    third = ws.agent()
    third.acquire()
    assert third.lease.holder_now() is not None and third.lease.holder_now()[0] == third.lease.holder  # type: ignore[index]
    third.lease.release()


def test_one_agent_tick_runs_monitors_triggers_and_rollouts(ws: Workspace, service: InferenceService) -> None:
    rollout = ws.rollouts.start("m", "m/2", {**FAST, "shadow": False, "steps": [50, 100]})
    drive(service, 120)
    agent: Agent = ws.agent()
    done = agent.tick()
    agent.lease.release()
    assert [r.state for r in done.rollouts] == ["succeeded"] and done.firings == [] and done.monitor_runs == []
    assert ws.rollouts.get(rollout.id).state == "succeeded"


def test_an_agent_killed_mid_rollout_resumes_after_a_restart(ws: Workspace, service: InferenceService) -> None:
    policy = {**FAST, "steps": [25, 50, 100], "min_requests": 30}
    rollout = ws.rollouts.start("m", "m/2", policy)
    agent = start_agent(ws)
    seen: list[tuple[str, float]] = []
    try:
        seed = 0
        deadline = time.monotonic() + 60
        while ws.rollouts.get(rollout.id).phase != "canary" and time.monotonic() < deadline:
            seed += 1
            drive(service, 40, seed=seed)
            time.sleep(0.3)
        agent.send_signal(signal.SIGKILL)  # no clean-up: the lease stays behind
        agent.wait(10)
        killed = ws.rollouts.get(rollout.id)
        assert (killed.state, killed.phase) == ("running", "canary"), agent.stdout.read() if agent.stdout else ""
        assert _matches(killed, ws.deployments.get("m"))  # traffic and state agree after the kill
        agent = start_agent(ws)  # takes over the dead agent's lease at once
        while ws.rollouts.get(rollout.id).state == "running" and time.monotonic() < deadline:
            seed += 1
            drive(service, 40, seed=seed)
            current = ws.rollouts.get(rollout.id)
            if current.state == "running":
                assert _matches(current, ws.deployments.get("m"))
            seen.append((current.phase, current.weight))
            time.sleep(0.3)
    finally:
        agent.terminate()
        output = agent.communicate(timeout=20)[0]
    final = ws.rollouts.get(rollout.id)
    assert final.state == "succeeded", (seen, output)
    assert ws.models.get_model("m").aliases["champion"] == 2
    assert "rollout" in output and agent.returncode == 0
    assert Lease(ws.db, LEASE, "anyone").holder_now() is None  # the lease was released on SIGTERM


def test_rollouts_from_the_command_line(ws: Workspace) -> None:
    started = weir_cli(ws, "rollouts", "start", "m", "m/2", "--policy", json.dumps(FAST), "--json")
    assert started.exit_code == 0, started.output
    rollout = json.loads(started.stdout)
    assert (rollout["phase"], rollout["candidate"]) == ("shadow", "m/2")
    rid = str(rollout["id"])
    listed = weir_cli(ws, "rollouts", "list", "--active")
    assert "m/2" in listed.stdout and "running" in listed.stdout
    assert "paused" in weir_cli(ws, "rollouts", "pause", rid, "--reason", "lunch").stdout
    assert "running" in weir_cli(ws, "rollouts", "resume", rid).stdout
    assert "no rollout moved" in weir_cli(ws, "rollouts", "tick").stdout
    shown = json.loads(weir_cli(ws, "rollouts", "show", rid, "--json").stdout)
    assert [s["action"] for s in shown["steps"]] == ["start", "pause", "resume", "hold"]
    assert "aborted" in weir_cli(ws, "rollouts", "abort", rid).stdout
    bad = weir_cli(ws, "rollouts", "start", "m", "m/2", "--policy", "{not json")
    assert isinstance(bad.exception, ValidationError) and "--policy" in bad.exception.message
    once = weir_cli(ws, "agent", "--once")
    assert once.exit_code == 0, once.output
    promoted = weir_cli(ws, "rollouts", "start", "m", "m/2", "--policy", json.dumps(FAST))
    assert promoted.exit_code == 0, promoted.output
    assert "succeeded" in weir_cli(ws, "rollouts", "promote", promoted.stdout.split()[1].rstrip(":")).stdout
