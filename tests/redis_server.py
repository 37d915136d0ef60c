"""A real Redis server for the tests: ``redis-server`` on a free loopback port, no persistence.

Each pytest worker starts its own (a session fixture around ``redis_server_url``); tests keep apart with a key
prefix of their own. Set ``WEIRTEST_REDIS_URL`` to use an existing server instead, and
``WEIRTEST_REDIS=required`` to fail rather than skip when ``redis-server`` is not installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres import free_port


def _server_pid(port: int) -> int | None:
    """The process id of the Redis server answering on ``port`` (None while nothing answers)."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1, socket_connect_timeout=1)
    try:
        return int(client.info("server")["process_id"])
    except (redis.RedisError, OSError):
        return None
    finally:
        client.close()


class RedisServer:
    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.root: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def available(self) -> bool:
        return self.binary is not None

    def start(self, attempts: int = 3) -> str:
        """Start the server and return its URL; a port taken meanwhile (by another worker) is retried."""
        for _ in range(attempts):
            url = self._start_once()
            if url is not None:
                return url
            self.port = free_port()
        raise RuntimeError(f"redis-server did not start after {attempts} attempts")

    def _start_once(self) -> str | None:
        assert self.binary
        self.root = Path(tempfile.mkdtemp(prefix="weir-redis-"))
        cmd = [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        cmd += ["--daemonize", "no", "--dir", str(self.root)]
        with open(self.root / "log", "wb") as log:
            self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=self.root)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            # Our own process must be the one answering: another worker may hold the port.
            if _server_pid(self.port) == self.process.pid:
                return f"redis://127.0.0.1:{self.port}/0"
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        output = (self.root / "log").read_text(errors="replace")[-2000:]
        exited = self.process.poll() is not None
        self.stop()
        if exited and "Address already in use" in output:
            return None
        raise RuntimeError(f"redis-server did not answer on port {self.port}:\n{output}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None


def redis_server_url() -> Iterator[str]:
    """Body of a session fixture: the URL of a Redis server that lives for the session."""
    url = os.environ.get("WEIRTEST_REDIS_URL")
    if url:
        yield url
        return
    server = RedisServer()
    if not server.available:
        if os.environ.get("WEIRTEST_REDIS") == "required":
            pytest.fail(
                "Redis is required (WEIRTEST_REDIS=required) but redis-server is not installed; "
                "run scripts/install-services.sh (or `make services`)"
            )
        pytest.skip("redis-server not installed; run scripts/install-services.sh or `make test`, which installs it")
    try:
        yield server.start()
    finally:
        server.stop()
