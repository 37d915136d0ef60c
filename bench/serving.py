"""Inference serving: weir's server against MLflow, MLServer and a bare floor, same run, same machine.

    bash bench/serving_setup.sh          # once: wrk, .bench/mlflow, .bench/mlserver
    .venv/bin/python bench/serving.py [--servers mlflow,mlserver,floor,weir] [--workers 2]
                                      [--duration 10] [--repeats 3] [--quick] [--json PATH]

**Model.** scikit-learn ``Pipeline(StandardScaler, HistGradientBoostingClassifier(max_iter=100,
random_state=0))`` fitted on the bundled breast_cancer data (569 rows, 30 features, as a DataFrame).
The fitted object is written once with joblib and loaded by every server (MLflow and MLServer run in
their own venvs, ``.bench/``, with weir's scikit-learn version); the floor runs it converted by skl2onnx.

**Servers.** Each starts as a real subprocess (its own process group) on a free 127.0.0.1 port with
``--workers`` workers (default 2, the cores here) and ``OMP_NUM_THREADS=1`` (and the BLAS
equivalents) in its environment, is waited on until its ready endpoint answers, checked to predict the
same labels as scikit-learn on 100 rows, warmed up, measured, then stopped. ``mlflow``: ``mlflow models
serve --env-manager local -w N`` on a model saved by ``mlflow.sklearn.save_model`` with an input
example (so with a signature), MLflow's ``dataframe_split`` body. ``mlserver``: MLServer 1.7.1 with
``mlserver_sklearn.SKLearnModel``, ``parallel_workers = N`` (``--mlserver-parallel-workers``), debug
off, V2 FP64 tensor body. ``floor``: ``bench/serving_floor.py`` (uvicorn + Starlette + orjson +
onnxruntime on one thread, TCP_NODELAY set), V2 FP32 body. ``weir``: ``weir serve --workers N`` after
registering the model and ``weir deploy bc breast_cancer@champion``, measured twice: ``weir-v2`` (V2
FP64 tensor) and ``weir-mlflow`` (``dataframe_split`` to ``/endpoints/bc/invocations``).

**Load.** wrk (``-t`` min(2, c), ``-c`` c, ``--latency``, a Lua script posting the body) for each route
x {1 row, 100 rows} x concurrency {1, 16, 64}, ``--repeats`` times ``--duration`` seconds. wrk runs on
the same 2 cores as the server, as a real client on one machine would. Server CPU per request is the
utime + stime delta of the server process and all its descendants (``/proc/PID/stat``) over the run,
divided by the requests wrk completed. Errors are non-2xx responses plus socket errors.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import joblib
import serving_peers as peers
import sklearn
from serving_load import Cell, run_wrk, write_script, wrk_version
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

SERVERS = ("mlflow", "mlserver", "floor", "weir")
SIZES = {"single": 1, "batch": 100}
CONCURRENCY = (1, 16, 64)
HEADER = f"  {'server':12} {'c':>3} {'req/s':>9} {'(min–max)':>13} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7} CPU ms/req"
TARGETS = "weir >= 20x MLflow and >= 4x MLServer req/s, p99 <= 0.1x MLflow's (1 row, c=16); floor <= 1.5x weir"


def train() -> tuple[Pipeline, Any]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = Pipeline(
        [("scale", StandardScaler()), ("hgb", HistGradientBoostingClassifier(max_iter=100, random_state=0))]
    )
    return model.fit(X, y), X


def get(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except OSError:
        return 0


def post(url: str, body: bytes) -> Any:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def start(launch: peers.Launch, port: int, log: Path, timeout: float = 180.0) -> subprocess.Popen[bytes]:
    env = {**os.environ, **peers.THREAD_PINS, **launch.env}
    with log.open("wb") as out:
        process = subprocess.Popen(
            launch.command, cwd=launch.cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
            raise peers.Unavailable(f"exited with {process.returncode} before it was ready: {tail[0][:200]}")
        if get(f"http://127.0.0.1:{port}{launch.ready_path}") == 200:
            return process
        time.sleep(0.5)
    stop(process)
    raise peers.Unavailable(f"not ready after {timeout:.0f} s (log: {log})")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, then SIGKILL whatever of the group is left."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        pass
    time.sleep(0.5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(5)


def prepare(name: str, work: Path, port: int, args: argparse.Namespace, model: Pipeline, X: Any) -> peers.Launch:
    if name == "mlflow":
        return peers.prepare_mlflow(work, port, args.workers)
    if name == "mlserver":
        return peers.prepare_mlserver(work, port, args.workers, args.mlserver_parallel_workers)
    if name == "floor":
        return peers.prepare_floor(work, port, args.workers, model, X.shape[1])
    return peers.prepare_weir(work, port, args.workers, model, X.iloc[:5])


def bench_server(name: str, work: Path, args: argparse.Namespace, model: Pipeline, X: Any) -> dict[str, Any]:
    """Every cell of one server's routes; ``{"error": reason}`` when it cannot run."""
    port = peers.free_port()
    try:
        launch = prepare(name, work, port, args, model, X)
        print(f"  {name}: {launch.version}; starting on port {port}...", flush=True)
        process = start(launch, port, work / f"{name}.log")
    except peers.Unavailable as exc:
        print(f"  {name}: skipped: {exc}", flush=True)
        return {"error": str(exc)}
    results: dict[str, Any] = {"version": launch.version, "routes": {}}
    expected = model.predict(X.iloc[:100]).tolist()
    try:
        for route in launch.routes:
            url = f"http://127.0.0.1:{port}{route.path}"
            try:
                got = peers.labels_from(post(url, route.body(X.iloc[:100])), 100)
                agree = sum(int(a == b) for a, b in zip(got, expected, strict=True))
            except (OSError, ValueError) as exc:
                print(f"  {route.name}: skipped: the check request failed: {exc}", flush=True)
                results["routes"][route.name] = {"error": f"check request failed: {exc}"}
                continue
            print(f"  {route.name}: predictions agree with scikit-learn on {agree}/100 rows", flush=True)
            cells: dict[str, Any] = {"agree": agree}
            results["routes"][route.name] = cells
            try:
                for size, rows in SIZES.items():
                    script = write_script(work, f"{route.name}-{size}", route.body(X.iloc[:rows]))
                    run_wrk(url, script, 16, min(2.0, args.duration), None)  # warm-up
                    for c in CONCURRENCY:
                        runs = [run_wrk(url, script, c, args.duration, process.pid) for _ in range(args.repeats)]
                        cells[f"{size}/{c}"] = [r.as_dict() for r in runs]
                        print(f"    {route.name:12} {size:6} c={c:<3} {row(runs)}", flush=True)
            except (subprocess.CalledProcessError, ValueError) as exc:
                print(f"  {route.name}: stopped: wrk failed: {exc}", flush=True)
                cells["error"] = f"wrk failed: {exc}"
    finally:
        stop(process)
    return results


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def row(runs: list[Cell]) -> str:
    rps = [r.rps for r in runs]
    cpu = [r.cpu_ms_per_request for r in runs if r.cpu_ms_per_request is not None]
    spread = f"({min(rps):.0f}–{max(rps):.0f})" if len(rps) > 1 else ""
    return (
        f"{med(rps):9.0f} {spread:>13} {med([r.p50_ms for r in runs]):9.2f} {med([r.p99_ms for r in runs]):9.2f}"
        f" {sum(r.errors for r in runs):7d} {med(cpu):9.2f}"
    )


