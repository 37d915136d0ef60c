"""The feature store: definitions, leak-free training frames, materialisation, push and online reads.

>>> import tempfile, pandas as pd
>>> from pathlib import Path
>>> from datetime import timedelta
>>> from weir.store import Database
>>> from weir.features import Entity, FeatureService, FeatureView, ParquetSource
>>> home = Path(tempfile.mkdtemp()); db = Database("sqlite://"); db.migrate()
>>> pd.DataFrame({"driver_id": [1, 1], "ts": pd.to_datetime(["2026-01-01", "2026-01-03"], utc=True),
...               "trips": [3, 5]}).to_parquet(home / "trips.parquet")
>>> driver = Entity("driver", join_keys={"driver_id": "int64"})
>>> trips = FeatureView("trips", entities=[driver], source=ParquetSource(str(home / "trips.parquet")),
...                     event_time="ts", fields={"trips": "int64"}, ttl=timedelta(days=1))
>>> fs = FeatureStore(db, root=home)
>>> [a.status for a in fs.apply([driver, trips, FeatureService("svc", features=[trips])])]
['created', 'created', 'created']
>>> entities = pd.DataFrame({"driver_id": [1, 1, 2],
...     "event_timestamp": pd.to_datetime(["2026-01-02", "2026-01-05", "2026-01-05"], utc=True)})
>>> fs.training_frame(entities, "svc").to_pandas()["trips"].tolist()  # 3 days old at row 2: past the ttl
[3.0, nan, nan]
>>> fs.materialize_incremental(end=pd.Timestamp("2026-01-10", tz="UTC"))
{'trips': 1}
>>> online = fs.get_online("svc", [{"driver_id": 1}, {"driver_id": 2}])
>>> online.to_dict(), online.statuses["trips"]  # stored, but older than the ttl today
({'driver_id': [1, 2], 'trips': [None, None]}, ['OUTSIDE_MAX_AGE', 'NOT_FOUND'])
"""

from __future__ import annotations

import logging
import operator
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from weir.errors import FeatureNotFoundError, ValidationError
from weir.features.catalog import Applied, FeatureCatalog
from weir.features.definitions import Definition, FeatureView, group_refs
from weir.features.dtypes import DTYPES, coerce_key
from weir.features.entity_frame import prepare_entities
from weir.features.fingerprint import frame_fingerprint
from weir.features.frames import NOT_FOUND, OUTSIDE_MAX_AGE, PRESENT, OnlineFeatures, TrainingFrame
from weir.features.loader import load_definitions
from weir.features.offline import ROW, OfflineStore, ViewRequest
from weir.features.online import OnlineRow, OnlineStore, SqliteOnlineStore, encode_key
from weir.features.profile import profile_table
from weir.store import Database
from weir.store.durable import fsync_dir
from weir.types import JSONDict

logger = logging.getLogger(__name__)

PLAN_RECHECK_S = 1.0  # how often cached online plans look for newly applied definitions
MAX_PLANS = 1024
SAMPLE_ROWS = 10_000
NO_CREATED_US = -(2**52)
_EMPTY: dict[str, Any] = {}


@dataclass(frozen=True)
class _ViewPlan:
    view: str
    keys: tuple[tuple[str, str], ...]  # (join key, dtype)
    features: tuple[str, ...]
    names: tuple[str, ...]
    ttl_us: int
    wanted: frozenset[str]
    pick: Callable[[dict[str, Any]], tuple[Any, ...]]  # the features from a stored value, in order


