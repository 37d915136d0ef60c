"""A real Ray cluster for the tests: ``ray start --head --block`` on loopback with token authentication.

The head runs in its own process group; stopping it (SIGTERM to the group) stops every Ray process it
started, so a developer's own Ray cluster is left alone. ``WEIRTEST_RAY=required`` fails rather than
skips when Ray is not installed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.postgres import free_port


@dataclass(frozen=True)
class RayCluster:
    address: str
    env: dict[str, str]
    """What a client of this cluster needs in its environment (the authentication token)."""


def ray_binary() -> str | None:
    return shutil.which("ray", path=str(Path(sys.executable).parent)) or shutil.which("ray")


@contextlib.contextmanager
def ray_head(binary: str, cpus: int = 4) -> Iterator[RayCluster]:
    """A head node on loopback with token authentication, stopped (with all it started) on exit."""
    port = free_port()
    temp = Path(tempfile.mkdtemp(prefix="wray-"))  # short: Ray's socket paths live below it
    token = os.environ.get("RAY_AUTH_TOKEN") or secrets.token_hex(16)  # the session's (conftest.py), if set
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "RAY_USAGE_STATS_ENABLED": "0"}
    command = [binary, "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port)]
    command += ["--num-cpus", str(cpus), "--include-dashboard", "false", "--disable-usage-stats"]
    command += ["--object-store-memory", str(200 * 2**20), "--temp-dir", str(temp)]
    log = (temp / "head.log").open("wb")
    head = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env}, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 90
        while "Ray runtime started" not in (temp / "head.log").read_text(errors="replace"):
            if head.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ray start failed: {(temp / 'head.log').read_text(errors='replace')[-3000:]}")
            time.sleep(0.3)
        yield RayCluster(f"127.0.0.1:{port}", env)
    finally:
        if head.poll() is None:
            os.killpg(head.pid, signal.SIGTERM)
            try:
                head.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(head.pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def ray_cluster() -> Iterator[RayCluster]:
    """The tests' cluster (a generator for a pytest fixture): skipped, or failed, without Ray."""
    binary = ray_binary()
    if binary is None:
        if os.environ.get("WEIRTEST_RAY") == "required":
            pytest.fail("WEIRTEST_RAY=required but the ray command is not installed (pip install 'weir[ray]').")
        pytest.skip("ray is not installed (pip install 'weir[ray]')")
    with ray_head(binary) as cluster:
        yield cluster
