"""Scale-out on Ray Serve: 1 and 2 replicas beside the embedded server, same run, same machine.

    .venv/bin/python bench/scale.py [--duration 10] [--repeats 3] [--concurrency 64]

**Model and body.** The breast_cancer pipeline of ``bench/serving.py`` (StandardScaler +
HistGradientBoosting), one row per request as a V2 FP64 tensor, registered as ``breast_cancer`` and
deployed as endpoint ``bc``.

**Servers.** ``embedded-1`` and ``embedded-2``: ``weir serve --workers 1`` and ``--workers 2``.
``ray-1`` and ``ray-2``: a real Ray head on loopback (``ray start --head``, token authentication, 4
logical CPUs) and ``weir serve --engine ray`` with ``weir deployments scale bc --min N --max N``; requests
go through Ray's HTTP proxy to ``/bc/v2/models/bc/infer``. Each is checked to answer the same labels as
scikit-learn on 100 rows before it is measured.

**Load.** wrk, ``--concurrency`` connections (64 by default), ``--repeats`` runs of ``--duration`` s
after a warm-up; median requests/s with the spread (min–max) and median p50/p99. wrk, Ray's proxy and
the replicas share this machine's cores, as they would on one node.

**Scale-up time.** With ``--min 1 --max 2 --target 2 --upscale-delay 1``, one replica running and no
load, wrk starts at concurrency 64; the figure is the time from the start of the burst until Ray
reports two replicas RUNNING (the 1 s delay included), polled every 0.25 s, over ``--repeats`` bursts
(each after the endpoint is back at one replica).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import serving_peers as peers
from serving import HEADER, get, med, post, row, start, stop, train
from serving_load import Cell, run_wrk, write_script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.ray_cluster import RayCluster, ray_binary, ray_head  # noqa: E402

WEIR = str(ROOT / ".venv" / "bin" / "weir")


def weir(home: Path, *args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(
        [WEIR, "--home", str(home), *args], check=True, capture_output=True, env={**os.environ, **(env or {})}
    )


def measure(name: str, url: str, script: Path, args: argparse.Namespace, pid: int | None) -> list[Cell]:
    run_wrk(url, script, args.concurrency, 2.0, None)  # warm-up
    runs = [run_wrk(url, script, args.concurrency, args.duration, pid) for _ in range(args.repeats)]
    print(f"  {name:12} {args.concurrency:3d} {row(runs)}", flush=True)
    return runs


def check(url: str, body: bytes, expected: list[Any]) -> None:
    got = peers.labels_from(post(url, body), len(expected))
    agree = sum(int(a == b) for a, b in zip(got, expected, strict=True))
    if agree != len(expected):
        raise SystemExit(f"{url} agrees with scikit-learn on {agree}/{len(expected)} rows only")


def replica_states() -> dict[str, int]:
    """Ray's own count of the endpoint's replicas by state (``{"RUNNING": 2}``)."""
    from ray import serve

    app = serve.status().applications.get("bc")
    states = app.deployments["weir"].replica_states if app and "weir" in app.deployments else {}
    return {str(getattr(state, "value", state)): n for state, n in states.items()}


def wait_replicas(count: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while replica_states() != {"RUNNING": count}:
        if time.monotonic() > deadline:
            raise SystemExit(f"Ray did not reach {count} replicas in {timeout:.0f} s: {replica_states()}")
        time.sleep(0.5)


def scale_up_seconds(url: str, script: Path, args: argparse.Namespace) -> float:
    """Time from the start of a burst until two replicas run."""
    burst = threading.Thread(target=run_wrk, args=(url, script, args.concurrency, 60, None), daemon=True)
    start_at = time.monotonic()
    burst.start()
    while replica_states().get("RUNNING", 0) < 2:
        if time.monotonic() - start_at > 60:
            raise SystemExit("no second replica within 60 s of the burst")
        time.sleep(0.25)
    seconds = time.monotonic() - start_at
    burst.join()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    binary = ray_binary()
    if binary is None:
        raise SystemExit("ray is not installed: pip install -e '.[ray]'")
    model, X = train()
    expected = model.predict(X.iloc[:100]).tolist()
    body = peers.v2_body("FP64")
    print(f"{os.cpu_count()} cores; wrk c={args.concurrency}, 1 row, {args.repeats} x {args.duration:g} s", flush=True)
    print(HEADER)
    results: dict[str, list[Cell]] = {}
    with tempfile.TemporaryDirectory(prefix="weir-scale-") as tmp:
        work = Path(tmp)
        script = write_script(work, "single", body(X.iloc[:1]))
        for workers in (1, 2):
            port = peers.free_port()
            launch = peers.prepare_weir(work / f"embedded-{workers}", port, workers, model, X.iloc[:5])
            (work / f"embedded-{workers}").mkdir(exist_ok=True)
            process = start(launch, port, work / f"embedded-{workers}.log")
            try:
                url = f"http://127.0.0.1:{port}/v2/models/bc/infer"
                check(url, body(X.iloc[:100]), expected)
                results[f"embedded-{workers}"] = measure(f"embedded-{workers}", url, script, args, process.pid)
            finally:
                stop(process)
        with ray_head(binary) as cluster:
            results.update(bench_ray(cluster, work, model, X, script, expected, args))
    ray1, ray2, emb = (med([r.rps for r in results[k]]) for k in ("ray-1", "ray-2", "embedded-2"))
    print(f"\nray-2 / ray-1 = {ray2 / ray1:.2f}x; embedded-2 / ray-2 = {emb / ray2:.2f}x")


def bench_ray(
    cluster: RayCluster, work: Path, model: Any, X: Any, script: Path, expected: list[Any], args: argparse.Namespace
) -> dict[str, list[Cell]]:
    os.environ.update(cluster.env)  # before Ray is imported: it reads its token once
    import ray

    port = peers.free_port()
    home = work / "ray"
    launch = peers.prepare_weir(home, port, 1, model, X.iloc[:5])
    home = home / "weir-home"
    weir(home, "deployments", "scale", "bc", "--min", "1", "--max", "1")
    launch.command = [WEIR, "--home", str(home), "serve", "--engine", "ray", "--address", cluster.address]
    launch.command += ["--port", str(port)]
    launch.ready_path = "/bc/v2/health/ready"
    launch.env = cluster.env
    process = start(launch, port, work / "ray.log")
    ray.init(address=cluster.address, namespace="weir", logging_level="ERROR", log_to_driver=False)
    url = f"http://127.0.0.1:{port}/bc/v2/models/bc/infer"
    results = {}
    try:
        check(url, peers.v2_body("FP64")(X.iloc[:100]), expected)
        for n in (1, 2):
            weir(home, "deployments", "scale", "bc", "--min", str(n), "--max", str(n))
            wait_replicas(n)
            results[f"ray-{n}"] = measure(f"ray-{n}", url, script, args, None)
        weir(home, "deployments", "scale", "bc", "--min", "1", "--max", "2", "--target", "2", "--upscale-delay", "1")
        weir(home, "deployments", "scale", "bc", "--downscale-delay", "2")
        times = []
        for _ in range(args.repeats):
            wait_replicas(1)
            while get(f"http://127.0.0.1:{port}/bc/v2/health/ready") != 200:
                time.sleep(0.5)
            times.append(scale_up_seconds(url, script, args))
        spread = f"({min(times):.1f}–{max(times):.1f})" if len(times) > 1 else ""
        print(f"\nscale-up 1 → 2 replicas after a burst at c={args.concurrency}: {med(times):.1f} s {spread}")
    finally:
        stop(process)
        ray.shutdown()
    return results


if __name__ == "__main__":
    main()
