"""``weir demo``: a registry walkthrough on scikit-learn's bundled breast-cancer data.

Trains a baseline and a challenger, registers both with lineage and validation records, makes
the better one ``champion``, and prints the registry. Everything is seeded; nothing is downloaded.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.panel import Panel
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from weir.cli.context import console
from weir.cli.models import versions_table

if TYPE_CHECKING:
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
    report = ws.models.audit.verify()

    console.print(versions_table(ws.models.versions(MODEL), title=f"Registry: {MODEL}"))
    console.print(
        Panel.fit(
            f"champion → {champion.ref} (holdout accuracy {agreement:.3f}, reloaded from its verified artifact)\n"
            f"audit log: {report.entries} entries, chain {'intact' if report.ok else 'BROKEN'}\n"
            f"workspace: {ws.db.redacted_url}\n"
            f"finished in {time.perf_counter() - started:.1f} s. Next: `weir models show {MODEL}@champion`, "
            f"`weir models history {MODEL}`, `weir models verify`",
            title="weir demo",
        )
    )
