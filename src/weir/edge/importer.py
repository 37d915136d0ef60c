"""Bring a device's encrypted prediction log back into the central prediction log, so that monitors can
check devices for drift like any endpoint.

Each edge record becomes a :class:`~weir.store.PredictionRecord` on ``endpoint`` (route ``primary``): its
inputs as they were, ``prediction`` from the label (or value) and ``proba_<class>`` from the probabilities,
named like serving names them (the classes come from the version's ``edge-export`` record). The request
id is ``<device>-<the record's id>``; records already in the log under that id are skipped, so importing
the same log again (a daily job) adds only what is new.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
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
    classes: Callable[[str, int], list[Any] | None] | None = None,
) -> int:
    """Decrypt (refusing any tampering) and append the records not imported yet; returns how many.
    ``classes(model, version)`` names the probability columns (``proba_<i>`` without it)."""
    records = read_encrypted_log(folder, key)
    seen = set(log.read(endpoint, columns=["request_id"])["request_id"]) if endpoint in log.endpoints() else set()
    known: dict[tuple[str, int], list[Any] | None] = {}
    batch: list[PredictionRecord] = []
    count = 0
    for i, record in enumerate(records):
        made = _record(record, i, endpoint, device, classes, known)
        if made.request_id in seen:
            continue
        seen.add(made.request_id)
        batch.append(made)
        if len(batch) >= BATCH:
            count += log.append(batch)
            batch = []
    if batch:
        count += log.append(batch)
    return count


def _record(
    record: dict[str, Any],
    index: int,
    endpoint: str,
    device: str,
    classes: Callable[[str, int], list[Any] | None] | None,
    known: dict[tuple[str, int], list[Any] | None],
) -> PredictionRecord:
    where = f"edge log record {index}"
    try:
        model, number = _source(record)
        time = datetime.fromisoformat(record["time"])
        inputs, given = dict(record["inputs"]), dict(record["outputs"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationError(
            f"{where} is not an edge prediction record ({exc}); was it written by weir.edge?"
        ) from exc
    if (model, number) not in known:
        known[(model, number)] = classes(model, number) if classes is not None else None
    names = known[(model, number)]
    outputs: dict[str, Any] = {"prediction": given.get("label", given.get("value"))}
    for j, p in enumerate(given.get("probabilities") or []):
        outputs[f"proba_{names[j] if names and j < len(names) else j}"] = p
    rid = record.get("id") or hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:24]
    return PredictionRecord(f"{device}-{rid}", time, endpoint, model, number, "primary", inputs, outputs)


def _source(record: dict[str, Any]) -> tuple[str, int]:
    if record.get("source_model") is not None and record.get("source_version") is not None:
        return str(record["source_model"]), int(record["source_version"])
    model, _, number = str(record["model"]).replace(":", "/").partition("/")
    if not number.isdigit():
        raise ValueError(f"model {record['model']!r} is not a registered version such as 'churn/3'")
    return model, int(number)
