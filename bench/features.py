"""Feature store: weir against Feast 0.67, same data, same machine, same run.

    bash bench/features_setup.sh        # once: Feast in .bench/feast
    .venv/bin/python bench/features.py [--data .bench/features-data] [--repeats 5] [--online-iterations 5000]
                                       [--skip-feast] [--json PATH]

**Data.** ``bench/features_data.py`` (seeded): two views of 500,000 rows each (1,000,000 feature rows),
10 + 5 features, ttl 2 and 7 days, created times for ties; 100,000 entity rows with keys that have no
rows too.

**Training frame.** ``FeatureStore.training_frame(entities, "both")`` with all 15 features, end to end
(entity checks, point-in-time join, fingerprint, the stored per-feature profile). ``cold`` is the first
call on a source state (it builds the offline index: the rows ordered per key, memory-mapped); ``warm``
the following calls (``--repeats``). Feast: ``get_historical_features(...).to_df()`` on its DuckDB offline
store, every run (``bench/features_feast.py``). Correctness: weir's frame must equal, value for value, a
reference implementation (pandas ``merge_asof`` per view on rows sorted by event then created time, nulls
past the ttl) and Feast's frame (matched by entity row: Feast reorders rows).

**Online.** Both materialise everything into SQLite (timed). In process: ``get_online`` (weir) and
``get_online_features(...).to_dict()`` (Feast) for the 10 driver features, 1 entity per call and 100 per
call, keys drawn with a seeded generator; p50/p90/p99 of ``perf_counter_ns`` per call. HTTP: ``weir serve``
(one worker) ``POST /api/v1/features/online`` and ``feast serve`` (one worker) ``POST /get-online-features``,
one entity, one keep-alive connection, after warm-up.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import features_data

import weir
from weir.features import Entity, FeatureService, FeatureView, ParquetSource

ROOT = Path(__file__).resolve().parents[1]
FEAST_PYTHON = ROOT / ".bench" / "feast" / "bin" / "python"


def definitions(data: Path) -> list[Any]:
    driver = Entity("driver", join_keys={"driver_id": "int64"})
    customer = Entity("customer", join_keys={"customer_id": "int64"})
    fields = {f: "float64" for f in features_data.DRIVER_FEATURES} | {"f9": "int64"}  # f9 is an integer count
    drivers = FeatureView(
        "driver_stats", entities=[driver], source=ParquetSource(str(data / "driver_stats.parquet")),
        event_time="event_timestamp", created_time="created", fields=fields,
        ttl=timedelta(days=features_data.DRIVER_TTL_DAYS),
    )  # fmt: skip
    customers = FeatureView(
        "customer_stats", entities=[customer], source=ParquetSource(str(data / "customer_stats.parquet")),
        event_time="event_timestamp", created_time="created",
        fields={f: "float64" for f in features_data.CUSTOMER_FEATURES},
        ttl=timedelta(days=features_data.CUSTOMER_TTL_DAYS),
    )  # fmt: skip
    return [
        driver,
        customer,
        drivers,
        customers,
        FeatureService("both", features=[drivers, customers]),
        FeatureService("drivers", features=[drivers]),
    ]


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    us = np.asarray(samples_ns) / 1000
    return {"p50_us": float(np.percentile(us, 50)), "p90_us": float(np.percentile(us, 90)),
            "p99_us": float(np.percentile(us, 99)), "n": len(us)}  # fmt: skip


def reference_frame(data: Path, entities: pd.DataFrame) -> pd.DataFrame:
    """The point-in-time rule with pandas merge_asof, view by view."""
    out = entities.reset_index(names="entity_row")
    for file, key, feats, ttl in (
        ("driver_stats", "driver_id", features_data.DRIVER_FEATURES, features_data.DRIVER_TTL_DAYS),
        ("customer_stats", "customer_id", features_data.CUSTOMER_FEATURES, features_data.CUSTOMER_TTL_DAYS),
    ):
        rows = pd.read_parquet(data / f"{file}.parquet").sort_values(["event_timestamp", "created"], kind="stable")
        rows = rows.rename(columns={"event_timestamp": "__ts"})[[key, "__ts", *feats]]
        left = out.sort_values("event_timestamp", kind="stable")
        joined = pd.merge_asof(left, rows, left_on="event_timestamp", right_on="__ts", by=key, direction="backward")
        stale = joined["__ts"] < joined["event_timestamp"] - pd.Timedelta(days=ttl)
        joined.loc[stale, feats] = np.nan
        out = joined.drop(columns="__ts").sort_values("entity_row").reset_index(drop=True)
    return out


def same_values(a: pd.DataFrame, b: pd.DataFrame, columns: list[str]) -> list[str]:
    differing = []
    for c in columns:
        x, y = a[c].to_numpy(dtype=float, na_value=np.nan), b[c].to_numpy(dtype=float, na_value=np.nan)
        if not np.array_equal(x, y, equal_nan=True):
            differing.append(c)
    return differing


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_online(home: Path, keys: np.ndarray, iterations: int) -> dict[str, float]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEIR_")}
    env.update({"WEIR_HOME": str(home), "WEIR_PORT": str(port), "OMP_NUM_THREADS": "1"})
    weir_bin = str(Path(sys.executable).with_name("weir"))
    server = subprocess.Popen([weir_bin, "serve"], env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.time() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", "/v2/health/live")
                conn.getresponse().read()
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise RuntimeError("weir serve did not start") from None
                time.sleep(0.2)
        feats = [f"driver_stats:{f}" for f in features_data.DRIVER_FEATURES]
        samples = []
        for i in range(iterations + 200):
            body = json.dumps({"features": feats, "entities": [{"driver_id": int(keys[i % len(keys)])}]})
            start = time.perf_counter_ns()
            conn.request("POST", "/api/v1/features/online", body, {"content-type": "application/json"})
            response = conn.getresponse()
            payload = response.read()
            elapsed = time.perf_counter_ns() - start
            if response.status != 200:
                raise RuntimeError(f"weir answered {response.status}: {payload[:200]!r}")
            if i >= 200:
                samples.append(elapsed)
        return percentiles(samples)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def run_weir(data: Path, home: Path, repeats: int, iterations: int) -> tuple[dict[str, Any], pd.DataFrame]:
    entities = pd.read_parquet(data / "entities.parquet")
    out: dict[str, Any] = {"weir_version": weir.__version__}
    with weir.connect(home=home, user="bench") as ws:
        fs = ws.features
        fs.apply(definitions(data))
        timings = []
        for _ in range(repeats + 1):
            start = time.perf_counter()
            frame = fs.training_frame(entities, "both")
            timings.append(time.perf_counter() - start)
        out["training"] = {"cold_seconds": timings[0], "warm_seconds": timings[1:],
                           "warm_median_seconds": float(np.median(timings[1:])), "rows": len(frame)}  # fmt: skip
        start = time.perf_counter()
        fs.materialize(None, pd.Timestamp("2027-01-01", tz="UTC").to_pydatetime())
        out["materialize_seconds"] = time.perf_counter() - start
        keys = np.random.default_rng(11).integers(0, 10_000, size=iterations)
        for label, size, count in (("online_1", 1, iterations), ("online_100", 100, max(iterations // 10, 50))):
            samples = []
            for i in range(count + 100):
                rows = [{"driver_id": int(k)} for k in np.resize(np.roll(keys, i), size)]
                start_ns = time.perf_counter_ns()
                fs.get_online("drivers", rows)
                elapsed = time.perf_counter_ns() - start_ns
                if i >= 100:
                    samples.append(elapsed)
            out[label] = percentiles(samples)
    out["http_1"] = http_online(home, keys, iterations)
    return out, frame.to_pandas()


def run_feast(data: Path, work: Path, repeats: int, iterations: int) -> tuple[dict[str, Any], pd.DataFrame]:
    if not FEAST_PYTHON.exists():
        raise SystemExit("Feast is not installed: run `bash bench/features_setup.sh` first (or pass --skip-feast).")
    result, frame = work / "feast.json", work / "feast_frame.parquet"
    cmd = [str(FEAST_PYTHON), str(ROOT / "bench" / "features_feast.py"), str(data), "--json", str(result),
           "--frame-out", str(frame), "--repeats", str(repeats), "--online-iterations", str(iterations)]  # fmt: skip
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return json.loads(result.read_text()), pd.read_parquet(frame)


def row(label: str, weir_value: float, feast_value: float | None, unit: str) -> str:
    ratio = "" if not feast_value else f"{feast_value / weir_value:8.1f}x"
    feast_text = "-" if feast_value is None else f"{feast_value:12.1f}"
    return f"{label:<38}{weir_value:12.1f}{feast_text:>14} {unit:<4}{ratio}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT / ".bench" / "features-data")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--online-iterations", type=int, default=5000)
    parser.add_argument("--skip-feast", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if not (args.data / "entities.parquet").exists():
        print(f"generating data in {args.data} …", flush=True)
        features_data.generate(args.data)
    entities = pd.read_parquet(args.data / "entities.parquet")
    with tempfile.TemporaryDirectory(prefix="weir-bench-features-") as tmp:
        work = Path(tmp)
        print("weir …", flush=True)
        ours, frame = run_weir(args.data, work / "home", args.repeats, args.online_iterations)
        feast, feast_frame = (None, None) if args.skip_feast else run_feast(args.data, work, 3, args.online_iterations)
    features = [*features_data.DRIVER_FEATURES, *features_data.CUSTOMER_FEATURES]
    reference = reference_frame(args.data, entities)
    checks = {"rows_equal_entity_rows": len(frame) == len(entities),
              "differs_from_reference": same_values(frame, reference, features)}  # fmt: skip
    if feast_frame is not None:
        checks["differs_from_feast"] = same_values(frame, feast_frame.sort_values("entity_row"), features)

    print(
        f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print(f"{'':<38}{'weir':>12}{'Feast ' + (feast or {}).get('feast_version', '-'):>14}")
    training = ours["training"]
    f_train = (feast or {}).get("training", {})
    f_median = float(np.median(f_train["seconds"])) if f_train else None
    print(row("training frame, warm (median), ms", training["warm_median_seconds"] * 1e3,
              None if f_median is None else f_median * 1e3, "ms"))  # fmt: skip
    print(row("training frame, cold (first call), ms", training["cold_seconds"] * 1e3,
              None if not f_train else f_train["seconds"][0] * 1e3, "ms"))  # fmt: skip
    print(row("materialize everything, ms", ours["materialize_seconds"] * 1e3,
              None if feast is None else feast["materialize_seconds"] * 1e3, "ms"))  # fmt: skip
    for key, label in (("online_1", "online 1 entity x 10 features"), ("online_100", "online 100 entities x 10"),
                       ("http_1", "HTTP 1 entity x 10 features")):  # fmt: skip
        for q in ("p50_us", "p99_us"):
            print(row(f"{label} {q[:3]}, µs", ours[key][q], None if feast is None else feast[key][q], "µs"))
    print(f"\nweir warm runs (s): {', '.join(f'{s:.3f}' for s in training['warm_seconds'])}")
    if f_train:
        print(
            f"Feast runs (s): {', '.join(f'{s:.3f}' for s in f_train['seconds'])}; rows returned "
            f"{f_train['rows_returned']}, missing {f_train['missing_rows']}, duplicated {f_train['duplicated_rows']}"
        )
    print(f"checks: {checks}")
    if args.json:
        args.json.write_text(json.dumps({"weir": ours, "feast": feast, "checks": checks}, indent=2))
    if checks["differs_from_reference"] or checks.get("differs_from_feast") or not checks["rows_equal_entity_rows"]:
        raise SystemExit("weir's training frame differs: see checks above")


if __name__ == "__main__":
    main()
