"""``weir demo``: a registry walkthrough on scikit-learn's bundled breast-cancer data.

Trains a baseline and a challenger, registers both with lineage and validation records, makes
the better one ``champion``, serves the holdout through the server with the challenger as a canary,
returns the labels, runs a monitor over the prediction log, and prints it all. Everything is seeded;
nothing is downloaded.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from weir.cli.context import console
from weir.cli.models import versions_table

if TYPE_CHECKING:
    import pandas as pd

    from weir.app import Workspace
    from weir.registry import ModelVersion

MODEL = "breast-cancer"


def run_demo(ws: Workspace) -> None:
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    started = time.perf_counter()
    data = load_breast_cancer(as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.3, random_state=0, stratify=data.target
    )
    candidates = [
        ("baseline", make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=1000))),
        ("challenger", make_pipeline(StandardScaler(), HistGradientBoostingClassifier(max_iter=100, random_state=0))),
    ]
    registered: list[ModelVersion] = []
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as bar:
        for label, estimator in candidates:
            task = bar.add_task(f"training {label}: {type(estimator[-1]).__name__}", total=None)
            estimator.fit(X_train, y_train)
            proba = estimator.predict_proba(X_test)[:, 1]
            metrics = {
                "accuracy": float(accuracy_score(y_test, estimator.predict(X_test))),
                "roc_auc": float(roc_auc_score(y_test, proba)),
                "log_loss": float(log_loss(y_test, proba)),
            }
            bar.update(task, description=f"registering {label}")
            version = ws.models.register(
                MODEL,
                estimator,
                input_example=X_train.head(5),
                training_data=X_train,
                params={k: v for k, v in estimator[-1].get_params().items() if isinstance(v, int | float | str)},
                metrics=metrics,
                tags={"role": label, "dataset": "sklearn.datasets.load_breast_cancer"},
                description=f"{label}: {type(estimator[-1]).__name__} on 70% of breast_cancer (seed 0)",
                parent=registered[-1].version if registered else None,
            )
            ws.models.add_validation(
                version.ref,
                "holdout",
                passed=metrics["accuracy"] >= 0.9,
                metrics=metrics,
                evidence={"holdout_rows": len(y_test), "rule": "accuracy >= 0.9"},
            )
            registered.append(version)
            bar.update(task, total=1, completed=1, description=f"{label} → {version.ref}")

    best = max(registered, key=lambda v: (v.metrics["roc_auc"], v.version))
    other = next(v for v in registered if v is not best)
    ws.models.set_alias(MODEL, "champion", best.version, reason="highest holdout ROC AUC")
    ws.models.set_alias(MODEL, "challenger", other.version, reason="runner-up")

    champion = ws.models.load(f"{MODEL}@champion")
    agreement = float((champion.predict(X_test) == y_test.to_numpy()).mean())
    console.print(versions_table(ws.models.versions(MODEL), title=f"Registry: {MODEL}"))
    served = serve_holdout(ws, X_test, y_test)
    console.print(served)
    console.print(monitor_holdout(ws, X_train))
    report = ws.models.audit.verify()

    console.print(
        Panel.fit(
            f"champion → {champion.ref} (holdout accuracy {agreement:.3f}, reloaded from its verified artifact)\n"
            f"audit log: {report.entries} entries, chain {'intact' if report.ok else 'BROKEN'}\n"
            f"workspace: {ws.db.redacted_url}\n"
            f"finished in {time.perf_counter() - started:.1f} s. Next: `weir models show {MODEL}@champion`, "
            f"`weir deployments show {MODEL}`, `weir serve` (then POST /v2/models/{MODEL}/infer)",
            title="weir demo",
        )
    )


def monitor_holdout(ws: Workspace, X_train: pd.DataFrame) -> Table:
    """A monitor over the endpoint's prediction log with the training inputs as reference: drift of the
    30 inputs and the prediction, and accuracy per version from the labels returned as feedback."""
    from weir.monitoring.monitor_spec import MonitorSpec

    reference = ws.settings.home / "demo-reference.parquet"
    X_train.to_parquet(reference)
    spec = MonitorSpec(f"{MODEL}-inputs", MODEL, reference={"file": str(reference)}, window={"last_n": 1000},
                       schedule="every 1h")  # fmt: skip
    ws.monitors.create(spec, replace=True)
    run = ws.monitors.run(spec.name)
    points = ws.monitors.series(spec.name)
    table = Table("monitor", "what", "value", title=f"Monitor {spec.name}: run over {run.rows} predictions")
    drifted = run.summary.get("n_drifted", 0)
    table.add_row(spec.name, "data drift", f"{run.status}: {drifted} of {len(run.summary['columns'])} columns drifted")
    accuracy = points[(points["kind"] == "performance") & (points["series"] == "accuracy")]
    for point in accuracy.to_dict(orient="records"):
        table.add_row(spec.name, f"accuracy, version {point['version']:.0f}", f"{point['value']:.3f}")
    return table


def serve_holdout(ws: Workspace, X_test: pd.DataFrame, y_test: pd.Series) -> Table:
    """Deploy champion with challenger as a 20 % canary, send every holdout row through the real
    server application (in-process, V2 protocol), return labels as feedback, and tabulate by route."""
    import asyncio

    import httpx

    ws.deployments.deploy(
        MODEL, f"{MODEL}@champion", canary=f"{MODEL}@challenger", canary_weight=20, reason="demo: canary at 20 %"
    )
    app = ws.server_app()
    service = app.state.service
    answers: list[tuple[str, str, str, int]] = []

    async def send() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://weir") as client:
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console) as bar:
                task = bar.add_task("serving the holdout through /v2 (canary 20 %)", total=len(X_test))
                for i, (key, row) in enumerate(X_test.iterrows()):
                    rid = f"holdout-{i}"
                    body = {
                        "id": rid,
                        "inputs": [
                            {"name": "input-0", "datatype": "FP64", "shape": [1, row.size], "data": row.tolist()}
                        ],
                    }
                    r = await client.post(
                        f"/v2/models/{MODEL}/infer", json=body, headers={"x-weir-route-key": str(key)}
                    )
                    r.raise_for_status()
                    predicted = int(r.json()["outputs"][0]["data"][0])
                    answers.append((rid, r.headers["x-weir-route"], r.headers["x-weir-version"], predicted))
                    bar.advance(task)
            labels = {"labels": [{"id": rid, "label": int(y)} for (rid, *_), y in zip(answers, y_test, strict=True)]}
            (await client.post(f"/v1/endpoints/{MODEL}/feedback", json=labels)).raise_for_status()

    try:
        asyncio.run(send())
        runtimes = {s.number: s.runtime.name for _, s in service.endpoint(MODEL).versions()}
    finally:
        service.close()
    table = Table("route", "version", "runtime", "requests", "accuracy", title=f"Endpoint {MODEL}: served holdout")
    truth = y_test.to_numpy()
    for route in ("primary", "canary"):
        rows = [(i, a) for i, a in enumerate(answers) if a[1] == route]
        if rows:
            version = rows[0][1][2]
            accuracy = sum(a[3] == truth[i] for i, a in rows) / len(rows)
            table.add_row(route, version, runtimes[int(version)], str(len(rows)), f"{accuracy:.3f}")
    return table
