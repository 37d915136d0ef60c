"""Evidently's side of ``bench/drift.py``: runs inside Evidently's own venv, never imports weir.

    .bench/evidently/bin/python bench/evidently_drift.py DATA_DIR OUT_JSON [--repeat 3]

Reads ``reference.csv``, ``current.csv`` and ``columns.json`` (``numeric`` and ``categorical`` column
names) from ``DATA_DIR``, runs Evidently 0.7's ``Report([DataDriftPreset()], include_tests=True)``
``--repeat`` times and writes to ``OUT_JSON`` the CPU seconds (``time.process_time``, every thread of
this process) and wall seconds of each ``report.run`` alone, and the per-column method, score, threshold
and verdict of the last run (the "Value Drift" test: FAIL means drift). Reading the CSVs, importing
Evidently and building the ``Dataset`` objects are timed apart and not counted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd


def log(message: str) -> None:
    print(f"  [evidently] {message}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    start = time.perf_counter()
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    import_s = time.perf_counter() - start

    columns = json.loads((args.data / "columns.json").read_text())
    numeric, categorical = list(columns["numeric"]), list(columns["categorical"])
    dtypes = dict.fromkeys(categorical, str)
    reference = pd.read_csv(args.data / "reference.csv", dtype=dtypes)
    current = pd.read_csv(args.data / "current.csv", dtype=dtypes)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    reference_ds = Dataset.from_pandas(reference, data_definition=definition)
    current_ds = Dataset.from_pandas(current, data_definition=definition)
    dataset_cpu, dataset_wall = time.process_time() - cpu0, time.perf_counter() - wall0

    cpu: list[float] = []
    wall: list[float] = []
    snapshot: Any = None
    for i in range(args.repeat):
        report = Report([DataDriftPreset()], include_tests=True)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        snapshot = report.run(current_ds, reference_ds)
        cpu.append(time.process_time() - cpu0)
        wall.append(time.perf_counter() - wall0)
        log(f"run {i + 1}/{args.repeat}: {cpu[-1]:.2f} CPU-s, {wall[-1]:.2f} s wall")

    body = snapshot.dict()
    found: dict[str, dict[str, Any]] = {}
    for metric in body["metrics"]:
        config = metric["config"]
        if config.get("type") == "evidently:metric_v2:ValueDrift":
            found[config["column"]] = {
                "method": config["method"],
                "value": metric["value"],
                "threshold": config["threshold"],
                "drifted": None,
            }
    for test in body["tests"]:
        params = test["metric_config"]["params"]
        if test["id"] == "drift" and params.get("type") == "evidently:metric_v2:ValueDrift":
            found[params["column"]]["drifted"] = test["status"] == "FAIL"
    share = next(m["value"] for m in body["metrics"] if m["config"]["type"].endswith("DriftedColumnsCount"))

    result = {
        "versions": {name: version(name) for name in ("evidently", "pandas", "numpy", "scipy")},
        "import_s": import_s,
        "dataset_cpu_s": dataset_cpu,
        "dataset_wall_s": dataset_wall,
        "cpu_s": cpu,
        "wall_s": wall,
        "columns": found,
        "drifted_columns": share,
    }
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
