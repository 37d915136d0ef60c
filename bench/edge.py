"""Edge bundles: size, latency and equivalence of the bundle runtime against scikit-learn, same run.

    .venv/bin/python bench/edge.py [--calls 2000] [--json PATH]

Models, on scikit-learn's bundled breast_cancer data (569 rows, 30 features, seed 0):

- ``hgb``: Pipeline(StandardScaler, HistGradientBoostingClassifier(max_iter=100, random_state=0)),
  exported with ``--optimize`` (a tree ensemble is not quantised: the export refuses, by design);
- ``mlp``: Pipeline(StandardScaler, MLPClassifier((64, 32), random_state=0)), exported with
  ``--optimize`` and, separately, with ``--quantize dynamic-int8``.

For each: the registered artifact's size and the bundle's ``model.onnx``; single-row latency
(``predict_proba`` of one row, the median and p90 of ``--calls`` calls after 50 warm-up calls) and
1000-row latency (median of ``--calls / 20`` calls), scikit-learn against ``weir.edge.EdgeModel``
(verified bundle, one onnxruntime thread; scikit-learn's own threads limited to one too); and the export's
equivalence figures (largest absolute difference of probabilities, label agreement) on its check rows.
The single-row speed-up must be at least 10×.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import weir
from weir.edge import EdgeModel, create_keys
from weir.edge.export import export_version


def timings(fn: Any, calls: int) -> list[float]:
    for _ in range(50):
        fn()
    out = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - start) / 1000)
    return out


def figures(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50_us": statistics.median(ordered), "p90_us": ordered[int(len(ordered) * 0.9)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X.columns = [c.replace(" ", "_") for c in X.columns]
    one, thousand = X.iloc[:1], X.sample(1000, replace=True, random_state=0)
    models = {
        "hgb": make_pipeline(StandardScaler(), HistGradientBoostingClassifier(max_iter=100, random_state=0)),
        "mlp": make_pipeline(StandardScaler(), MLPClassifier((64, 32), max_iter=500, random_state=0)),
    }
    results = []
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(1):
        root = Path(tmp)
        ws = weir.connect(home=root / "ws")
        private, public = create_keys(root / "k.pem", root / "k.pub")
        for name, model in models.items():
            model.fit(X, y)
            version = ws.models.register(name, model, input_example=X.head(20))
            variants = [("optimized", {"optimize": True})]
            if name == "mlp":
                variants.append(("dynamic-int8", {"optimize": True, "quantize": "dynamic-int8"}))
            sk_one = timings(lambda m=model: m.predict_proba(one), args.calls)
            sk_many = timings(lambda m=model: m.predict_proba(thousand), max(20, args.calls // 20))
            for label, options in variants:
                exported = export_version(
                    ws.models, version.ref, root / f"{name}-{label}", private_key=private, **options
                )
                device = EdgeModel.load(exported.folder, public_key=public)
                row, rows = one.to_numpy(), thousand.to_numpy()
                edge_one = timings(lambda d=device, r=row: d.predict(r), args.calls)
                edge_many = timings(lambda d=device, r=rows: d.predict(r), max(20, args.calls // 20))
                f = exported.figures
                results.append(
                    {
                        "model": name,
                        "variant": label,
                        "size_registered_bytes": f["size_registered_bytes"],
                        "size_bundle_bytes": f["size_bundle_bytes"],
                        "sklearn_1_row": figures(sk_one),
                        "bundle_1_row": figures(edge_one),
                        "sklearn_1000_rows": figures(sk_many),
                        "bundle_1000_rows": figures(edge_many),
                        "speedup_1_row": statistics.median(sk_one) / statistics.median(edge_one),
                        "max_abs_diff": f["max_abs_diff"],
                        "label_agreement": f["label_agreement"],
                        "check_rows": f["rows"],
                    }
                )
        ws.close()
    print(f"edge bundles on {platform.machine()}, {platform.python_version()}; {args.calls} single-row calls")
    header = (
        "model",
        "variant",
        "size reg → bundle",
        "1 row sklearn",
        "1 row bundle",
        "speed-up",
        "1000 rows sklearn",
        "1000 rows bundle",
        "max |Δ|",
        "labels agree",
    )
    print(" | ".join(header))
    for r in results:
        print(
            " | ".join(
                [
                    r["model"],
                    r["variant"],
                    f"{r['size_registered_bytes']:,} → {r['size_bundle_bytes']:,} B",
                    f"{r['sklearn_1_row']['p50_us']:.0f} µs (p90 {r['sklearn_1_row']['p90_us']:.0f})",
                    f"{r['bundle_1_row']['p50_us']:.1f} µs (p90 {r['bundle_1_row']['p90_us']:.1f})",
                    f"{r['speedup_1_row']:.0f}×",
                    f"{r['sklearn_1000_rows']['p50_us'] / 1000:.2f} ms",
                    f"{r['bundle_1000_rows']['p50_us'] / 1000:.2f} ms",
                    f"{r['max_abs_diff']:.2g}",
                    f"{r['label_agreement']:.2%} of {r['check_rows']}",
                ]
            )
        )
    slowest = min(r["speedup_1_row"] for r in results)
    print(
        f"single-row speed-up of the bundle over scikit-learn: at least {slowest:.0f}× "
        f"(target ≥ 10×: {'met' if slowest >= 10 else 'NOT met'})"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
