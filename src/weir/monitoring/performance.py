"""Realised performance once labels arrive: one call, or per window and per model version.

:func:`performance` computes, with scikit-learn's metrics,

- classification: ``accuracy``, ``f1`` (binary, positive class = the larger label; macro-averaged when
  there are more than two classes), ``roc_auc`` (binary from the positive-class score; one-vs-rest macro
  from a probability matrix) and ``log_loss``;
- regression: ``mae`` and ``rmse``.

Rows whose label is missing (NaN or None: the label has not arrived) are dropped and counted apart. A
metric that cannot be computed (no labels, a single class present for ROC AUC, no scores) is NaN and the
``reason`` says why. Mismatched lengths, an unknown task, or NaN/infinite predictions or scores on
labelled rows raise :class:`~weir.errors.ValidationError`.

:func:`performance_by_window` does the same for each time window (a fixed pandas frequency such as
``"1h"`` or ``"1D"``) or row-count window (an ``int``), per group (by default the model ``version``),
and returns one tidy row per window and group.

>>> result = performance([0, 1, 1, 0], y_score=[0.2, 0.9, 0.4, 0.1])
>>> result["n"], result["accuracy"], result["roc_auc"]
(4, 0.75, 1.0)
>>> performance([0, 0, 0], y_pred=[0, 1, 0])["reason"]
'roc_auc: no scores; log_loss: no scores'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, log_loss, mean_absolute_error, mean_squared_error, roc_auc_score

from weir.errors import ValidationError

Task = Literal["classification", "regression"]
CLASSIFICATION_METRICS = ("accuracy", "f1", "roc_auc", "log_loss")
REGRESSION_METRICS = ("mae", "rmse")


def metric_names(task: str) -> tuple[str, ...]:
    """The metrics :func:`performance` returns for a task."""
    if task == "classification":
        return CLASSIFICATION_METRICS
    if task == "regression":
        return REGRESSION_METRICS
    raise ValidationError(f"Unknown task {task!r}; use 'classification' or 'regression'.")


def _finite(values: np.ndarray[Any, Any], what: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"The {what} must be numeric: {exc}.") from exc
    if not np.isfinite(array).all():
        raise ValidationError(f"The {what} contain NaN or infinite values on labelled rows; drop or fix those rows.")
    return array


def performance(
    y_true: Any,
    y_pred: Any = None,
    y_score: Any = None,
    *,
    task: Task = "classification",
    labels: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """Metrics of one sample: ``n`` (labelled rows), ``n_unlabelled``, each metric, and ``reason``.

    ``y_score`` is the positive-class probability (1-D, binary) or a probability matrix whose columns are
    ``labels`` (default: the sorted classes seen in ``y_true`` and ``y_pred``). Without ``y_pred``,
    predictions come from the scores (``>= 0.5`` for binary, arg-max otherwise).
    """
    names = metric_names(task)
    truth = np.asarray(y_true, dtype=object).ravel()
    n_rows = truth.shape[0]
    pred = None if y_pred is None else np.asarray(y_pred).ravel()
    score = None if y_score is None else np.asarray(y_score)
    for what, other in (("predictions", pred), ("scores", score)):
        if other is not None and other.shape[0] != n_rows:
            raise ValidationError(
                f"y_true has {n_rows} rows but the {what} have {other.shape[0]}; pass aligned arrays."
            )
    if score is not None and score.ndim not in (1, 2):
        raise ValidationError(f"y_score must be 1-D or a 2-D probability matrix; got shape {score.shape}.")
    labelled = ~pd.isna(truth)
    truth = truth[labelled]
    pred = None if pred is None else pred[labelled]
    score = None if score is None else score[labelled]
    out: dict[str, Any] = {"n": int(truth.shape[0]), "n_unlabelled": int(n_rows - truth.shape[0])}
    out.update(dict.fromkeys(names, math.nan))
    reasons: dict[str, str] = {}
    if truth.shape[0] == 0:
        out["reason"] = "no labels"
        return out
    if task == "regression":
        if pred is None:
            raise ValidationError("Regression performance needs y_pred.")
        truth_f, pred_f = _finite(truth, "labels"), _finite(pred, "predictions")
        out["mae"] = float(mean_absolute_error(truth_f, pred_f))
        out["rmse"] = float(math.sqrt(mean_squared_error(truth_f, pred_f)))
        out["reason"] = ""
        return out
    _classify(out, reasons, truth, pred, score, labels)
    out["reason"] = "; ".join(f"{name}: {reasons[name]}" for name in names if name in reasons)
    return out


def _classify(
    out: dict[str, Any],
    reasons: dict[str, str],
    truth: np.ndarray[Any, Any],
    pred: np.ndarray[Any, Any] | None,
    score: np.ndarray[Any, Any] | None,
    labels: Sequence[Any] | None,
) -> None:
    if pred is None and score is None:
        raise ValidationError("Classification performance needs y_pred, y_score or both.")
    truth = np.asarray(truth.tolist())
    score_f = None if score is None else _finite(score, "scores")
    if pred is not None and pd.isna(pred).any():
        raise ValidationError("The predictions contain missing values on labelled rows; drop or fix those rows.")
    seen = set(truth.tolist()) | (set() if pred is None else set(pred.tolist()))
    classes = list(labels) if labels is not None else sorted(seen)
    if score_f is not None and score_f.ndim == 2 and labels is None and score_f.shape[1] != len(classes):
        if score_f.shape[1] == 2 and len(classes) < 2:
            classes = [0, 1]
        else:
            raise ValidationError(
                f"The score matrix has {score_f.shape[1]} columns but {len(classes)} classes were seen; "
                "pass labels= naming the class of each column."
            )
    if not seen <= set(classes):
        raise ValidationError(f"Classes {sorted(map(str, seen - set(classes)))} are not in labels={classes}.")
    binary = len(classes) <= 2 and (score_f is None or score_f.ndim == 1 or score_f.shape[1] <= 2)
    if binary and len(classes) < 2:
        classes = [0, 1] if classes[0] in (0, 1) else classes
    if score_f is not None and binary and score_f.ndim == 2:
        score_f = score_f[:, -1]
    if pred is None:
        assert score_f is not None
        pred = np.where(score_f >= 0.5, classes[-1], classes[0]) if binary else np.asarray(classes)[score_f.argmax(1)]
    pred = np.asarray(pred.tolist())
    out["accuracy"] = float(accuracy_score(truth, pred))
    if binary:
        out["f1"] = float(f1_score(truth, pred, pos_label=classes[-1], average="binary", zero_division=0.0))
    else:
        out["f1"] = float(f1_score(truth, pred, labels=classes, average="macro", zero_division=0.0))
    if score_f is None:
        reasons["roc_auc"] = reasons["log_loss"] = "no scores"
        return
    if len(set(truth.tolist())) < 2:
        reasons["roc_auc"] = "only one class present in the labels"
    else:
        try:
            if binary:
                out["roc_auc"] = float(roc_auc_score(truth == classes[-1], score_f))
            else:
                out["roc_auc"] = float(
                    roc_auc_score(truth, score_f, multi_class="ovr", average="macro", labels=classes)
                )
        except ValueError as exc:
            reasons["roc_auc"] = str(exc)
    try:
        if binary:
            out["log_loss"] = float(log_loss(truth == classes[-1], score_f, labels=[False, True]))
        else:
            out["log_loss"] = float(log_loss(truth, score_f, labels=classes))
    except ValueError as exc:
        reasons["log_loss"] = str(exc)


def performance_by_window(
    frame: pd.DataFrame,
    *,
    time_column: str,
    window: str | int = "1D",
    group_by: Sequence[str] = ("version",),
    label_column: str = "label",
    prediction_column: str | None = "prediction",
    score_columns: str | Sequence[str] | None = None,
    task: Task = "classification",
    labels: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """One row per group and window: ``window_start``, ``window_end``, ``n_predictions``, ``n``, metrics, ``reason``.

    ``window`` is a fixed pandas frequency (``"15min"``, ``"1h"``, ``"1D"``) that floors ``time_column``,
    or an ``int``: consecutive blocks of that many rows per group in time order. Rows without a label
    count in ``n_predictions`` but not in ``n``; a window without labels has NaN metrics and
    ``reason == "no labels"``.

    >>> frame = pd.DataFrame({"ts": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 11:00", "2024-01-02 09:00"]),
    ...                       "version": [1, 1, 1], "label": [1, 0, None], "prediction": [1, 1, 0]})
    >>> table = performance_by_window(frame, time_column="ts")
    >>> table[["n_predictions", "n", "accuracy"]].values.tolist()
    [[2.0, 2.0, 0.5], [1.0, 0.0, nan]]
    >>> table["reason"].tolist()
    ['roc_auc: no scores; log_loss: no scores', 'no labels']
    """
    names = metric_names(task)
    groups = list(group_by)
    scores = [score_columns] if isinstance(score_columns, str) else list(score_columns or [])
    wanted = [time_column, label_column, *groups, *scores, *([prediction_column] if prediction_column else [])]
    missing = [column for column in wanted if column not in frame.columns]
    if missing:
        raise ValidationError(f"Columns {missing} are not in the frame; it has {list(frame.columns)}.")
    if prediction_column is None and not scores:
        raise ValidationError("Pass prediction_column, score_columns or both.")
    data = frame.sort_values(time_column, kind="stable").reset_index(drop=True)
    if isinstance(window, bool) or not isinstance(window, (str, int)):
        raise ValidationError(f"window must be a pandas frequency string or a row count; got {window!r}.")
    if isinstance(window, int):
        if window < 1:
            raise ValidationError(f"A row-count window must be at least 1; got {window}.")
        position = data.groupby(groups).cumcount() if groups else pd.Series(np.arange(len(data)), index=data.index)
        data["_window"] = position // window
    else:
        try:
            data["_window"] = pd.to_datetime(data[time_column]).dt.floor(window)
        except (ValueError, TypeError) as exc:
            raise ValidationError(f"Cannot cut {time_column!r} into {window!r} windows: {exc}.") from exc
    rows: list[dict[str, Any]] = []
    for key, chunk in data.groupby([*groups, "_window"], sort=True, dropna=False):
        keys: tuple[Any, ...] = key if isinstance(key, tuple) else (key,)
        row: dict[str, Any] = dict(zip(groups, keys[:-1], strict=True))
        row["window_start"] = keys[-1] if isinstance(window, str) else chunk[time_column].iloc[0]
        row["window_end"] = keys[-1] + pd.Timedelta(window) if isinstance(window, str) else chunk[time_column].iloc[-1]
        row["n_predictions"] = len(chunk)
        if len(scores) == 1:
            score: Any = chunk[scores[0]].to_numpy()
        else:
            score = chunk[scores].to_numpy() if scores else None
        result = performance(
            chunk[label_column].to_numpy(),
            None if prediction_column is None else chunk[prediction_column].to_numpy(),
            score,
            task=task,
            labels=labels,
        )
        row["n"] = result["n"]
        row.update({name: result[name] for name in names})
        row["reason"] = result["reason"]
        rows.append(row)
    columns = [*groups, "window_start", "window_end", "n_predictions", "n", *names, "reason"]
    return pd.DataFrame(rows, columns=columns)


def typed_like(values: list[Any], like: pd.Series) -> list[Any]:
    """Labels (or class names from column names) converted to the predictions' type where they can be."""
    kind = like.dtype.kind
    out: list[Any] = []
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out.append(None)
            continue
        try:
            out.append(int(float(v)) if kind in "iub" else float(v) if kind == "f" else v)
        except (TypeError, ValueError):
            out.append(v)
    return out