def _picker(features: Sequence[str]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    get = operator.itemgetter(*features)
    return get if len(features) > 1 else lambda values: (get(values),)


class FeatureStore:
    def __init__(
        self,
        db: Database,
        *,
        root: str | Path,
        online: OnlineStore | None = None,
        offline: OfflineStore | None = None,
        actor: str = "unknown",
    ) -> None:
        self.catalog = FeatureCatalog(db, actor=actor)
        self.root = Path(root)
        self.online = online if online is not None else SqliteOnlineStore(self.root / "online.db")
        self.offline = offline or OfflineStore(temp_directory=self.root / "tmp", index_root=self.root / "index")
        self._plans: dict[Any, tuple[int, float, list[_ViewPlan]]] = {}
        self._plans_lock = threading.Lock()

    # --- definitions -----------------------------------------------------------------------------

    def apply(self, definitions: Iterable[Definition] | str | Path, *, force: bool = False) -> list[Applied]:
        """Register definitions (objects, or a Python file or folder of them); see :class:`FeatureCatalog`."""
        if isinstance(definitions, str | Path):
            definitions = load_definitions(definitions)
        items = list(definitions)
        known = {r.name for r in self.catalog.definitions("view")}
        before = {d.name: self.catalog.view(d.name) for d in items if isinstance(d, FeatureView) and d.name in known}
        applied = self.catalog.apply(items, force=force)
        for result in applied:
            if result.kind == "view" and result.status == "updated":
                self._invalidate_online(before[result.name], self.catalog.view(result.name))
        return applied

    def _invalidate_online(self, old: FeatureView, new: FeatureView) -> None:
        """After a view changes, its online values may be incomplete or unreachable: a change of join keys
        drops them, and any change to what the rows hold resets the watermark, so the next incremental
        materialisation stores every key again."""
        if old.join_keys() != new.join_keys() or not new.online:
            removed = self.online.delete_view(new.name)
            logger.info("view %s changed its keys or went offline: %d online values removed", new.name, removed)
        same = ("source", "event_time", "created_time", "fields", "join_keys")
        if any(old.to_spec()[k] != new.to_spec()[k] for k in same):
            self.catalog.reset_watermark(new.name)

    def _resolve(self, features: str | Sequence[str]) -> tuple[str | None, int | None, dict[str, list[str]]]:
        if isinstance(features, str):
            service, version = self.catalog.service(features)
            return features, version, group_refs(service.refs())
        if not features:
            raise ValidationError("Ask for a feature service name or a list of 'view:feature' references.")
        twice = sorted({f for f in features if list(features).count(f) > 1})
        if twice:
            raise ValidationError(f"Feature {twice[0]!r} is asked for twice.")
        return None, None, group_refs(features)

    def _views(self, grouped: Mapping[str, list[str]]) -> dict[str, FeatureView]:
        views = {name: self.catalog.view(name) for name in grouped}
        for name, features in grouped.items():
            missing = [f for f in features if f not in views[name].fields]
            if missing:
                raise FeatureNotFoundError(
                    f"FeatureView {name!r} has no feature {missing[0]!r}; it has {', '.join(views[name].fields)}."
                )
        return views

    @staticmethod
    def _names(grouped: Mapping[str, list[str]], full: bool, taken: Iterable[str]) -> dict[str, list[str]]:
        names = {v: [f"{v}__{f}" if full else f for f in fs] for v, fs in grouped.items()}
        seen = set(taken)
        for view, outputs in names.items():
            for name in outputs:
                if name in seen:
                    raise ValidationError(
                        f"Feature {name!r} (view {view!r}) collides with another column of the result; "
                        "pass full_feature_names=True to name features 'view__feature'."
                    )
                seen.add(name)
        return names

    # --- offline ---------------------------------------------------------------------------------

    def training_frame(
        self,
        entity_df: Any,
        features: str | Sequence[str],
        *,
        timestamp_column: str = "event_timestamp",
        full_feature_names: bool = False,
    ) -> TrainingFrame:
        """Point-in-time correct features for each row of ``entity_df`` (a pandas DataFrame or Arrow
        table with the join keys and ``timestamp_column``; naive timestamps are taken as UTC)."""
        service, version, grouped = self._resolve(features)
        views = self._views(grouped)
        keys: dict[str, tuple[str, list[str]]] = {}
        for view in views.values():
            for key, dtype in view.join_keys().items():
                keys.setdefault(key, (dtype, []))[1].append(view.name)
        entities = prepare_entities(entity_df, keys, timestamp_column)
        names = self._names(grouped, full_feature_names, entities.column_names)
        con = self.offline.connect()
        try:
            requests = []
            for name, wanted in grouped.items():
                self.offline.check_source(con, views[name], wanted)
                requests.append(ViewRequest(views[name], wanted, names[name], self._pushed(name)))
            table, snapshots = self.offline.join(con, entities, timestamp_column, requests)
            table = table.drop_columns([ROW])
            parts = {
                "views": {n: _meaning(v) for n, v in views.items()},
                "features": grouped,
                "snapshots": {n: snapshots[n] + self._pushed_snapshot(n) for n in views},
                "timestamp_column": timestamp_column,
                "full_feature_names": full_feature_names,
            }
        finally:
            con.close()
        fingerprint = frame_fingerprint(parts, entities)
        outputs = [n for ns in names.values() for n in ns]
        profile = profile_table(table, outputs)
        self.catalog.save_profile(fingerprint, profile, rows=table.num_rows, service=service, service_version=version)
        self._save_sample(fingerprint, table.select(outputs))
        logger.info("training frame %s: %d rows, %d features", fingerprint[:19], table.num_rows, len(outputs))
        return TrainingFrame(table, fingerprint, outputs, profile, service, version)

    def _sample_path(self, fingerprint: str) -> Path:
        return self.root / "samples" / f"{fingerprint.removeprefix('sha256:')}.parquet"

    def _save_sample(self, fingerprint: str, table: pa.Table) -> None:
        """Up to ``SAMPLE_ROWS`` rows of the frame's features (seeded by the fingerprint): the reference
        data a monitor tests the live inputs against."""
        path = self._sample_path(fingerprint)
        if path.exists():
            return
        if table.num_rows > SAMPLE_ROWS:
            seed = int(fingerprint.removeprefix("sha256:")[:8], 16)
            rows = np.sort(np.random.default_rng(seed).choice(table.num_rows, SAMPLE_ROWS, replace=False))
            table = table.take(pa.array(rows))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, path)

    def reference_sample(self, fingerprint: str) -> pd.DataFrame:
        """The features of the training frame with this fingerprint (a seeded sample of at most
        ``SAMPLE_ROWS`` rows), as recorded when the frame was built."""
        path = self._sample_path(fingerprint)
        if not path.is_file():
            raise FeatureNotFoundError(
                f"No training frame with fingerprint {fingerprint!r} was built here; build it with training_frame."
            )
        frame: pd.DataFrame = pq.read_table(path).to_pandas()
        return frame

    # --- pushed rows -----------------------------------------------------------------------------

    def _pushed_dir(self, view: str) -> Path:
        return self.root / "pushed" / view

    def _pushed(self, view: str) -> str | None:
        folder = self._pushed_dir(view)
        return str(folder / "*.parquet") if folder.is_dir() and any(folder.glob("*.parquet")) else None

    def _pushed_snapshot(self, view: str) -> str:
        folder = self._pushed_dir(view)
        files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
        return "" if not files else "+" + ",".join(f.name for f in files)

    def push(self, view_name: str, rows: Any) -> int:
        """Write fresh rows of a view: appended to its offline data (a Parquet file beside the source,
        read with it from then on) and, for an online view, stored online (ordered by event time).
        Returns how many rows were stored online."""
        view = self.catalog.view(view_name)
        frame = pd.DataFrame(rows) if not isinstance(rows, pd.DataFrame) else rows
        if frame.empty:
            raise ValidationError(f"Nothing to push to FeatureView {view_name!r}: no rows.")
        table = self._typed_rows(view, frame)
        folder = self._pushed_dir(view.name)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = folder / f".{name}.tmp"
        pq.write_table(table, tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, folder / name)
        fsync_dir(folder)
        if not view.online:
            return 0
        return self.online.write(view.name, self._online_rows(view, table.to_batches(), list(view.fields)))

    def _typed_rows(self, view: FeatureView, frame: pd.DataFrame) -> pa.Table:
        where = f"Rows pushed to FeatureView {view.name!r}"
        columns = {**view.join_keys(), view.event_time: "timestamp", **view.fields}
        frame = frame.copy()
        if view.created_time:
            columns[view.created_time] = "timestamp"
            if view.created_time not in frame:
                frame[view.created_time] = pd.Timestamp.now(tz="UTC")
        missing = [c for c in columns if c not in frame]
        if missing:
            raise ValidationError(f"{where} have no column {missing[0]!r}; they need {', '.join(columns)}.")
        arrays = []
        for name, dtype in columns.items():
            values = frame[name]
            if dtype == "timestamp":
                try:
                    values = pd.to_datetime(values, utc=True)
                except (ValueError, TypeError) as exc:
                    raise ValidationError(f"{where}: column {name!r} is not timestamps: {exc}") from exc
            try:
                array = pa.array(values, type=DTYPES[dtype].arrow, from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise ValidationError(f"{where}: column {name!r} is not {dtype}: {exc}") from exc
            if array.null_count and (name in view.join_keys() or name == view.event_time):
                raise ValidationError(
                    f"{where}: column {name!r} has {array.null_count} empty values; it may have none."
                )
            arrays.append(array)
        return pa.table(arrays, names=list(columns))

    # --- materialisation -------------------------------------------------------------------------

    def materialize(
        self,
        start: datetime | None,
        end: datetime,
        views: Sequence[str] | None = None,
        *,
        progress: Callable[[str, int], None] | None = None,
    ) -> dict[str, int]:
        """Store online the latest value per key among rows with ``start <= event_ts < end`` (start
        None: from the beginning), for every online view or the named ones. Returns rows stored per
        view (a row older than the stored value is not stored)."""
        end = _utc(end, "end")
        start = None if start is None else _utc(start, "start")
        if start is not None and start >= end:
            raise ValidationError(f"materialize: start {start.isoformat()} is not before end {end.isoformat()}.")
        chosen = self._online_views(views)
        stored: dict[str, int] = {}
        for view in chosen:
            stored[view.name] = self._materialize_view(view, start, end, progress)
            previous = self.catalog.watermark(view.name)
            # The watermark says "every row from the first window on is online": only a window that reaches
            # back to it may move it, else the rows in between would never be stored.
            if previous is None or ((start is None or start <= previous) and end > previous):
                self.catalog.set_watermark(view.name, end)
        return stored

    def materialize_incremental(
        self,
        end: datetime | None = None,
        views: Sequence[str] | None = None,
        *,
        progress: Callable[[str, int], None] | None = None,
    ) -> dict[str, int]:
        """Materialise each view from its watermark (the end of its last materialisation) to ``end``
        (default now), then move the watermark."""
        end = _utc(end or datetime.now(UTC), "end")
        stored: dict[str, int] = {}
        for view in self._online_views(views):
            start = self.catalog.watermark(view.name)
            if start is not None and start >= end:
                stored[view.name] = 0
                continue
            stored[view.name] = self._materialize_view(view, start, end, progress)
            self.catalog.set_watermark(view.name, end)
        return stored

    def _online_views(self, names: Sequence[str] | None) -> list[FeatureView]:
        if names:
            views = [self.catalog.view(n) for n in names]
            offline_only = [v.name for v in views if not v.online]
            if offline_only:
                raise ValidationError(f"FeatureView {offline_only[0]!r} is offline only (online=False).")
            return views
        return [v for v in (self.catalog.view(r.name) for r in self.catalog.definitions("view")) if v.online]

    def _materialize_view(
        self, view: FeatureView, start: datetime | None, end: datetime, progress: Callable[[str, int], None] | None
    ) -> int:
        con = self.offline.connect()
        features = list(view.fields)
        try:
            self.offline.check_source(con, view, features)
            request = ViewRequest(view, features, features, self._pushed(view.name))
            stored = 0
            for batch in self.offline.latest(con, request, start, end):
                stored += self.online.write(view.name, self._online_rows(view, [batch], features))
                if progress is not None:
                    progress(view.name, batch.num_rows)
        finally:
            con.close()
        logger.info("materialized %s: %d values stored", view.name, stored)
        return stored

    def _online_rows(
        self, view: FeatureView, batches: Iterable[pa.RecordBatch], features: list[str]
    ) -> list[OnlineRow]:
        rows: list[OnlineRow] = []
        keys = sorted(view.join_keys())  # the online key: join-key values in key-name order
        event = "__event_ts"
        for batch in batches:
            names = batch.schema.names
            event_col = event if event in names else view.event_time
            created_col = "__created_ts" if "__created_ts" in names else view.created_time
            key_values = zip(*(batch.column(names.index(k)).to_pylist() for k in keys), strict=True)
            event_us = batch.column(names.index(event_col)).cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
            if created_col is not None and created_col in names:
                created = batch.column(names.index(created_col)).cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
                created_us = [NO_CREATED_US if c is None else c for c in created.to_pylist()]
            else:
                created_us = [NO_CREATED_US] * batch.num_rows
            columns = [batch.column(names.index(f)).to_pylist() for f in features]
            for key, ev, cr, *values in zip(key_values, event_us.to_pylist(), created_us, *columns, strict=True):
                rows.append(OnlineRow(encode_key(key), ev, cr, orjson.dumps(dict(zip(features, values, strict=True)))))
        return rows

    # --- online ----------------------------------------------------------------------------------

    def _online_plan(self, features: str | Sequence[str], full: bool) -> list[_ViewPlan]:
        cache_key = (features if isinstance(features, str) else tuple(features), full)
        now = time.monotonic()
        cached = self._plans.get(cache_key)
        if cached is not None and now - cached[1] < PLAN_RECHECK_S:
            return cached[2]
        stamp = self.catalog.stamp()
        if cached is not None and cached[0] == stamp:
            with self._plans_lock:
                self._plans[cache_key] = (stamp, now, cached[2])
            return cached[2]
        _, _, grouped = self._resolve(features)
        views = self._views(grouped)
        offline_only = [v.name for v in views.values() if not v.online]
        if offline_only:
            raise ValidationError(
                f"FeatureView {offline_only[0]!r} is offline only (online=False); it has no online values."
            )
        names = self._names(grouped, full, [k for v in views.values() for k in v.join_keys()])
        plan = [
            _ViewPlan(
                view=v,
                keys=tuple(sorted(views[v].join_keys().items())),
                features=tuple(fs),
                names=tuple(names[v]),
                ttl_us=int(views[v].ttl.total_seconds() * 1_000_000),
                wanted=frozenset(fs),
                pick=_picker(fs),
            )
            for v, fs in grouped.items()
        ]
        with self._plans_lock:
            if len(self._plans) >= MAX_PLANS:  # requests may name any feature list: keep the cache bounded
                self._plans.clear()
            self._plans[cache_key] = (stamp, now, plan)
        return plan

    def get_online(
        self,
        features: str | Sequence[str],
        entity_rows: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]],
        *,
        full_feature_names: bool = False,
    ) -> OnlineFeatures:
        """The latest stored values for each entity (rows as dicts, or columns as a dict of lists)."""
        plan = self._online_plan(features, full_feature_names)
        rows = _rows(entity_rows)
        out = OnlineFeatures()
        now_us = time.time_ns() // 1000
        for vp in plan:
            keys = []
            for name, dtype in vp.keys:
                column = out.values.get(name)
                if column is None:
                    column = out.values[name] = [_key_of(row, name, dtype, vp.view) for row in rows]
                keys.append(column)
            encoded = [encode_key(k) for k in zip(*keys, strict=True)]
            stored = self.online.read(vp.view, encoded)
            ttl = vp.ttl_us
            status = [
                NOT_FOUND if s is None else OUTSIDE_MAX_AGE if ttl and now_us - s.event_us > ttl else PRESENT
                for s in stored
            ]
            decoded = [
                _EMPTY if st is not PRESENT else orjson.loads(s.value)  # type: ignore[union-attr]
                for s, st in zip(stored, status, strict=True)
            ]
            event_us = [None if s is None else s.event_us for s in stored]
            # A value stored before a feature was added to the view (and not materialised since) lacks it.
            complete = all(vp.wanted <= d.keys() for d in decoded if d is not _EMPTY)
            if complete:  # one C-level gather per entity, then columns by transposing
                nothing = (None,) * len(vp.features)
                picked = [nothing if d is _EMPTY else vp.pick(d) for d in decoded]
                for name, picked_column in zip(vp.names, zip(*picked, strict=True), strict=True):
                    out.values[name] = list(picked_column)
                    out.statuses[name] = status
                    out.event_us[name] = event_us
                continue
            for feature, name in zip(vp.features, vp.names, strict=True):
                out.values[name] = [d.get(feature) for d in decoded]
                out.event_us[name] = event_us
                out.statuses[name] = [
                    NOT_FOUND if st is PRESENT and feature not in d else st
                    for d, st in zip(decoded, status, strict=True)
                ]
        return out

    @property
    def local(self) -> bool:
        """Whether online reads touch only local files (metadata in SQLite, online store in SQLite): then
        they take microseconds and may run on an event loop."""
        return self.online.local and self.catalog.db.dialect == "sqlite"

    def close(self) -> None:
        self.online.close()
        self.offline.close()


