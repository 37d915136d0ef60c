"""The prediction log: an append-only columnar log of Parquet segments that serving writes and monitoring reads.

Each :meth:`PredictionLog.append` writes one segment per endpoint and day under
``root/predictions/endpoint=<name>/date=<YYYY-MM-DD>/<timestamp>-<uuid>.parquet``. A segment is written
to ``root/tmp``, fsynced, renamed into place and its folder fsynced, so a crash never leaves a partial
segment visible. Inputs and outputs are flattened to columns ``input.<name>`` and ``output.<name>`` so
that monitoring reads features column by column; a column that appears in later segments reads as null
in older rows. Ground-truth labels go to ``root/labels/endpoint=<name>/…`` and :meth:`PredictionLog.read`
joins the newest label per request id. Sampling is not the log's job: serving decides what to log.

>>> import tempfile
>>> from datetime import datetime, timezone
>>> log = PredictionLog(tempfile.mkdtemp())
>>> t = datetime(2024, 3, 3, 12, 0, tzinfo=timezone.utc)
>>> log.append([PredictionRecord("r1", t, "churn", "churn", 2, "primary", {"age": 41}, {"prediction": 1}, 3.5)])
1
>>> log.append_labels("churn", {"r1": 0})
1
>>> log.read("churn", with_labels=True)[["request_id", "input.age", "output.prediction", "label"]]
  request_id  input.age  output.prediction  label
0         r1         41                  1      0
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from weir.errors import StoreUnavailableError, ValidationError
from weir.store.durable import STALE_TEMP_SECONDS, fsync_dir, makedirs, remove_stale
from weir.store.prediction_batch import PredictionBatch
from weir.store.prediction_batch import tables as batch_tables
from weir.store.prediction_record import ROUTES, PredictionRecord, Scalar, check_endpoint, to_scalar

logger = logging.getLogger(__name__)

_TIME = pa.timestamp("us", tz="UTC")
_DATE_PARTS = ds.partitioning(pa.schema([("date", pa.string())]), flavor="hive")
ERROR = "output.error"  # the message of a prediction that failed
# Dictionary-encode only the repetitive text columns and keep statistics where readers filter: writing a
# segment of random floats this way takes about half the time of the defaults.
_WRITE_OPTIONS: dict[str, Any] = {
    "use_dictionary": ["model", "route", "endpoint"],
    "write_statistics": ["time", "version", "route", "request_id"],
}
_BASE = ("request_id", "time", "endpoint", "model", "version", "route", "latency_ms")


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and (not isinstance(value, datetime) or value.utcoffset() is None):
        raise ValidationError(f"{name}={value!r} must be an aware datetime.", field=name)
    return value


def _column(name: str, values: list[Any], ids: Sequence[str]) -> pa.Array:
    """One typed column; int mixed with float becomes float, any other mix of types is an error."""
    kinds = {type(v) for v in values} - {type(None)}
    if kinds <= {bool}:
        kind = pa.bool_() if kinds else pa.null()
    elif kinds == {int}:
        kind = pa.int64()
    elif kinds <= {int, float}:
        kind = pa.float64()
    elif kinds == {str}:
        kind = pa.string()
    else:
        first: dict[type, str] = {}
        for i, v in enumerate(values):
            if v is not None:
                first.setdefault(type(v), ids[i])
        shown = ", ".join(f"{t.__name__} in request {rid!r}" for t, rid in first.items())
        raise ValidationError(
            f"Column {name!r} mixes types in one batch: {shown}. Log one type per column.", field=name
        )
    try:
        return pa.array(values, type=kind)
    except (pa.ArrowInvalid, OverflowError) as exc:
        raise ValidationError(f"Column {name!r} cannot be stored: {exc}.", field=name) from exc


def _flatten(prefix: str, maps: list[Mapping[str, Scalar]], ids: Sequence[str]) -> dict[str, pa.Array]:
    columns: dict[str, list[Any]] = {}
    n = len(maps)
    for i, values in enumerate(maps):
        for key, value in values.items():
            column = columns.get(key)
            if column is None:
                column = columns[key] = [None] * n
            column[i] = value
    return {f"{prefix}.{k}": _column(f"{prefix}.{k}", v, ids) for k, v in sorted(columns.items())}


def _concat(tables: list[pa.Table], endpoint: str) -> pa.Table:
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValidationError(f"Predictions of endpoint {endpoint!r} mix types in one column: {exc}.") from exc


class PredictionLog:
    """Append-only Parquet log under ``root``; safe for one writer process and any number of readers."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._tmp = self.root / "tmp"
        try:
            for sub in ("predictions", "labels", "tmp"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailableError(
                f"Cannot create the prediction log at {self.root}: {exc.strerror}. Point it at a writable folder."
            ) from exc

    # --- writing -----------------------------------------------------------------------------

    def append(self, records: Sequence[PredictionRecord | PredictionBatch]) -> int:
        """Write records (and columnar batches) as one segment per endpoint and UTC day; return the rows written."""
        groups: dict[tuple[str, str], list[PredictionRecord]] = {}
        columnar: dict[tuple[str, str], list[PredictionBatch]] = {}
        rows = 0
        for rec in records:
            if not isinstance(rec, PredictionRecord | PredictionBatch):
                raise ValidationError(
                    f"append() takes PredictionRecord or PredictionBatch objects, not {type(rec).__name__}."
                )
            key = (rec.endpoint, rec.time.astimezone(UTC).date().isoformat())
            if isinstance(rec, PredictionBatch):
                columnar.setdefault(key, []).append(rec)
                rows += len(rec)
            else:
                groups.setdefault(key, []).append(rec)
                rows += 1
        batches = {key: batch_tables(group) for key, group in columnar.items()}
        for key, group in groups.items():  # validate all before writing
            batches.setdefault(key, []).append(self._table(group))
        tables = {key: parts[0] if len(parts) == 1 else _concat(parts, key[0]) for key, parts in batches.items()}
        self._commit("predictions", tables)
        return rows

    def append_labels(
        self,
        endpoint: str,
        labels: Mapping[str, Scalar] | Iterable[tuple[str, Scalar] | tuple[str, Scalar, datetime]],
        *,
        time: datetime | None = None,
    ) -> int:
        """Record ground truth by request id: a mapping, or ``(request_id, label[, time])`` tuples.

        Labels without a time get ``time`` (default now). A later label for the same request overrides.
        """
        check_endpoint(endpoint)
        default = _aware(time, "time") or datetime.now(UTC)
        rows = list(labels.items()) if isinstance(labels, Mapping) else list(labels)
        ids, values, times = [], [], []
        for row in rows:
            if not isinstance(row, tuple) or len(row) not in (2, 3):
                raise ValidationError(f"A label must be (request_id, label) or (request_id, label, time), not {row!r}.")
            rid, value = row[0], row[1]
            if not isinstance(rid, str) or not rid:
                raise ValidationError(f"Label request_id must be a non-empty string, not {rid!r}.", field="request_id")
            ids.append(rid)
            values.append(to_scalar(value, "label", rid))
            times.append(_aware(row[2], "time") if len(row) == 3 else default)
        by_day: dict[tuple[str, str], list[int]] = {}
        for i, t in enumerate(times):
            assert t is not None
            by_day.setdefault((endpoint, t.astimezone(UTC).date().isoformat()), []).append(i)
        tables = {}
        for key, idx in by_day.items():
            sub_ids = [ids[i] for i in idx]
            tables[key] = pa.table(
                {
                    "request_id": pa.array(sub_ids, pa.string()),
                    "label": _column("label", [values[i] for i in idx], sub_ids),
                    "label_time": pa.array([times[i] for i in idx], _TIME),
                }
            )
        self._commit("labels", tables)
        return len(rows)

    def _table(self, group: list[PredictionRecord]) -> pa.Table:
        ids = [r.request_id for r in group]
        columns: dict[str, pa.Array] = {
            "request_id": pa.array(ids, pa.string()),
            "time": pa.array([r.time for r in group], _TIME),
            "model": pa.array([r.model for r in group], pa.string()),
            "version": pa.array([r.version for r in group], pa.int64()),
            "route": pa.array([r.route for r in group], pa.string()),
            "latency_ms": pa.array([float(r.latency_ms) for r in group], pa.float64()),
        }
        columns.update(_flatten("input", [r.inputs for r in group], ids))
        columns.update(_flatten("output", [r.outputs for r in group], ids))
        return pa.table(columns)

    def _commit(self, kind: str, tables: Mapping[tuple[str, str], pa.Table]) -> None:
        """Write every segment to ``tmp`` first, then rename each into place (temp + fsync + rename + dir fsync)."""
        staged: list[tuple[Path, Path]] = []
        try:
            for (endpoint, day), table in tables.items():
                fd, name = tempfile.mkstemp(dir=self._tmp, prefix="segment-", suffix=".parquet")
                staged.append((Path(name), self._folder(kind, endpoint, day)))
                with os.fdopen(fd, "wb") as handle:
                    pq.write_table(table, handle, **_WRITE_OPTIONS)
                    handle.flush()
                    os.fsync(handle.fileno())
            for (tmp, folder), table in zip(staged, tables.values(), strict=True):
                makedirs(folder)
                os.replace(tmp, folder / _segment_name(kind, table))
                fsync_dir(folder)
        except BaseException:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            raise

    def _folder(self, kind: str, endpoint: str, day: str) -> Path:
        return self.root / kind / f"endpoint={endpoint}" / f"date={day}"

    def remove_stale_temporaries(self, older_than: float = STALE_TEMP_SECONDS) -> int:
        """Delete temporary segments left by writers that died; return how many."""
        return remove_stale(self._tmp, "segment-*", older_than)

    # --- reading -----------------------------------------------------------------------------

    def endpoints(self) -> list[str]:
        return sorted(p.name.split("=", 1)[1] for p in (self.root / "predictions").glob("endpoint=*") if p.is_dir())

    def read(
        self,
        endpoint: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        version: int | None = None,
        route: str | None = None,
        with_labels: bool = False,
        columns: Sequence[str] | None = None,
        failed: bool = True,
    ) -> pd.DataFrame:
        """Predictions with ``start <= time < end``, sorted by time; ``with_labels`` adds ``label`` and
        ``label_time`` (the newest label per request id; null where none arrived yet). Requests the model
        failed to answer are rows with an ``output.error``; ``failed=False`` leaves them out."""
        dataset, row_filter = self._scan("predictions", endpoint, start, end, version, route)
        if not failed and dataset is not None and ERROR in dataset.schema.names:
            row_filter = (row_filter if row_filter is not None else ds.scalar(True)) & ds.field(ERROR).is_null()
        wanted = list(columns) if columns is not None else None
        if dataset is None:
            names = wanted if wanted is not None else list(_BASE)
            frame = pd.DataFrame({name: pd.Series(dtype=object) for name in names})
        else:
            if wanted is not None:
                unknown = [c for c in wanted if c != "endpoint" and c not in dataset.schema.names]
                if unknown:
                    raise ValidationError(f"Unknown columns {unknown} for endpoint {endpoint!r}.", field="columns")
            scan = None
            if wanted is not None:
                scan = [c for c in dataset.schema.names if c in wanted or c == "time"]
                scan += ["request_id"] if with_labels and "request_id" not in scan else []
            table = dataset.to_table(filter=row_filter, columns=scan).sort_by("time")
            frame = table.to_pandas()
            frame.insert(min(2, len(frame.columns)), "endpoint", endpoint)
        if with_labels:
            frame = frame.merge(self._labels(endpoint), on="request_id", how="left")
        if wanted is not None:
            frame = frame[wanted + (["label", "label_time"] if with_labels else [])]
        return frame.reset_index(drop=True)

    def count(
        self,
        endpoint: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        version: int | None = None,
        route: str | None = None,
    ) -> int:
        dataset, row_filter = self._scan("predictions", endpoint, start, end, version, route)
        return 0 if dataset is None else int(dataset.count_rows(filter=row_filter))

    def requests(self, endpoint: str, *, start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
        """``route``, ``latency_ms`` and ``failed`` of each prediction with ``start <= time < end``, in one scan
        of the segments (their footers read once): what traffic figures need, and nothing more."""
        dataset, row_filter = self._scan("predictions", endpoint, start, end, None, None)
        if dataset is None:
            empty = {"route": object, "latency_ms": float, "failed": bool}
            return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in empty.items()})
        names = ["route", "latency_ms"] + ([ERROR] if ERROR in dataset.schema.names else [])
        table = dataset.to_table(filter=row_filter, columns=names)
        failed = table.column(ERROR).is_valid() if ERROR in names else pa.array([False] * table.num_rows)
        return pd.DataFrame(
            {
                "route": table.column("route").to_pandas(),
                "latency_ms": table.column("latency_ms").to_pandas().astype(float),
                "failed": failed.to_pandas().astype(bool),
            }
        )

    def _labels(self, endpoint: str) -> pd.DataFrame:
        dataset, _ = self._scan("labels", endpoint, None, None, None, None)
        if dataset is None:
            return pd.DataFrame({"request_id": pd.Series(dtype=object), "label": [], "label_time": []})
        frame: pd.DataFrame = dataset.to_table().to_pandas()  # fragments in write order: ties go to the later write
        frame = frame.sort_values("label_time", kind="stable")
        return frame.drop_duplicates("request_id", keep="last")

    def _scan(
        self,
        kind: str,
        endpoint: str,
        start: datetime | None,
        end: datetime | None,
        version: int | None,
        route: str | None,
    ) -> tuple[ds.Dataset | None, ds.Expression | None]:
        """The endpoint's segments whose date partition may hold rows in [start, end), with one unified schema."""
        check_endpoint(endpoint)
        _aware(start, "start")
        _aware(end, "end")
        if route is not None and route not in ROUTES:
            raise ValidationError(f"route {route!r} is not one of {', '.join(ROUTES)}.", field="route")
        folder = self.root / kind / f"endpoint={endpoint}"
        if not folder.is_dir():
            return None, None
        days = ds.scalar(True)
        rows = ds.scalar(True)
        if start is not None:
            days &= ds.field("date") >= _day(start).isoformat()
            rows &= ds.field("time") >= pa.scalar(start, _TIME)
        if end is not None:
            days &= ds.field("date") <= _day(end).isoformat()
            rows &= ds.field("time") < pa.scalar(end, _TIME)
        if version is not None:
            rows &= ds.field("version") == version
        if route is not None:
            rows &= ds.field("route") == route
        found = ds.dataset(folder, format="parquet", partitioning=_DATE_PARTS)
        fragments = sorted(found.get_fragments(filter=days), key=lambda f: Path(f.path).name)
        if not fragments:
            return None, None
        try:
            schema = pa.unify_schemas([f.physical_schema for f in fragments], promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ValidationError(f"Segments of {kind} for {endpoint!r} disagree on a column's type: {exc}") from exc
        dataset = ds.dataset([f.path for f in fragments], schema=schema, format="parquet")
        return dataset, rows


def _segment_name(kind: str, table: pa.Table) -> str:
    """Predictions: named by their content (first time and a digest of ids and times), so that a write
    retried after a partial commit replaces its own segment instead of adding a copy. Labels: by write
    time (a later label for a request wins ties, and fragments are read in name order)."""
    if kind != "predictions":
        return f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}-{uuid.uuid4().hex}.parquet"
    times = table.column("time").cast(pa.int64())
    digest = hashlib.sha256()
    for column in (table.column("request_id"), times):
        for chunk in column.chunks:
            for buffer in chunk.buffers():
                if buffer is not None:
                    digest.update(memoryview(buffer))
    first = datetime.fromtimestamp(pc.min(times).as_py() / 1_000_000, UTC)
    return f"{first.strftime('%Y%m%dT%H%M%S%fZ')}-{digest.hexdigest()[:32]}.parquet"


def _day(value: datetime) -> date:
    return value.astimezone(UTC).date()
