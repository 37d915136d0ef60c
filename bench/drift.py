"""Dataset drift: weir's DataDriftDetector against Evidently 0.7's DataDriftPreset, on the same data.

    .venv/bin/python bench/drift.py [--rows 100000] [--repeat 10] [--evidently-repeat 3]
                                    [--null-runs 200] [--null-rows 5000] [--seed 0] [--skip-evidently]

**Data.** Seeded reference and current frames of ``--rows`` rows each, 20 numeric and 5 categorical
columns of assorted shapes (normal, lognormal, exponential, gamma, beta, uniform, Student t, Poisson
counts; 2 to 30 categories), 2% missing values in two columns. 13 columns move in the current frame
(10 numeric: mean shifts of 0.3 to 0.5 sd, scale changes of x1.2 to x1.5, a Poisson rate and a Beta
shape changed, a 5% burst of outliers, normed Wasserstein 0.23 to 0.49; 3 categorical: proportions
changed, Jensen–Shannon distance 0.15 to 0.19), the 12 others do not. Both
frames are written to CSV in a temporary folder and each system reads them with pandas, so both see
the same values.

**Evidently** runs in its own venv, ``.bench/evidently`` (created here on first use: Evidently 0.7
with ``pandas<3``, as 0.7.23 does not import under pandas 3), through ``bench/evidently_drift.py``:
``Report([DataDriftPreset()], include_tests=True).run(current, reference)`` with the column types
declared in a ``DataDefinition``. Only ``report.run`` is timed; import, CSV reading and building the
``Dataset`` objects are not. **weir** runs in this process: ``DataDriftDetector().fit(reference)
.test(current)`` with default settings (types inferred), fit and test timed together. CPU time is
``time.process_time`` (every thread of the process); wall time ``time.perf_counter``.

**Null check (weir only).** ``--null-runs`` seeded pairs of reference and current frames of
``--null-rows`` rows each, all 25 columns drawn unshifted, so from the *same* distributions. Four
detectors per pair: the default (automatic choice: above 1000 reference values that is normed
Wasserstein and Jensen–Shannon distances against 0.1, no alpha involved); KS for numeric and
chi-square for categorical columns (p-values, Benjamini–Hochberg, alpha 0.05: the chance of any alarm
in a run should stay at or below alpha); the same p-value tests uncorrected (each column's false alarm
rate should be about alpha); and the default on the first 1000 rows of each frame, where the automatic
choice is the p-value tests (KS, chi-square, Z-test) with BH.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from weir.monitoring.choice import SMALL_DATA
from weir.monitoring.data_drift import DataDriftDetector, DataDriftResult

ROOT = Path(__file__).resolve().parent.parent
EVIDENTLY_VENV = ROOT / ".bench" / "evidently"
EVIDENTLY_PYTHON = EVIDENTLY_VENV / "bin" / "python"
EVIDENTLY_SCRIPT = Path(__file__).resolve().parent / "evidently_drift.py"
EVIDENTLY_REQUIREMENTS = ["evidently==0.7.*", "pandas<3"]
ALPHA = 0.05
MISSING = ("income", "balance")
"""Columns with 2% missing values on both sides."""

Draw = Callable[[np.random.Generator, int, bool], npt.NDArray[Any]]


@dataclass(frozen=True)
class Column:
    """One generated column: ``draw(rng, n, shifted)``; ``shift`` says how it moves, ``None`` if it does not."""

    name: str
    kind: str
    draw: Draw
    shift: str | None = None


def _categories(labels: list[str], before: list[float], after: list[float] | None = None) -> Draw:
    p0 = np.asarray(before) / np.sum(before)
    p1 = p0 if after is None else np.asarray(after) / np.sum(after)
    return lambda rng, n, shifted: rng.choice(np.asarray(labels), size=n, p=p1 if shifted else p0)


def _outliers(rng: np.random.Generator, n: int, shifted: bool) -> npt.NDArray[np.float64]:
    values = 10 + 2 * rng.standard_t(5, size=n)
    if shifted:  # a 5% burst of values around +15, a stuck upstream job
        burst = rng.random(n) < 0.05
        values[burst] = rng.normal(25, 2, size=int(burst.sum()))
    return values


_COUNTRY = 1 / np.arange(1, 31) ** 1.1
_COUNTRY_AFTER = _COUNTRY * np.r_[0.5, np.ones(4), np.full(5, 2.5), np.ones(20)]

COLUMNS: tuple[Column, ...] = (
    # numeric, unchanged
    Column("age", "numeric", lambda rng, n, s: np.round(rng.normal(41, 12, n))),
    Column("income", "numeric", lambda rng, n, s: rng.lognormal(10.5, 0.6, n)),
    Column("tenure_months", "numeric", lambda rng, n, s: rng.exponential(24, n)),
    Column("n_logins", "numeric", lambda rng, n, s: rng.poisson(8, n)),
    Column("session_minutes", "numeric", lambda rng, n, s: rng.gamma(2, 15, n)),
    Column("latitude", "numeric", lambda rng, n, s: rng.uniform(35, 60, n)),
    Column("score_a", "numeric", lambda rng, n, s: rng.normal(0, 1, n)),
    Column("temperature", "numeric", lambda rng, n, s: rng.normal(15, 8, n)),
    Column("ratio", "numeric", lambda rng, n, s: rng.beta(2, 5, n)),
    Column("returns", "numeric", lambda rng, n, s: rng.standard_t(3, n)),
    # numeric, shifted in the current frame
    Column("balance", "numeric", lambda rng, n, s: rng.normal(1150 if s else 1000, 300, n), "mean +0.5 sd"),
    Column("txn_amount", "numeric", lambda rng, n, s: rng.lognormal(3.5, 1.0, n) * (1.3 if s else 1), "x1.3"),
    Column("days_since_last", "numeric", lambda rng, n, s: rng.exponential(15 if s else 10, n), "scale x1.5"),
    Column("n_items", "numeric", lambda rng, n, s: rng.poisson(4.8 if s else 4, n), "Poisson 4 -> 4.8"),
    Column("cpu_load", "numeric", lambda rng, n, s: rng.beta(2.6 if s else 2, 2, n), "Beta(2,2) -> Beta(2.6,2)"),
    Column("sensor_1", "numeric", lambda rng, n, s: rng.normal(0, 1.5 if s else 1, n), "sd x1.5"),
    Column("sensor_2", "numeric", lambda rng, n, s: rng.normal(5.6 if s else 5, 2, n), "mean +0.3 sd"),
    Column("price", "numeric", lambda rng, n, s: rng.gamma(3, 20, n) * (1.2 if s else 1), "x1.2"),
    Column("delay", "numeric", _outliers, "5% outlier burst"),
    Column("humidity", "numeric", lambda rng, n, s: rng.uniform(25 if s else 20, 85 if s else 80, n), "+5 (0.3 sd)"),
    # categorical
    Column("region", "categorical", _categories([f"r{i}" for i in range(8)], [3, 2, 2, 1, 1, 1, 0.5, 0.5])),
    Column("channel", "categorical", _categories(["web", "app", "store", "phone", "partner"], [5, 3, 1, 0.6, 0.4])),
    Column("plan", "categorical", _categories(["basic", "pro", "team"], [6, 3, 1], [4, 4, 2]), "60/30/10 -> 40/40/20"),
    Column("device", "categorical", _categories(["mobile", "desktop"], [55, 45], [75, 25]), "55/45 -> 75/25"),
    Column(
        "country",
        "categorical",
        _categories([f"c{i:02d}" for i in range(30)], list(_COUNTRY), list(_COUNTRY_AFTER)),
        "top share halved, 5 others x2.5",
    ),
)
SHIFTED = [c.name for c in COLUMNS if c.shift]
UNSHIFTED = [c.name for c in COLUMNS if not c.shift]


def generate(rows: int, seed: int, side: int, shifted: bool) -> pd.DataFrame:
    """One frame: every column drawn from its own stream of ``(seed, side, column)``."""
    data: dict[str, npt.NDArray[Any]] = {}
    for j, column in enumerate(COLUMNS):
        rng = np.random.default_rng([seed, side, j])
        values = column.draw(rng, rows, shifted and column.shift is not None)
        if column.name in MISSING:
            values = values.astype(np.float64)
            values[rng.random(rows) < 0.02] = np.nan
        data[column.name] = values
    return pd.DataFrame(data)


def read(folder: Path, name: str) -> pd.DataFrame:
    categorical = {c.name: str for c in COLUMNS if c.kind == "categorical"}
    return pd.read_csv(folder / f"{name}.csv", dtype=categorical)


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):8.3f}  ({min(values):.3f} – {max(values):.3f})"


def ensure_evidently() -> None:
    probe = [str(EVIDENTLY_PYTHON), "-c", "import importlib.metadata as m; print(m.version('evidently'))"]
    if EVIDENTLY_PYTHON.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return
    print(f"Creating Evidently's venv at {EVIDENTLY_VENV.relative_to(ROOT)} (once; a few minutes)...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
    pip = [str(EVIDENTLY_VENV / "bin" / "pip"), "install", "--quiet", *EVIDENTLY_REQUIREMENTS]
    subprocess.run(pip, check=True)
    print("  done.", flush=True)


def run_evidently(folder: Path, repeat: int) -> dict[str, Any]:
    ensure_evidently()
    out = folder / "evidently.json"
    command = [str(EVIDENTLY_PYTHON), str(EVIDENTLY_SCRIPT), str(folder), str(out), "--repeat", str(repeat)]
    subprocess.run(command, check=True)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def run_weir(
    reference: pd.DataFrame, current: pd.DataFrame, repeat: int
) -> tuple[dict[str, list[float]], DataDriftResult]:
    times: dict[str, list[float]] = {"cpu": [], "wall": [], "fit_cpu": [], "test_cpu": []}
    result: DataDriftResult | None = None
    for _ in range(repeat):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        detector = DataDriftDetector().fit(reference)
        cpu1 = time.process_time()
        result = detector.test(current)
        cpu2, wall2 = time.process_time(), time.perf_counter()
        times["cpu"].append(cpu2 - cpu0)
        times["wall"].append(wall2 - wall0)
        times["fit_cpu"].append(cpu1 - cpu0)
        times["test_cpu"].append(cpu2 - cpu1)
    assert result is not None, "--repeat must be at least 1"
    return times, result


def verdicts(name: str, drifted: dict[str, bool]) -> None:
    found = [c for c in SHIFTED if drifted[c]]
    missed = [c for c in SHIFTED if not drifted[c]]
    false = [c for c in UNSHIFTED if drifted[c]]
    line = f"  {name:10} shifted columns found {len(found):2d} / {len(SHIFTED)}"
    line += f"   false alarms {len(false):2d} / {len(UNSHIFTED)}"
    if missed:
        line += f"   missed: {', '.join(missed)}"
    if false:
        line += f"   false alarms: {', '.join(false)}"
    print(line)


def null_check(runs: int, rows: int, seed: int) -> None:
    p_tests = {c.name: "ks" if c.kind == "numeric" else "chi2" for c in COLUMNS}
    small = min(rows, SMALL_DATA)
    detectors: dict[str, tuple[int, Callable[[], DataDriftDetector]]] = {
        "default (automatic choice)": (rows, lambda: DataDriftDetector()),
        "KS + chi-square, BH (default)": (rows, lambda: DataDriftDetector(tests=p_tests)),
        "KS + chi-square, uncorrected": (rows, lambda: DataDriftDetector(tests=p_tests, correction="none")),
        "default (automatic choice), small": (small, lambda: DataDriftDetector()),
    }
    flagged = dict.fromkeys(detectors, 0)
    any_alarm = dict.fromkeys(detectors, 0)
    per_column = {name: dict.fromkeys((c.name for c in COLUMNS), 0) for name in detectors}
    tests_used: dict[str, set[str]] = {name: set() for name in detectors}
    start = time.perf_counter()
    for run in range(runs):
        reference = generate(rows, seed + 1000 + run, 0, shifted=False)
        current = generate(rows, seed + 1000 + run, 1, shifted=False)
        for name, (n, make) in detectors.items():
            result = make().fit(reference.head(n)).test(current.head(n))
            hits = [c.column for c in result.columns if c.drifted]
            flagged[name] += len(hits)
            any_alarm[name] += bool(hits)
            for column in hits:
                per_column[name][column] += 1
            tests_used[name].update(c.test for c in result.columns if c.test)
    elapsed = time.perf_counter() - start
    n_columns = len(COLUMNS)
    print()
    print(
        f"weir null check: {runs} seeded runs x {n_columns} columns, reference and current drawn from the same "
        f"distributions, alpha = {ALPHA} ({elapsed:.1f} s)"
    )
    print(f"  {'detector':34} {'rows':>6} {'columns flagged':>24}   {'runs with any alarm':>20}   tests")
    for name, (n, _) in detectors.items():
        cols_txt = f"{flagged[name]} / {runs * n_columns} = {flagged[name] / (runs * n_columns):.2%}"
        runs_txt = f"{any_alarm[name]} / {runs} = {any_alarm[name] / runs:.1%}"
        used = ", ".join(sorted(tests_used[name]))
        print(f"  {name:34} {n:6,} {cols_txt:>24}   {runs_txt:>20}   {used}")
        worst = [f"{c} {k}/{runs}" for c, k in sorted(per_column[name].items(), key=lambda kv: -kv[1])[:3] if k]
        if worst:
            print(f"  {'':41} most flagged: {', '.join(worst)}")
    print(
        f"  nominal: a p-value test flags a column in about {ALPHA:.0%} of runs uncorrected; with BH, any alarm in "
        f"at most {ALPHA:.0%} of runs (about {ALPHA / n_columns:.2%} of columns). Distances (wasserstein, "
        f"jensen_shannon >= 0.1, the automatic choice above {SMALL_DATA:,} reference values) have no alpha."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="rows in each of reference and current")
    parser.add_argument("--repeat", type=int, default=10, help="weir runs")
    parser.add_argument("--evidently-repeat", type=int, default=3, help="Evidently runs")
    parser.add_argument("--null-runs", type=int, default=200)
    parser.add_argument("--null-rows", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-evidently", action="store_true")
    args = parser.parse_args()

    numeric = [c.name for c in COLUMNS if c.kind == "numeric"]
    categorical = [c.name for c in COLUMNS if c.kind == "categorical"]
    print(
        f"drift bench: {args.rows:,} reference + {args.rows:,} current rows x {len(numeric)} numeric + "
        f"{len(categorical)} categorical columns, {len(SHIFTED)} shifted, seed {args.seed}"
    )
    with tempfile.TemporaryDirectory(prefix="weir-drift-") as tmp:
        folder = Path(tmp)
        generate(args.rows, args.seed, 0, shifted=False).to_csv(folder / "reference.csv", index=False)
        generate(args.rows, args.seed, 1, shifted=True).to_csv(folder / "current.csv", index=False)
        (folder / "columns.json").write_text(json.dumps({"numeric": numeric, "categorical": categorical}))
        evidently = None if args.skip_evidently else run_evidently(folder, args.evidently_repeat)
        reference, current = read(folder, "reference"), read(folder, "current")

    times, result = run_weir(reference, current, args.repeat)
    weir_drifted = {c.column: c.drifted for c in result.columns}

    print()
    header = f"  {'system':10} {'runs':>4}   {'CPU s: median (min – max)':>30}   {'wall s: median (min – max)':>30}"
    print(header)
    if evidently:
        runs = len(evidently["cpu_s"])
        print(f"  {'Evidently':10} {runs:4d}   {spread(evidently['cpu_s']):>30}   {spread(evidently['wall_s']):>30}")
    print(f"  {'weir':10} {args.repeat:4d}   {spread(times['cpu']):>30}   {spread(times['wall']):>30}")
    print(
        f"  weir split: fit {statistics.median(times['fit_cpu']):.3f} CPU-s, "
        f"test {statistics.median(times['test_cpu']):.3f} CPU-s (medians)"
    )
    if evidently:
        ratio = statistics.median(evidently["cpu_s"]) / statistics.median(times["cpu"])
        wall_ratio = statistics.median(evidently["wall_s"]) / statistics.median(times["wall"])
        print(f"  Evidently / weir: {ratio:.0f}x CPU, {wall_ratio:.0f}x wall (medians)")
        versions = ", ".join(f"{k} {v}" for k, v in evidently["versions"].items())
        print(
            f"  Evidently venv: {versions}; not counted: import {evidently['import_s']:.1f} s, "
            f"Dataset.from_pandas {evidently['dataset_cpu_s']:.2f} CPU-s"
        )

    print()
    print(f"  {'column':16} {'shift':32} {'Evidently':>38}   {'weir':>30}")
    for column in COLUMNS:
        ours = result[column.name]
        weir_txt = f"{ours.test} {ours.statistic:.4f} {'DRIFT' if ours.drifted else 'ok'}"
        ev_txt = ""
        if evidently:
            ev = evidently["columns"][column.name]
            ev_txt = f"{ev['method']} {ev['value']:.4f} {'DRIFT' if ev['drifted'] else 'ok'}"
        print(f"  {column.name:16} {column.shift or '-':32} {ev_txt:>38}   {weir_txt:>30}")
    print()
    if evidently:
        verdicts("Evidently", {name: bool(v["drifted"]) for name, v in evidently["columns"].items()})
    verdicts("weir", weir_drifted)

    if args.null_runs:
        null_check(args.null_runs, args.null_rows, args.seed)


if __name__ == "__main__":
    main()