def _rows(entity_rows: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]]) -> Sequence[Mapping[str, Any]]:
    if type(entity_rows) is list and entity_rows and type(entity_rows[0]) is dict:
        return entity_rows
    if isinstance(entity_rows, Mapping):
        columns = {k: list(v) if isinstance(v, list | tuple) else [v] for k, v in entity_rows.items()}
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise ValidationError("Entity columns have different lengths; give one value per entity in each column.")
        count = lengths.pop() if lengths else 0
        if not count:
            raise ValidationError("No entity rows: give at least one value per join key.")
        return [{k: v[i] for k, v in columns.items()} for i in range(count)]
    if not isinstance(entity_rows, Sequence) or isinstance(entity_rows, str):
        raise ValidationError("Entity rows must be a list of {join key: value} objects.")
    if not entity_rows:
        raise ValidationError("No entity rows: give at least one {join key: value}.")
    return entity_rows


def _key_of(row: Mapping[str, Any], name: str, dtype: str, view: str) -> Any:
    if type(row) is dict:
        value = row.get(name)
        if type(value) is int and dtype != "string":  # the common case, checked without a call
            return value
    if not isinstance(row, Mapping):
        raise ValidationError(f"Entity row {row!r} is not an object of join keys.")
    try:
        value = row[name]
    except KeyError:
        raise ValidationError(
            f"Entity row {dict(row)!r} has no join key {name!r}, which feature view {view!r} needs."
        ) from None
    return coerce_key(dtype, value, where=f"join key {name!r}")


def _meaning(view: FeatureView) -> JSONDict:
    """What a view's values depend on, for fingerprints: not where its files sit, nor its description."""
    spec = view.to_spec()
    return {k: spec[k] for k in ("join_keys", "event_time", "created_time", "fields", "ttl_seconds")}


def _utc(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValidationError(f"{what} must be a datetime, not {type(value).__name__}.")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
