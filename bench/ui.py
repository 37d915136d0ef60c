"""Dashboard page-load times on the demo's data, the server on this machine (target: under 300 ms a page).

    .venv/bin/python bench/ui.py [--loads 20] [--home PATH] [--json PATH]

Builds the demo's data as ``weir demo --no-serve`` does (a simulated year of loans: features
materialised, four model versions with their gate records, a rollout, a drift monitor with its runs) into a
temporary home (or reuses ``--home`` if it already holds it), creates a read-scope token, starts
``weir serve`` on a free loopback port and loads every dashboard page, and the JSON behind its charts,
``--loads`` times each after two warm-up loads, one request at a time, with httpx (the time from sending the
request to the last byte of the body). Prints the median, the spread (fastest, 90th percentile, slowest)
and the body size per page.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

import weir

TARGET_MS = 300.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def weir_command(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "weir", "--home", str(home), *args]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("WEIR_")} | {"COLUMNS": "200"}


def build(home: Path) -> float:
    """Run the demo into ``home`` unless it is there already; returns the seconds it took (0 if reused)."""
    if (home / "demo" / "monitoring-report.html").exists():
        return 0.0
    started = time.perf_counter()
    done = subprocess.run(
        weir_command(home, "demo", "--no-serve"), capture_output=True, text=True, env=clean_env(), check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"weir demo failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def pages(home: Path) -> list[str]:
    """Every dashboard page of the demo's data, then the JSON behind the charts."""
    with weir.connect(home=home) as ws:
        found = ["/ui/", "/ui/models"]
        for model in ws.models.list_models():
            found += [f"/ui/models/{model.name}/{v.version}" for v in ws.models.versions(model.name)]
        found.append("/ui/features")
        found += [f"/ui/features/views/{d.name}" for d in ws.features.catalog.definitions("view")]
        found += [f"/ui/features/services/{d.name}" for d in ws.features.catalog.definitions("service")]
        found += [f"/ui/rollouts/{r.id}" for r in ws.rollouts.list_rollouts()]
        found += [f"/ui/rollouts/{r.id}/data.json" for r in ws.rollouts.list_rollouts()]
        monitors = [m.name for m in ws.monitors.list_monitors()]
        found += [f"/ui/monitors/{name}" for name in monitors]
        found += [f"/ui/monitors/{name}/data.json" for name in monitors]
        found += ["/ui/features/data.json"]
        found += [f"/ui/models/{m.name}/{m.latest_version}/data.json" for m in ws.models.list_models()]
    return found


def token(home: Path) -> str:
    with weir.connect(home=home, user="bench") as ws:
        return str(ws.tokens.create(f"bench-ui-{os.getpid()}", ["read"])[1])


def serve(home: Path, port: int) -> subprocess.Popen[bytes]:
    log = (home / "bench-ui-server.log").open("wb")
    process = subprocess.Popen(
        weir_command(home, "serve", "--port", str(port)),
        stdout=log,
        stderr=subprocess.STDOUT,
        env=clean_env(),
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"weir serve exited: {(home / 'bench-ui-server.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGTERM)
    raise SystemExit("weir serve did not become ready in 90 s")


def measure(client: httpx.Client, path: str, loads: int) -> dict[str, Any]:
    times = []
    size = 0
    for i in range(loads + 2):
        started = time.perf_counter()
        response = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code}: {response.text[:500]}")
        size = len(response.content)
        if i >= 2:  # two warm-up loads
            times.append(elapsed)
    ordered = sorted(times)
    return {
        "page": path,
        "median_ms": statistics.median(ordered),
        "min_ms": ordered[0],
        "p90_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))],
        "max_ms": ordered[-1],
        "bytes": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--loads", type=int, default=20, help="timed loads per page (after 2 warm-up loads)")
    parser.add_argument("--home", type=Path, default=None, help="a home holding the demo's data (built if empty)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="weir-bench-ui-") as tmp:
        home = args.home or Path(tmp) / "home"
        built = build(home)
        paths = pages(home)
        headers = {"authorization": f"Bearer {token(home)}"}
        port = free_port()
        process = serve(home, port)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as client:
                rows = [measure(client, path, args.loads) for path in paths]
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)
    cpus = os.cpu_count()
    print(
        f"dashboard page loads on the demo's data (weir serve, one worker; {platform.machine()}, {cpus} CPUs, "
        f"Python {platform.python_version()}); {args.loads} loads a page after 2 warm-up loads"
        + (f"; demo built in {built:.0f} s" if built else "")
    )
    print("| page | median ms | fastest | p90 | slowest | KiB | < 300 ms |")
    print("|---|---:|---:|---:|---:|---:|:---:|")
    for r in rows:
        ok = "yes" if r["median_ms"] < TARGET_MS and r["p90_ms"] < TARGET_MS else "NO"
        print(
            f"| {r['page']} | {r['median_ms']:.1f} | {r['min_ms']:.1f} | {r['p90_ms']:.1f} | {r['max_ms']:.1f} "
            f"| {r['bytes'] / 1024:.1f} | {ok} |"
        )
    slowest = max(rows, key=lambda r: r["median_ms"])
    print(f"slowest median: {slowest['page']} {slowest['median_ms']:.1f} ms (target {TARGET_MS:.0f} ms)")
    if args.json is not None:
        args.json.write_text(json.dumps({"loads": args.loads, "cpus": cpus, "pages": rows}, indent=2))


if __name__ == "__main__":
    main()
