"""Many logged predictions of one request, column by column: what serving logs (one check per column, not per row).

>>> import numpy as np
>>> from datetime import datetime, timezone
>>> batch = PredictionBatch(["r:0", "r:1"], datetime.now(timezone.utc), "churn", "churn", 3, "primary",
...                         {"age": np.array([41, 52])}, {"prediction": np.array([1, 0])}, latency_ms=0.4)
>>> len(batch), batch.to_table().column_names
(2, ['request_id', 'time', 'model', 'version', 'route', 'latency_ms', 'input.age', 'output.prediction'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

from weir.errors import ValidationError
from weir.store.prediction_record import ROUTES, check_endpoint

_TIME = pa.timestamp("us", tz="UTC")
_KINDS = frozenset("biufUO")
_GOOD_NAMES: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()  # column names already checked


@dataclass(frozen=True, eq=False)
class PredictionBatch:
    request_ids: Sequence[str]
    time: datetime
    endpoint: str
    model: str
    version: int
    route: str
    inputs: Mapping[str, np.ndarray[Any, Any]] = field(default_factory=dict)
    outputs: Mapping[str, np.ndarray[Any, Any]] = field(default_factory=dict)
    latency_ms: float = 0.0
    """Per row: the request's model time divided by its rows."""
    matrix_names: tuple[str, ...] = ()
    matrix: np.ndarray[Any, Any] | None = None
    """Numeric inputs as one (rows × names) matrix: what serving's fast path has; cheaper than columns."""
    row_times_us: np.ndarray[Any, Any] | None = None
    """Per row, when rows of several requests share a batch: microseconds since the epoch (else ``time``)."""
    row_latencies_ms: np.ndarray[Any, Any] | None = None
    """Per row, likewise (else ``latency_ms``)."""

    def __post_init__(self) -> None:
        n = len(self.request_ids)
        if n == 0 or not all(isinstance(r, str) and r for r in self.request_ids):
            raise ValidationError("A prediction batch needs one non-empty request id per row.", field="request_ids")
        if not isinstance(self.time, datetime) or self.time.utcoffset() is None:
            raise ValidationError(f"time {self.time!r} must be an aware datetime.", field="time")
        check_endpoint(self.endpoint)
        if self.route not in ROUTES:
            raise ValidationError(f"route {self.route!r} is not one of {', '.join(ROUTES)}.", field="route")
        if self.matrix is not None and (
            not isinstance(self.matrix, np.ndarray)
            or self.matrix.shape != (n, len(self.matrix_names))
            or self.matrix.dtype.kind not in "biuf"
        ):
            raise ValidationError(
                f"The input matrix must be numeric with shape ({n}, {len(self.matrix_names)}); "
                f"got {getattr(self.matrix, 'shape', type(self.matrix).__name__)}.",
                field="matrix",
            )
        for name, per_row in (("row_times_us", self.row_times_us), ("row_latencies_ms", self.row_latencies_ms)):
            if per_row is not None and (not isinstance(per_row, np.ndarray) or per_row.shape != (n,)):
                raise ValidationError(f"{name} must be a 1-D array of {n} values.", field=name)
        names = (tuple(self.inputs) + self.matrix_names, tuple(self.outputs))
        check_names = names not in _GOOD_NAMES
        for kind, columns in (("input", self.inputs), ("output", self.outputs)):
            for name, values in columns.items():
                if check_names and (not isinstance(name, str) or not name or len(name) > 256 or not name.isprintable()):
                    raise ValidationError(f"Invalid {kind} name {name!r}: use 1-256 printable characters.", field=kind)
                if not isinstance(values, np.ndarray) or values.shape != (n,) or values.dtype.kind not in _KINDS:
                    raise ValidationError(
                        f"{kind} {name!r} must be a 1-D array of {n} numbers, booleans or strings; "
                        f"got {getattr(values, 'shape', type(values).__name__)}.",
                        field=kind,
                    )

        if check_names and len(_GOOD_NAMES) < 10_000:
            _GOOD_NAMES.add(names)

    def __len__(self) -> int:
        return len(self.request_ids)

    def to_table(self) -> pa.Table:
        return tables([self])[0]

    def shape_key(self) -> tuple[Any, ...]:
        """Batches with equal keys concatenate column by column."""
        return (
            self.model,
            self.version,
            self.route,
            self.matrix_names,
            None if self.matrix is None else self.matrix.dtype.str,
            tuple((k, v.dtype.str) for k, v in self.inputs.items()),
            tuple((k, v.dtype.str) for k, v in self.outputs.items()),
        )


def tables(batches: Sequence[PredictionBatch]) -> list[pa.Table]:
    """The batches as Arrow tables, one per group of like batches (concatenated in numpy, not row by row)."""
    groups: dict[tuple[Any, ...], list[PredictionBatch]] = {}
    for b in batches:
        groups.setdefault(b.shape_key(), []).append(b)
    return [_table(group) for group in groups.values()]


def _table(group: list[PredictionBatch]) -> pa.Table:
    first = group[0]
    n = sum(len(b) for b in group)
    times = np.concatenate([
        b.row_times_us.astype(np.int64) if b.row_times_us is not None
        else np.full(len(b), int(b.time.timestamp() * 1_000_000), dtype=np.int64)
        for b in group
    ])  # fmt: skip
    latencies = np.concatenate([
        b.row_latencies_ms.astype(np.float64) if b.row_latencies_ms is not None
        else np.full(len(b), float(b.latency_ms))
        for b in group
    ])  # fmt: skip
    columns: dict[str, pa.Array] = {
        "request_id": pa.array([r for b in group for r in b.request_ids], pa.string()),
        "time": pa.array(times, _TIME),
        "model": pa.array([first.model] * n, pa.string()),
        "version": pa.array(np.full(n, first.version, dtype=np.int64)),
        "route": pa.array([first.route] * n, pa.string()),
        "latency_ms": pa.array(latencies),
    }
    found: dict[str, np.ndarray[Any, Any]] = {}
    if first.matrix is not None:
        whole = first.matrix if len(group) == 1 else np.concatenate([b.matrix for b in group])
        found.update({f"input.{name}": whole[:, i] for i, name in enumerate(first.matrix_names)})
    for prefix in ("input", "output"):
        for name in getattr(first, prefix + "s"):
            parts = [getattr(b, prefix + "s")[name] for b in group]
            found[f"{prefix}.{name}"] = parts[0] if len(parts) == 1 else np.concatenate(parts)
    for name in sorted(found, key=lambda c: (not c.startswith("input."), c)):
        columns[name] = _array(name, found[name])
    return pa.table(columns)


def _array(name: str, values: np.ndarray[Any, Any]) -> pa.Array:
    try:
        if values.dtype.kind in "OU":
            return pa.array(values.tolist())
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        raise ValidationError(f"Column {name!r} cannot be stored: {exc}.", field=name) from exc