def table(results: dict[str, Any]) -> None:
    for size, rows in SIZES.items():
        print(f"\n{rows} row{'s' if rows > 1 else ''} per request")
        print(HEADER)
        for routes in (r.get("routes", {}) for r in results.values()):
            for name, cells in routes.items():
                for c in CONCURRENCY:
                    if f"{size}/{c}" in cells:
                        runs = [Cell(**d) for d in cells[f"{size}/{c}"]]
                        print(f"  {name:12} {c:3d} {row(runs)}")


def figure(results: dict[str, Any], route: str, key: str, field: str = "rps") -> float | None:
    for server in results.values():
        cells = server.get("routes", {}).get(route, {})
        values = [run[field] for run in cells.get(key, []) if run[field] is not None]
        if values:
            return med(values)
    return None


def ratios(results: dict[str, Any]) -> dict[str, float]:
    key, out = "single/16", {}
    mlflow, mlserver, floor = (figure(results, n, key) for n in ("mlflow", "mlserver", "floor"))
    mlflow_p99 = figure(results, "mlflow", key, "p99_ms")
    print(f"\nRatios at 1 row, c=16 (targets: {TARGETS})")
    for name in ("weir-v2", "weir-mlflow", "floor"):
        rps, p99 = figure(results, name, key), figure(results, name, key, "p99_ms")
        if rps is None:
            print(f"  {name}: not measured")
            continue
        pairs = [("vs mlflow req/s", mlflow and rps / mlflow), ("vs mlserver req/s", mlserver and rps / mlserver)]
        pairs.append(("p99 / mlflow p99", mlflow_p99 and p99 and p99 / mlflow_p99))
        if name != "floor":
            pairs.append(("floor / it req/s", floor and floor / rps))
        text = ", ".join(f"{label} {value:.2f}" for label, value in pairs if value)
        print(f"  {name}: {text or 'no peer measured to compare with'}")
        out.update({f"{name} {label}": float(value) for label, value in pairs if value})
    return out


