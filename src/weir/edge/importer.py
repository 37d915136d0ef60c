"""Bring a device's encrypted prediction log back into the central prediction log, so that monitors can
check devices for drift like any endpoint.

Each edge record becomes a :class:`~weir.store.PredictionRecord` on ``endpoint`` (route ``primary``): its
inputs as they were, ``prediction`` from the label (or value) and ``proba_<i>`` from the probabilities
(the bundle's classes in order, when known). The request id is ``<device>-<hash of the record>``: the same
log imported twice gives the same ids, so duplicates are recognisable.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from weir.edge.encrypted_log import read_encrypted_log
from weir.errors import ValidationError
from weir.store import PredictionLog, PredictionRecord

BATCH = 5000


def import_edge_log(
    log: PredictionLog,
    folder: str | Path,
    key: bytes,
    *,
    endpoint: str,
    device: str = "edge",
    classes: list[Any] | None = None,
) -> int:
    """Decrypt (refusing any tampering) and append every record; returns how many were imported."""
    records = read_encrypted_log(folder, key)
    batch: list[PredictionRecord] = []
    count = 0
    for i, record in enumerate(records):
        batch.append(_record(record, i, endpoint, device, classes))
        if len(batch) >= BATCH:
            count += log.append(batch)
            batch = []
    if batch:
        count += log.append(batch)
    return count


def _record(
    record: dict[str, Any], index: int, endpoint: str, device: str, classes: list[Any] | None
) -> PredictionRecord:
    where = f"edge log record {index}"
    try:
        model, _, number = str(record["model"]).partition("/")
        time = datetime.fromisoformat(record["time"])
        inputs, given = dict(record["inputs"]), dict(record["outputs"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationError(
            f"{where} is not an edge prediction record ({exc}); was it written by weir.edge?"
        ) from exc
    if not number.isdigit():
        raise ValidationError(f"{where} names model {record['model']!r}, not a registered version such as 'churn/3'.")
    outputs: dict[str, Any] = {"prediction": given.get("label", given.get("value"))}
    for j, p in enumerate(given.get("probabilities") or []):
        outputs[f"proba_{classes[j] if classes and j < len(classes) else j}"] = p
    digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:24]
    return PredictionRecord(f"{device}-{digest}", time, endpoint, model, int(number), "primary", inputs, outputs)
