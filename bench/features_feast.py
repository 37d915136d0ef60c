"""Feast's side of the feature-store bench (bench/features.py runs it as a subprocess and compares).

Runs with Feast's own venv (``bash bench/features_setup.sh`` makes it) and needs nothing from weir:

    .bench/feast/bin/python bench/features_feast.py DATA_DIR --json OUT.json --frame-out FRAME.parquet \\
        [--repeats 3] [--online-iterations 2000] [--seed 7]

DATA_DIR comes from ``bench/features_data.py`` (driver_stats.parquet, customer_stats.parquet, entities.parquet).

Method:

- A feature repo in a temporary folder: entities ``driver`` (driver_id) and ``customer`` (customer_id), both
  INT64; feature views ``driver_stats`` (f0 … f8 Float64, f9 Int64, ttl 2 days) and ``customer_stats`` (c0 … c4
  Float64, ttl 7 days), each over a FileSource on the parquet file in place (timestamp_field
  ``event_timestamp``, created_timestamp_column ``created``). Offline store DuckDB (Feast's ibis-based one),
  online store sqlite, file registry, provider local, entity_key_serialization_version 3 (0.67's default and
  the only non-deprecated one). ``FeatureStore.apply`` registers it.
- Training frame: the entity frame plus an ``entity_row`` column (0 … n-1) goes to
  ``get_historical_features(...).to_df()`` with all 15 features, timed end to end ``--repeats`` times (a fresh
  copy of the frame each time, made outside the clock, because Feast rewrites its timestamp column in place).
  Every run's seconds are reported, the first also on its own. The last frame is written sorted by
  ``entity_row`` (f9 as nullable Int64, event_timestamp as datetime64[ns, UTC]), and the rows Feast returned are counted
  against the entity rows: missing and duplicated ``entity_row`` values.
- Online: ``materialize`` over the whole data range (timed), then in-process ``get_online_features`` for the
  10 driver features, ``.to_dict()`` included, for 1 entity per call (``--online-iterations`` calls after 100
  warm-up calls) and for 100 entities per call (iterations // 10 calls after 10 warm-up calls), keys drawn
  with a seeded generator from the driver ids that have feature rows; per-call latency from
  ``time.perf_counter_ns``, reported as p50/p90/p99 in microseconds.
- HTTP: ``feast serve`` (gunicorn with one uvicorn worker, access log off, worker recycling off so that no
  restart falls inside the loop) on 127.0.0.1 and a free port; POST ``/get-online-features`` for one driver
  over a single keep-alive ``http.client.HTTPConnection``, timed from request to the last byte of the body,
  ``--online-iterations`` requests after 100 warm-up ones. The server's process group is stopped at the end,
  also on error.
- Check: the online values (in process and over HTTP) of up to 500 sampled keys are compared with the last row
  per key in driver_stats.parquet by (event_timestamp, created); keys whose last two rows tie on both are left
  out (either is a right answer). ``online_mismatches`` counts keys with any differing feature.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import feast
import numpy as np
import pandas as pd
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64

DRIVER_FEATURES = [f"f{i}" for i in range(10)]
CUSTOMER_FEATURES = [f"c{i}" for i in range(5)]
DRIVER_REFS = [f"driver_stats:{name}" for name in DRIVER_FEATURES]
ALL_REFS = DRIVER_REFS + [f"customer_stats:{name}" for name in CUSTOMER_FEATURES]
CHECK_KEYS = 500

# ibis 12 calls duckdb's deprecated fetch_arrow_table() on every query; the warning is noise here.
warnings.filterwarnings("ignore", message=r"fetch_arrow_table\(\) is deprecated", category=DeprecationWarning)


def _percentiles(nanoseconds: list[int]) -> dict[str, float]:
    micro = np.asarray(nanoseconds, dtype=np.float64) / 1_000.0
    p50, p90, p99 = np.percentile(micro, [50, 90, 99])
    return {
        "p50_us": round(float(p50), 1),
        "p90_us": round(float(p90), 1),
        "p99_us": round(float(p99), 1),
        "n": len(nanoseconds),
    }


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_repo(repo: Path) -> None:
    (repo / "data").mkdir(parents=True, exist_ok=True)
    (repo / "feature_store.yaml").write_text(
        "\n".join(
            [
                "project: weir_bench",
                "provider: local",
                f"registry: {repo / 'data' / 'registry.db'}",
                "offline_store:",
                "    type: duckdb",
                "online_store:",
                "    type: sqlite",
                f"    path: {repo / 'data' / 'online.db'}",
                "entity_key_serialization_version: 3",
                "",
            ]
        )
    )


def _definitions(data: Path) -> list[Any]:
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
    customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.INT64)
    driver_source = FileSource(
        name="driver_stats_source",
        path=str((data / "driver_stats.parquet").resolve()),
        timestamp_field="event_timestamp",
        created_timestamp_column="created",
    )
    customer_source = FileSource(
        name="customer_stats_source",
        path=str((data / "customer_stats.parquet").resolve()),
        timestamp_field="event_timestamp",
        created_timestamp_column="created",
    )
    driver_view = FeatureView(
        name="driver_stats",
        entities=[driver],
        ttl=timedelta(days=2),
        schema=[Field(name="driver_id", dtype=Int64)]
        + [Field(name=name, dtype=Float64) for name in DRIVER_FEATURES[:-1]]
        + [Field(name="f9", dtype=Int64)],
        online=True,
        source=driver_source,
    )
    customer_view = FeatureView(
        name="customer_stats",
        entities=[customer],
        ttl=timedelta(days=7),
        schema=[Field(name="customer_id", dtype=Int64)]
        + [Field(name=name, dtype=Float64) for name in CUSTOMER_FEATURES],
        online=True,
        source=customer_source,
    )
    return [driver, customer, driver_source, customer_source, driver_view, customer_view]


def _training(store: FeatureStore, entities: pd.DataFrame, repeats: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    seconds: list[float] = []
    frame = pd.DataFrame()
    for run in range(repeats):
        entity_df = entities.copy()
        start = time.perf_counter()
        frame = store.get_historical_features(entity_df=entity_df, features=ALL_REFS).to_df()
        seconds.append(round(time.perf_counter() - start, 3))
        print(f"training run {run + 1}/{repeats}: {seconds[-1]:.3f} s, {len(frame)} rows", flush=True)
    n = len(entities)
    rows = frame["entity_row"].to_numpy()
    present = np.unique(rows)
    report = {
        "seconds": seconds,
        "first_seconds": seconds[0],
        "best_seconds": min(seconds),
        "median_seconds": round(float(np.median(seconds)), 3),
        "entity_rows": n,
        "rows_returned": len(frame),
        "missing_rows": int(n - np.isin(np.arange(n), present).sum()),
        "duplicated_rows": int(len(rows) - len(present)),
        "order_preserved": bool(np.array_equal(rows, np.arange(n))),
    }
    return frame, report


def _write_frame(frame: pd.DataFrame, path: Path) -> None:
    columns = ["entity_row", "driver_id", "customer_id", "event_timestamp", *DRIVER_FEATURES, *CUSTOMER_FEATURES]
    out = frame[columns].sort_values("entity_row", kind="stable").reset_index(drop=True)
    stamps = pd.to_datetime(out["event_timestamp"], utc=True)
    out["event_timestamp"] = stamps.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    out["f9"] = pd.to_numeric(out["f9"]).round().astype("Int64")
    for name in columns[:3]:
        out[name] = out[name].astype("int64")
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_parquet(path, index=False)


def _expected_latest(driver_stats: pd.DataFrame) -> tuple[pd.DataFrame, set[int]]:
    ordered = driver_stats.sort_values(["driver_id", "event_timestamp", "created"], kind="stable")
    last = ordered.groupby("driver_id", sort=False).tail(2)
    ties = last.groupby("driver_id").filter(
        lambda g: len(g) == 2 and g["event_timestamp"].nunique() == 1 and g["created"].nunique() == 1
    )
    latest = ordered.groupby("driver_id", sort=False).tail(1).set_index("driver_id")
    return latest, set(ties["driver_id"].unique().tolist())


def _mismatch(expected: pd.Series, got: dict[str, Any]) -> bool:
    for name in DRIVER_FEATURES:
        value = got.get(name)
        if value is None or not np.isclose(float(value), float(expected[name]), rtol=0, atol=1e-9):
            return True
    return False


def _online(store: FeatureStore, keys: np.ndarray, iterations: int, rng: np.random.Generator) -> dict[str, Any]:
    def run(batch: int, calls: int, warmup: int) -> list[int]:
        draws = rng.choice(keys, size=(warmup + calls, batch))
        rows = [[{"driver_id": int(k)} for k in draw] for draw in draws]
        for entity_rows in rows[:warmup]:
            store.get_online_features(features=DRIVER_REFS, entity_rows=entity_rows).to_dict()
        times = []
        for entity_rows in rows[warmup:]:
            start = time.perf_counter_ns()
            store.get_online_features(features=DRIVER_REFS, entity_rows=entity_rows).to_dict()
            times.append(time.perf_counter_ns() - start)
        return times

    one = _percentiles(run(1, iterations, 100))
    print(f"online, 1 entity: {one}", flush=True)
    hundred = _percentiles(run(100, max(iterations // 10, 1), 10))
    print(f"online, 100 entities: {hundred}", flush=True)
    return {"online_1": one, "online_100": hundred}


def _check_in_process(store: FeatureStore, sample: list[int], latest: pd.DataFrame) -> int:
    got = store.get_online_features(features=DRIVER_REFS, entity_rows=[{"driver_id": k} for k in sample]).to_dict()
    bad = 0
    for i, key in enumerate(sample):
        if _mismatch(latest.loc[key], {name: got[name][i] for name in DRIVER_FEATURES}):
            bad += 1
    return bad


def _start_server(repo: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    feast_cli = Path(sys.executable).with_name("feast")
    command = [str(feast_cli), "-c", str(repo), "serve", "-h", "127.0.0.1", "-p", str(port)]
    command += ["--workers", "1", "--no-access-log", "--max-requests", "0", "--max-requests-jitter", "0"]
    print("starting:", " ".join(command), flush=True)
    with log.open("wb") as sink:
        return subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)


def _stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=15)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_ready(process: subprocess.Popen[bytes], port: int, log: Path, timeout: float = 180.0) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"feast serve exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return time.perf_counter() - start
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"feast serve did not answer in {timeout} s:\n{log.read_text()[-4000:]}")


def _post(conn: http.client.HTTPConnection, key: int) -> bytes:
    body = json.dumps({"features": DRIVER_REFS, "entities": {"driver_id": [key]}}).encode()
    conn.request("POST", "/get-online-features", body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {data[:500]!r}")
    return data


def _http_values(data: bytes) -> dict[str, Any]:
    payload = json.loads(data)
    names = payload["metadata"]["feature_names"]
    return {name: result["values"][0] for name, result in zip(names, payload["results"], strict=True)}


def _http(
    repo: Path, keys: np.ndarray, iterations: int, rng: np.random.Generator, sample: list[int], latest: pd.DataFrame
) -> tuple[dict[str, Any], int]:
    port = _free_port()
    log = repo / "serve.log"
    process = _start_server(repo, port, log)
    try:
        ready = _wait_ready(process, port, log)
        print(f"feast serve answered after {ready:.1f} s on port {port}", flush=True)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        draws = [int(k) for k in rng.choice(keys, size=100 + iterations)]
        for key in draws[:100]:
            _post(conn, key)
        times = []
        for key in draws[100:]:
            start = time.perf_counter_ns()
            _post(conn, key)
            times.append(time.perf_counter_ns() - start)
        bad = sum(_mismatch(latest.loc[key], _http_values(_post(conn, key))) for key in sample[:100])
        conn.close()
        result = _percentiles(times)
        result["server_start_seconds"] = round(ready, 2)
        print(f"http, 1 entity: {result}", flush=True)
        return result, bad
    finally:
        _stop_server(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("--json", type=Path, required=True, dest="json_out")
    parser.add_argument("--frame-out", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--online-iterations", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    began = time.perf_counter()
    rng = np.random.default_rng(args.seed)

    entities = pd.read_parquet(args.data / "entities.parquet")
    entities["entity_row"] = np.arange(len(entities), dtype=np.int64)
    driver_stats = pd.read_parquet(args.data / "driver_stats.parquet")
    customer_stats = pd.read_parquet(args.data / "customer_stats.parquet", columns=["event_timestamp"])
    latest, ties = _expected_latest(driver_stats)
    keys = np.sort(latest.index.to_numpy())
    checkable = np.array(sorted(set(keys.tolist()) - ties))
    sample = [int(k) for k in rng.choice(checkable, size=min(CHECK_KEYS, len(checkable)), replace=False)]

    with tempfile.TemporaryDirectory(prefix="feast-bench-") as tmp:
        repo = Path(tmp)
        _write_repo(repo)
        start = time.perf_counter()
        store = FeatureStore(repo_path=str(repo))
        store.apply(_definitions(args.data))
        apply_seconds = time.perf_counter() - start
        print(f"feast {feast.__version__}: applied in {apply_seconds:.2f} s", flush=True)

        frame, training = _training(store, entities, args.repeats)
        _write_frame(frame, args.frame_out)

        low = min(driver_stats["event_timestamp"].min(), customer_stats["event_timestamp"].min())
        high = max(driver_stats["event_timestamp"].max(), customer_stats["event_timestamp"].max())
        start = time.perf_counter()
        store.materialize(
            start_date=(low - pd.Timedelta(seconds=1)).to_pydatetime(),
            end_date=(high + pd.Timedelta(seconds=1)).to_pydatetime(),
        )
        materialize_seconds = round(time.perf_counter() - start, 3)
        print(f"materialize: {materialize_seconds:.3f} s", flush=True)

        online = _online(store, keys, args.online_iterations, rng)
        in_process_bad = _check_in_process(store, sample, latest)
        http_1, http_bad = _http(repo, keys, args.online_iterations, rng, sample, latest)

    result = {
        "feast_version": feast.__version__,
        "apply_seconds": round(apply_seconds, 3),
        "training": training,
        "materialize_seconds": materialize_seconds,
        **online,
        "http_1": http_1,
        "online_mismatches": in_process_bad + http_bad,
        "online_checked": {
            "in_process": len(sample),
            "http": min(len(sample), 100),
            "tied_keys_skipped": len(ties),
            "in_process_mismatches": in_process_bad,
            "http_mismatches": http_bad,
        },
        "total_seconds": round(time.perf_counter() - began, 1),
    }
    text = json.dumps(result, indent=2)
    print(text)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(text + "\n")


if __name__ == "__main__":
    main()
