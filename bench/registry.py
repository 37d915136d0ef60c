"""Time to register and to load a model version.

    .venv/bin/python bench/registry.py [--repeat 30] [--database-url URL]

Prints, per model, the median and spread (p10–p90) of ``register`` (serialise, round-trip check,
artifact write with fsync, metadata transaction with audit entry) and ``load`` (metadata lookup,
SHA-256 verification, deserialisation), on a fresh workspace in a temporary folder. Without
``--database-url`` it runs on the embedded default (SQLite, WAL, synchronous=FULL).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import weir


def measure(fn: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def summary(times: list[float]) -> str:
    q = np.percentile(times, [10, 90])
    return f"{statistics.median(times):8.2f} ms  (p10 {q[0]:.2f} – p90 {q[1]:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    models = {
        "logistic-regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y),
        "hist-gradient-boosting": make_pipeline(
            StandardScaler(), HistGradientBoostingClassifier(max_iter=100, random_state=0)
        ).fit(X, y),
        "random-forest-200": RandomForestClassifier(n_estimators=200, random_state=0, n_jobs=1).fit(X, y),
    }
    with tempfile.TemporaryDirectory() as home:
        overrides = {"database_url": args.database_url} if args.database_url else {}
        ws = weir.connect(home=home, **overrides)
        print(f"weir registry bench: {ws.db.redacted_url}, {args.repeat} repeats each")
        print(f"{'model':24} {'artifact':>10}  {'register':>40}  {'load':>40}")
        for name, model in models.items():
            sample = X.head(5)
            reg = measure(
                lambda n=name, m=model, s=sample: ws.models.register(n, m, input_example=s, code_path=None),
                args.repeat,
            )
            version = ws.models.get_version(name)
            load = measure(lambda ref=version.ref: ws.models.load(ref), args.repeat)
            size = version.model_artifact["size"] / 1024
            print(f"{name:24} {size:8.0f} KiB  {summary(reg):>40}  {summary(load):>40}")
        ws.close()


if __name__ == "__main__":
    main()
