"""The offline store: point-in-time joins and latest-value scans on DuckDB, over the views' sources.

The rule, for each entity row and view: among the feature rows with the same join keys and
``entity_ts - ttl <= event_ts <= entity_ts`` (ttl 0: no lower bound), take the one with the latest
event time; equal event times go to the latest created time, then to the row read last from the
source. No row qualifies → nulls. Every entity row comes back exactly once, in input order.

How: one DuckDB ASOF LEFT JOIN per view on a slim projection of the source (keys, the ordering key
``(event_ts, created_ts, row_id)`` and a row id), then the matched rows' features are fetched by row
id. The entity frame is registered as Arrow (no copy); DuckDB spills to ``temp_directory`` beyond
``memory_limit``, so sources larger than memory work.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

import duckdb
import pyarrow as pa

from weir.errors import ConfigError, SourceError
from weir.features.definitions import FeatureView
from weir.features.dtypes import DTYPES, q, source_type_fits
from weir.features.fingerprint import table_digest
from weir.features.offline_index import IndexStore, gather, lookup, usable
from weir.features.sources import FileSource, SqlSource, quote

logger = logging.getLogger(__name__)

ROW = "__row"
LATEST = "'infinity'::TIMESTAMPTZ"
EARLIEST = "'-infinity'::TIMESTAMPTZ"
MAX_ROW = "9223372036854775807"


@dataclass(frozen=True)
class ViewRequest:
    """One view of a join: the features wanted and the names they get in the result."""

    view: FeatureView
    features: Sequence[str]
    output_names: Sequence[str]
    pushed: str | None = None  # a glob of Parquet files of pushed rows, read with the source


class OfflineStore:
    def __init__(
        self,
        *,
        memory_limit: str = "4GB",
        temp_directory: str | Path | None = None,
        index_root: str | Path | None = None,
    ) -> None:
        self.memory_limit = memory_limit
        self.temp_directory = None if temp_directory is None else str(temp_directory)
        self.indexes = None if index_root is None else IndexStore(Path(index_root))
        self._db: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A connection of its own (close it after use) to this store's one in-memory DuckDB database."""
        with self._lock:
            if self._db is None:
                config: dict[str, str | bool | int | float | list[str]] = {"memory_limit": self.memory_limit}
                if self.temp_directory:
                    Path(self.temp_directory).mkdir(parents=True, exist_ok=True)
                    config["temp_directory"] = self.temp_directory
                try:
                    self._db = duckdb.connect(config=config)
                    self._db.execute("SET TimeZone = 'UTC'")
                except duckdb.Error as exc:
                    raise ConfigError(
                        f"The offline store cannot start DuckDB ({exc}); check offline_memory_limit."
                    ) from exc
            return self._db.cursor()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # --- schemas ---------------------------------------------------------------------------------

    def source_schema(self, con: duckdb.DuckDBPyConnection, view: FeatureView) -> dict[str, str]:
        if isinstance(view.source, FileSource):
            try:
                view.source.files()
            except SourceError as exc:
                raise SourceError(f"FeatureView {view.name!r}: {exc.message}", view=view.name) from exc
        try:
            rows = con.execute(f"DESCRIBE SELECT * FROM {view.source.relation()}").fetchall()
        except duckdb.Error as exc:
            raise SourceError(f"FeatureView {view.name!r}: its source cannot be read: {exc}") from exc
        return {str(r[0]): str(r[1]) for r in rows}

    def check_source(self, con: duckdb.DuckDBPyConnection, view: FeatureView, features: Sequence[str]) -> None:
        schema = self.source_schema(con, view)
        where = f"FeatureView {view.name!r} source"
        needed: dict[str, str] = {**view.join_keys(), **{f: view.fields[f] for f in features}}
        needed[view.event_time] = "timestamp"
        if view.created_time:
            needed[view.created_time] = "timestamp"
        for column, dtype in needed.items():
            if column not in schema:
                raise SourceError(
                    f"{where} has no column {column!r}; it has {', '.join(schema)}. Fix the source or the view.",
                    view=view.name,
                    column=column,
                )
            if not source_type_fits(dtype, schema[column]):
                raise SourceError(
                    f"{where} column {column!r} is {schema[column]}, but the view declares {dtype}.",
                    view=view.name,
                    column=column,
                )

    def snapshot(self, con: duckdb.DuckDBPyConnection, view: FeatureView) -> str:
        if isinstance(view.source, SqlSource):  # the query's result, ordered: the same rows give the same digest
            try:
                result = con.sql(f"SELECT * FROM {view.source.relation()} ORDER BY ALL").to_arrow_table()
            except duckdb.Error as exc:
                raise SourceError(f"FeatureView {view.name!r}: its query failed: {exc}") from exc
            return table_digest(result)
        return view.source.snapshot()

    # --- point-in-time join ----------------------------------------------------------------------

    def join(
        self, con: duckdb.DuckDBPyConnection, entities: pa.Table, timestamp_column: str, requests: Sequence[ViewRequest]
    ) -> tuple[pa.Table, dict[str, str]]:
        """``entities`` (with ``__row``) with every requested feature, point-in-time correct, and the
        snapshot digest of each view's source. Views with an index (see ``offline_index``) are joined
        by binary search; the others by DuckDB's ASOF JOIN."""
        snapshots: dict[str, str] = {}
        taken: dict[int, list[pa.Array]] = {}
        if self.indexes is not None:
            times = entities[timestamp_column].cast(pa.int64()).to_numpy()
            for i, req in enumerate(requests):
                if not usable(req.view):
                    continue
                index = self.indexes.get(
                    con,
                    req.view,
                    req.pushed,
                    partial(self._rows, con, req, i),
                    partial(self.snapshot, con, req.view),
                )
                if index is None:
                    continue
                (key,) = req.view.join_keys()
                ttl_us = int(req.view.ttl.total_seconds() * 1_000_000)
                rows = lookup(index, entities[key], times, ttl_us)
                taken[i] = gather(index.table, req.features, rows)
                snapshots[req.view.name] = index.snapshot
        rest = [r for i, r in enumerate(requests) if i not in taken]
        table = self._asof(con, entities, timestamp_column, rest) if rest else entities
        for req in rest:
            snapshots[req.view.name] = self.snapshot(con, req.view)
        columns = [entities.column(c) for c in entities.column_names]  # as given: DuckDB re-types some
        names = list(entities.column_names)
        for i, req in enumerate(requests):
            names += req.output_names
            columns += taken[i] if i in taken else [table.column(n) for n in req.output_names]
        return pa.table(columns, names=names), snapshots

    def _asof(
        self, con: duckdb.DuckDBPyConnection, entities: pa.Table, timestamp_column: str, requests: Sequence[ViewRequest]
    ) -> pa.Table:
        # Only the columns the join reads (the others may have types DuckDB lacks); several record batches
        # let DuckDB scan the entity rows on every core.
        read = [ROW, timestamp_column, *(k for r in requests for k in r.view.join_keys())]
        entities = entities.select(list(dict.fromkeys(read)))
        con.register("__entities", pa.Table.from_batches(entities.to_batches(max_chunksize=16_384), entities.schema))
        ts = q(timestamp_column)
        ctes = [f"__e AS (SELECT *, struct_pack(t := {ts}, c := {LATEST}, r := {MAX_ROW}) AS __k FROM __entities)"]
        joins, picked, fetches, selects = [], [], [], []
        for i, req in enumerate(requests):
            view, s = req.view, f"__s{i}"
            source = self._rows(con, req, i)
            event = f"{q(view.event_time)}::TIMESTAMPTZ"
            created = f"coalesce({q(view.created_time)}::TIMESTAMPTZ, {EARLIEST})" if view.created_time else EARLIEST
            keys = ", ".join(f"{q(k)}::{DTYPES[d].duckdb} AS {q(k)}" for k, d in view.join_keys().items())
            # The ordering key (event, created, row id): the ASOF match is the greatest key <= (entity ts, +inf, max).
            ctes.append(
                f"{s} AS (SELECT {keys}, {event} AS __t, struct_pack(t := {event}, c := {created}, r := __rid) AS __k, "
                f"__rid FROM {source} WHERE {q(view.event_time)} IS NOT NULL)"
            )
            on = " AND ".join(f"__e.{q(k)} = {s}.{q(k)}" for k in view.join_keys())
            joins.append(f"ASOF LEFT JOIN {s} ON {on} AND __e.__k >= {s}.__k")
            ttl_us = int(view.ttl.total_seconds() * 1_000_000)
            fresh = f"{s}.__t >= __e.{ts} - INTERVAL {ttl_us} MICROSECONDS" if ttl_us else "TRUE"
            picked.append(f"CASE WHEN {fresh} THEN {s}.__rid END AS __m{i}")
            wanted = ", ".join(q(f) for f in req.features)
            fetches.append(f"LEFT JOIN (SELECT __rid, {wanted} FROM {source}) __f{i} ON __f{i}.__rid = __m.__m{i}")
            for feature, name in zip(req.features, req.output_names, strict=True):
                selects.append(f"__f{i}.{q(feature)}::{DTYPES[view.fields[feature]].duckdb} AS {q(name)}")
        ctes.append(f"__m AS (SELECT __e.* EXCLUDE (__k), {', '.join(picked)} FROM __e {' '.join(joins)})")
        hidden = ", ".join(f"__m{i}" for i in range(len(requests)))
        sql = (
            f"WITH {', '.join(ctes)} SELECT __m.* EXCLUDE ({hidden}), {', '.join(selects)} "
            f"FROM __m {' '.join(fetches)} ORDER BY __m.{ROW}"
        )
        try:
            return con.sql(sql).to_arrow_table()
        except duckdb.Error as exc:
            raise SourceError(f"The point-in-time join failed while reading the sources: {exc}") from exc

    def _rows(self, con: duckdb.DuckDBPyConnection, req: ViewRequest, i: int) -> str:
        """A relation of the view's rows with a stable ``__rid``: the source itself for Parquet, else a
        temporary table numbered once (CSV, SQL, or a source with pushed rows)."""
        view = req.view
        row_id = view.source.row_id()
        if row_id is not None and req.pushed is None:
            return f"(SELECT *, {row_id} AS __rid FROM {view.source.relation()})"
        columns = [
            *view.join_keys(),
            view.event_time,
            *([view.created_time] if view.created_time else []),
            *view.fields,
        ]
        parts = [f"SELECT {', '.join(q(c) for c in columns)} FROM {view.source.relation()}"]
        try:
            if req.pushed is not None:
                pushed = f"read_parquet({quote(req.pushed)}, union_by_name = true)"
                have = {str(r[0]) for r in con.execute(f"DESCRIBE SELECT * FROM {pushed}").fetchall()}
                # rows pushed before a field was added to the view lack it: null there
                typed = {**view.fields, **view.join_keys()}
                cols = [q(c) if c in have else f"NULL::{DTYPES[typed[c]].duckdb} AS {q(c)}" for c in columns]
                parts.append(f"SELECT {', '.join(cols)} FROM {pushed}")
            union = " UNION ALL BY NAME ".join(parts)
            table = f"__rows{i}"
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT *, row_number() OVER () AS __rid FROM ({union})"
            )
        except duckdb.Error as exc:
            raise SourceError(f"FeatureView {view.name!r}: reading its rows failed: {exc}") from exc
        return table

    # --- latest values (materialisation) ---------------------------------------------------------

    def latest(
        self,
        con: duckdb.DuckDBPyConnection,
        req: ViewRequest,
        start: datetime | None,
        end: datetime,
        batch_rows: int = 50_000,
    ) -> Iterator[pa.RecordBatch]:
        """The newest row per join key with ``start <= event_ts < end``, as Arrow batches (keys, the
        event and created times as ``__event_ts``/``__created_ts``, then the features)."""
        view = req.view
        source = self._rows(con, req, 0)
        ev = q(view.event_time)
        created = f"{q(view.created_time)}::TIMESTAMPTZ" if view.created_time else "NULL::TIMESTAMPTZ"
        keys = ", ".join(f"{q(k)}::{DTYPES[d].duckdb} AS {q(k)}" for k, d in view.join_keys().items())
        feats = ", ".join(f"{q(f)}::{DTYPES[view.fields[f]].duckdb} AS {q(f)}" for f in req.features)
        where = [f"{ev} IS NOT NULL", f"{ev}::TIMESTAMPTZ < $end"]
        params: dict[str, object] = {"end": end}
        if start is not None:
            where.append(f"{ev}::TIMESTAMPTZ >= $start")
            params["start"] = start
        partition = ", ".join(q(k) for k in view.join_keys())
        sql = (
            f"SELECT {keys}, {ev}::TIMESTAMPTZ AS __event_ts, {created} AS __created_ts, {feats} FROM {source} "
            f"WHERE {' AND '.join(where)} QUALIFY row_number() OVER (PARTITION BY {partition} "
            f"ORDER BY {ev}::TIMESTAMPTZ DESC, {created} DESC NULLS LAST, __rid DESC) = 1"
        )
        try:
            reader = con.sql(sql, params=params).to_arrow_reader(batch_rows)
        except duckdb.Error as exc:
            raise SourceError(f"FeatureView {view.name!r}: reading its latest values failed: {exc}") from exc
        try:
            yield from reader
        except (duckdb.Error, pa.ArrowException) as exc:
            raise SourceError(f"FeatureView {view.name!r}: reading its latest values failed: {exc}") from exc
