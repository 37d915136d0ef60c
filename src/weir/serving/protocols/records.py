"""weir's own plain JSON endpoint (``POST /v1/endpoints/{name}/predict``) and label feedback.

A predict request carries exactly one of:

- ``records``: ``[{"age": 41, "plan": "pro"}, ...]``, one object per row;
- ``columns``: ``{"age": [41, 29], "plan": ["pro", "free"]}``, one list per column;
- ``entities``: ``[{"customer_id": 1}, ...]``, keys for an online feature lookup the caller does;

and optionally ``route_key`` (the sticky key that picks a canary or primary route) and ``id``.
Unknown keys are refused, so a typo (``"record"``) fails loudly instead of being ignored.
Columns are typed as in :mod:`weir.serving.protocols.mlflow`.

Feedback (``{"labels": [{"id": ..., "label": ...}]}`` or one ``{"id": ..., "label": ...}``)
attaches ground truth to logged predictions by request id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from weir.errors import ValidationError, WeirError
from weir.serving.protocols import decode_json, encode_json, jsonable
from weir.serving.protocols.mlflow import Table, table_from_columns, table_from_records

_PAYLOADS = ("records", "columns", "entities")
_KEYS = frozenset({*_PAYLOADS, "route_key", "id"})
_SCALARS = (str, int, float, bool)


@dataclass(frozen=True, eq=False)
class PredictRequest:
    """A parsed predict request: exactly one of ``table`` and ``entities`` is set.

    >>> r = parse_predict_request(b'{"records": [{"x": 1.5}], "route_key": "customer-7"}')
    >>> r.table, r.entities, r.route_key, r.request_id
    ({'x': array([1.5])}, None, 'customer-7', None)
    """

    table: Table | None
    entities: list[dict[str, Any]] | None
    route_key: str | None
    request_id: str | None


def parse_predict_request(body: bytes) -> PredictRequest:
    """Parse a predict request body; malformed input raises :class:`~weir.errors.ValidationError`.

    >>> parse_predict_request(b'{"columns": {"x": [1, 2], "y": ["a", "b"]}, "id": "r-1"}').table
    {'x': array([1, 2]), 'y': array(['a', 'b'], dtype=object)}
    >>> parse_predict_request(b'{"entities": [{"customer_id": 7}]}').entities
    [{'customer_id': 7}]
    >>> parse_predict_request(b'{"record": [{"x": 1}]}')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    weir.errors.ValidationError: Unknown key 'record'; a predict request holds records, columns or entities, ...
    """
    document = _object(body, "a predict request")
    for key in document:
        if key not in _KEYS:
            raise ValidationError(
                f"Unknown key {key!r}; a predict request holds records, columns or entities, "
                "and optionally route_key and id.",
                field=key,
            )
    present = [key for key in _PAYLOADS if key in document]
    if len(present) != 1:
        raise ValidationError(
            f"Send exactly one of records, columns or entities; got {', '.join(present) or 'none'}.", field="body"
        )
    route_key, request_id = _text(document.get("route_key"), "route_key"), _text(document.get("id"), "id")
    key, value = present[0], document[present[0]]
    if key == "columns":
        if type(value) is not dict or not value:
            raise ValidationError("columns must be a non-empty object of name: [values].", field="columns")
        return PredictRequest(table_from_columns(value, "columns"), None, route_key, request_id)
    if type(value) is not list or not value:
        raise ValidationError(f"{key} must be a non-empty list of objects.", field=key)
    if key == "records":
        return PredictRequest(table_from_records(value, "records"), None, route_key, request_id)
    for i, entity in enumerate(value):
        if type(entity) is not dict or not entity or not all(type(v) in _SCALARS for v in entity.values()):
            raise ValidationError(
                f"entities[{i}] is {entity!r}; send an object of entity keys to scalar values, "
                'for example {"customer_id": 42}.',
                field=f"entities[{i}]",
            )
    return PredictRequest(None, value, route_key, request_id)


def _object(body: bytes, what: str) -> dict[str, Any]:
    document = decode_json(body)
    if type(document) is not dict:
        raise ValidationError(f"The body must be a JSON object ({what}), not {type(document).__name__}.", field="body")
    return document


def _text(value: object, field: str) -> str | None:
    if value is None or type(value) is str:
        return value
    raise ValidationError(f"{field} is {value!r}; send a string.", field=field)


def encode_predict_response(
    *,
    request_id: str,
    model: str,
    version: int,
    route: str,
    runtime: str,
    predictions: np.ndarray,
    probabilities: np.ndarray | None,
    classes: Sequence[Any] | None,
) -> bytes:
    """The predict response; ``probabilities`` (rows x classes) become one ``{class: p}`` object per row.

    Class labels become strings (JSON object keys are strings); with no ``classes`` the column
    positions name them. NaN becomes ``null``.

    >>> encode_predict_response(request_id="r-1", model="churn", version=3, route="primary", runtime="onnx",
    ...                         predictions=np.array([1]), probabilities=np.array([[0.25, 0.75]]), classes=[0, 1])
    b'{"id":"r-1","model":"churn","version":3,"route":"primary","runtime":"onnx","predictions":[1],"probabilities":[{"0":0.25,"1":0.75}]}'
    """
    document: dict[str, Any] = {
        "id": request_id,
        "model": model,
        "version": version,
        "route": route,
        "runtime": runtime,
        "predictions": jsonable(np.asarray(predictions)),
    }
    if probabilities is not None:
        matrix = np.asarray(probabilities, dtype=np.float64)
        labels = [str(label) for label in (classes if classes is not None else range(matrix.shape[-1]))]
        if matrix.ndim != 2 or matrix.shape[1] != len(labels) or len(matrix) != len(np.asarray(predictions)):
            raise WeirError(
                f"probabilities have shape {matrix.shape} for {len(np.asarray(predictions))} predictions and "
                f"{len(labels)} classes; pass one row per prediction and one column per class."
            )
        document["probabilities"] = [dict(zip(labels, row, strict=True)) for row in matrix.tolist()]
    return encode_json(document)


def parse_feedback(body: bytes) -> list[tuple[str, Any]]:
    """``(request_id, label)`` pairs from ``{"labels": [{"id", "label"}, ...]}`` or one ``{"id", "label"}``.

    >>> parse_feedback(b'{"labels": [{"id": "r-1", "label": 1}, {"id": "r-2", "label": "churned"}]}')
    [('r-1', 1), ('r-2', 'churned')]
    >>> parse_feedback(b'{"id": "r-1", "label": [1]}')
    Traceback (most recent call last):
    ...
    weir.errors.ValidationError: label is [1]; send a string, number or boolean.
    """
    document = _object(body, "feedback")
    if "labels" in document:
        if set(document) != {"labels"}:
            raise ValidationError("Send either labels: [...] or one id and label, not both.", field="body")
        entries = document["labels"]
        if type(entries) is not list or not entries:
            raise ValidationError("labels must be a non-empty list of {id, label} objects.", field="labels")
        return [_label(entry, f"labels[{i}].") for i, entry in enumerate(entries)]
    return [_label(document, "")]


def _label(entry: object, prefix: str) -> tuple[str, Any]:
    if type(entry) is not dict or set(entry) != {"id", "label"}:
        raise ValidationError(
            f"{prefix.rstrip('.') or 'The body'} must be an object with exactly id and label, e.g. "
            '{"id": "<request id>", "label": 1}.',
            field=prefix.rstrip(".") or "body",
        )
    request_id, label = entry["id"], entry["label"]
    if type(request_id) is not str or not request_id:
        raise ValidationError(f"{prefix}id is {request_id!r}; send the prediction's request id.", field=f"{prefix}id")
    if type(label) not in _SCALARS:
        raise ValidationError(f"{prefix}label is {label!r}; send a string, number or boolean.", field=f"{prefix}label")
    return request_id, label


__all__ = ["PredictRequest", "encode_predict_response", "parse_feedback", "parse_predict_request"]