def nagle_notes(results: dict[str, Any]) -> None:
    """Flag routes whose 1-row, c=1 latency exceeds their CPU time by the ~40 ms of a delayed ACK."""
    for server in results.values():
        for name in server.get("routes", {}):
            p50, cpu = (
                figure(results, name, "single/1", "p50_ms"),
                figure(results, name, "single/1", "cpu_ms_per_request"),
            )
            if p50 is not None and cpu is not None and p50 - cpu >= 30:
                print(
                    f"  note: {name} waits {p50 - cpu:.0f} ms beyond its CPU time per request at c=1: keep-alive "
                    "responses held by Nagle + delayed ACK (TCP_NODELAY off, e.g. uvicorn --workers on asyncio)"
                )


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", default=",".join(SERVERS), help=f"comma-separated, from {','.join(SERVERS)}")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--mlserver-parallel-workers", type=int, default=None, help="default: --workers")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per cell")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2 s cells, 1 repeat: a smoke run")
    parser.add_argument("--json", type=Path, help="write every raw number here")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.repeats = 2.0, 1
    names = [n.strip() for n in args.servers.split(",") if n.strip()]
    unknown = sorted(set(names) - set(SERVERS))
    if unknown:
        parser.error(f"unknown server(s) {', '.join(unknown)}; choose from {', '.join(SERVERS)}")

    cpu_model = cpu_name()
    pins = ", ".join(f"{k}=1" for k in peers.THREAD_PINS)
    print(f"Serving bench: {os.cpu_count()} cores ({cpu_model}), load average {os.getloadavg()[0]:.2f} at start")
    print(f"  {wrk_version()}; scikit-learn {sklearn.__version__} in every venv")
    print(f"  {args.workers} workers per server; model threads pinned to 1 per worker ({pins})")
    print(f"  {args.duration:g} s per cell, {args.repeats} repeat(s): req/s median (min–max); p50, p99, CPU medians")
    load_start = os.getloadavg()[0]
    model, X = train()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="weir-serving-") as tmp:
        work = Path(tmp)
        joblib.dump(model, work / "model.joblib")
        X.iloc[:5].to_csv(work / "example.csv", index=False)
        for name in names:
            results[name] = bench_server(name, work, args, model, X)
    table(results)
    found = ratios(results)
    nagle_notes(results)
    for name, result in results.items():
        if "error" in result:
            print(f"  {name}: not run: {result['error']}")
    print(f"Load average {os.getloadavg()[0]:.2f} at the end.")
    if args.json:
        meta = {"workers": args.workers, "duration": args.duration, "repeats": args.repeats, "load_start": load_start}
        meta["load_end"] = os.getloadavg()[0]
        meta |= {"cpu": cpu_model, "cores": os.cpu_count(), "mlserver_parallel_workers": args.mlserver_parallel_workers}
        args.json.write_text(json.dumps({"meta": meta, "servers": results, "ratios": found}, indent=1))


if __name__ == "__main__":
    main()
