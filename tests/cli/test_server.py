"""`weir serve` as a user runs it: a real uvicorn process on a loopback port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sklearn.dummy import DummyClassifier

import weir
from tests.postgres import free_port


def test_weir_serve_serves_the_control_plane(tmp_path: Path) -> None:
    with weir.connect(home=tmp_path, user="setup") as ws:
        ws.models.register("churn", DummyClassifier().fit([[0], [1]], [0, 1]), code_path=None, aliases=["champion"])
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEIR_")}
    env.update({"WEIR_HOME": str(tmp_path), "WEIR_PORT": str(port)})
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("weir")), "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                health = httpx.get(f"{base}/api/v1/health", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.time() < deadline, "server did not start within 60 s"
                time.sleep(0.2)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        version = httpx.get(f"{base}/api/v1/models/churn/versions/champion").json()
        assert (version["model"], version["version"], version["aliases"]) == ("churn", 1, ["champion"])
        spec = httpx.get(f"{base}/openapi.json").json()
        assert "/api/v1/models/{name}/aliases/{alias}" in spec["paths"]
        missing = httpx.get(f"{base}/api/v1/models/nope")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
