"""A sorted, memory-mapped copy of a view's rows that makes repeated point-in-time joins fast.

Built once per (view definition, source state) and reused while the source files keep their stat:
the rows (an Arrow IPC file), and, in the order (join key, event time, created time, source row), each
row's position, key code, event time and the search key ``code * span + (event - min_event)`` (``.npy``
files). Everything is memory-mapped, so an index larger than memory works. A join is a binary search of
``code * span + (entity_ts - min_event)`` per entity row and a gather of the matched rows: no Parquet
decoding and no sort. The rule is the offline store's, exactly: the last row at or before the entity
time (ties by created time, then source row), null when older than the ttl.

Sources up to ``in_memory_bytes`` are ordered with numpy; larger ones stream out of DuckDB's external
sort, batch by batch. Only views with one join key and file sources use an index, and only when
``keys x time span`` fits in int64; the others go through DuckDB's ASOF join.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from weir.features.definitions import FeatureView, digest
from weir.features.dtypes import DTYPES, q
from weir.features.sources import FileSource, file_digest, recently_changed, stat_key
from weir.types import JSONDict

logger = logging.getLogger(__name__)

MAX_COMPOSITE = 2**62
IN_MEMORY_BUILD = 1 << 30  # bytes: smaller sources are ordered in memory (numpy), larger ones by DuckDB
COMBINE_BELOW = 1 << 30  # bytes: smaller row tables are copied into memory, larger ones stay memory-mapped
NO_CREATED = -(2**62)
BATCH = 65_536
_CACHE_SIZE = 8
FORMAT = 1  # bumped when the files of an index change shape: older folders are then rebuilt
STALE_AFTER_S = 600  # an index of an older source state is removed this long after it was last built
_ARRAYS = ("order", "codes", "times", "composite")

Int64s = np.ndarray[Any, np.dtype[np.int64]]


@dataclass
class Index:
    table: pa.Table  # the view's rows: key, then features
    keys: pa.Array  # the distinct join keys, sorted: code i is keys[i]
    order: Int64s  # in (key, event, created, source row) order: each row's position in ``table``
    codes: Int64s  # … its key code
    times: Int64s  # … its event time (µs)
    composite: Int64s  # … codes * span + (times - min_t), ascending
    min_t: int
    span: int
    snapshot: str


def usable(view: FeatureView) -> bool:
    return isinstance(view.source, FileSource) and len(view.join_keys()) == 1


def _signature(view: FeatureView, pushed: str | None) -> str:
    """Changes when the definition or any source file (or pushed file) changes: its stat, or its content
    while it changed too recently for the stat to tell."""
    assert isinstance(view.source, FileSource)
    files = list(view.source.files())
    if pushed is not None:
        files += sorted(Path(pushed).parent.glob("*.parquet"))
    stats: list[list[Any]] = []
    for path in files:
        stat = path.stat()
        stats.append([str(path), *stat_key(stat)] + ([file_digest(path)] if recently_changed(stat) else []))
    return digest({"format": FORMAT, "view": view.to_spec(), "files": stats})[:32]


class IndexStore:
    """The indexes of one feature store, under ``root`` (one folder per view and source state)."""

    def __init__(self, root: Path, *, in_memory_bytes: int = IN_MEMORY_BUILD) -> None:
        self.root = root
        self.in_memory_bytes = in_memory_bytes
        self._open: OrderedDict[Path, Index | None] = OrderedDict()
        self._building: dict[Path, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(
        self,
        con: duckdb.DuckDBPyConnection,
        view: FeatureView,
        pushed: str | None,
        rows: Callable[[], str],
        snapshot: Callable[[], str],
    ) -> Index | None:
        """The index of the view's current rows, built if missing from ``rows()`` (a DuckDB relation with
        ``__rid``) and ``snapshot()`` (the source's content digest); None when keys x time span is too
        wide for one int64 search key."""
        folder = self.root / view.name / _signature(view, pushed)
        with self._lock:
            if folder in self._open:
                self._open.move_to_end(folder)
                return self._open[folder]
            building = self._building.setdefault(folder, threading.Lock())
        with building:  # one build per index in this process; other processes race harmlessly (atomic rename)
            if not (folder / "meta.json").is_file():
                self._build(con, view, rows(), snapshot(), folder)
            try:
                index = _load(folder)
            except OSError:  # removed under us (an old state cleaned up by another process): build again
                shutil.rmtree(folder, ignore_errors=True)
                self._build(con, view, rows(), snapshot(), folder)
                index = _load(folder)
        with self._lock:
            self._building.pop(folder, None)
            self._open[folder] = index
            while len(self._open) > _CACHE_SIZE:
                self._open.popitem(last=False)
        return index

    def _build(self, con: duckdb.DuckDBPyConnection, view: FeatureView, rows: str, snapshot: str, folder: Path) -> None:
        ((key, dtype),) = view.join_keys().items()
        event = f"{q(view.event_time)}::TIMESTAMPTZ"
        created = f"epoch_us({q(view.created_time)}::TIMESTAMPTZ)" if view.created_time else "NULL::BIGINT"
        features = ", ".join(f"{q(f)}::{DTYPES[t].duckdb} AS {q(f)}" for f, t in view.fields.items())
        sql = (
            f"SELECT {q(key)}::{DTYPES[dtype].duckdb} AS {q(key)}, epoch_us({event}) AS __t, {features}, "
            f"coalesce({created}, {NO_CREATED}) AS __created, __rid FROM {rows} "
            f"WHERE {q(key)} IS NOT NULL AND {q(view.event_time)} IS NOT NULL"
        )
        count, low, high = con.execute(f"SELECT count(*), min(__t), max(__t) FROM ({sql})").fetchall()[0]
        min_t, span = int(low or 0), int((high or 0) - (low or 0)) + 2
        tmp = folder.parent / f".build-{uuid.uuid4().hex}"
        tmp.mkdir(parents=True)
        try:
            meta: JSONDict = {"rows": count, "min_t": min_t, "span": span, "snapshot": snapshot}
            if (count + 1) * span >= MAX_COMPOSITE:  # keys x span may not fit: leave this view to DuckDB
                meta["too_wide"] = True
            elif count * 8 * (len(view.fields) + 6) <= self.in_memory_bytes:
                _write_in_memory(con.sql(sql).to_arrow_table(), tmp, min_t, span)
            else:
                _write_streamed(con.sql(f"{sql} ORDER BY 1, __t, __created, __rid").to_arrow_reader(BATCH), tmp,
                                count, min_t, span)  # fmt: skip
            (tmp / "meta.json").write_bytes(orjson.dumps(meta))
            _remove_stale(folder.parent)
            try:
                os.replace(tmp, folder)
            except OSError:  # another process stored it first
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        logger.info("indexed view %s: %d rows", view.name, count)


def _remove_stale(views: Path) -> None:
    """Indexes of older source states, left long enough that no reader still opens them."""
    now = time.time()
    for old in views.iterdir():
        try:
            if old.is_dir() and now - old.stat().st_mtime > STALE_AFTER_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            continue


def _write_table(table: pa.Table | None, schema: pa.Schema, path: Path) -> pa.ipc.RecordBatchFileWriter:
    sink = pa.OSFile(str(path), "wb")
    writer = pa.ipc.new_file(sink, schema)
    if table is not None:
        # One batch: read back through the memory map as one chunk per column, without a copy.
        writer.write_table(table.combine_chunks())
        writer.close()
        sink.close()
    return writer


def _write_in_memory(table: pa.Table, folder: Path, min_t: int, span: int) -> None:
    """Order the rows with numpy; the rows stay in source order, ``order`` points into them."""
    encoded = pc.dictionary_encode(table.column(0)).combine_chunks()
    dictionary = encoded.dictionary
    by_value = pc.sort_indices(dictionary).to_numpy()
    rank = np.empty(len(dictionary), dtype=np.int64)
    rank[by_value] = np.arange(len(dictionary))
    codes = rank[encoded.indices.to_numpy(zero_copy_only=False)] if len(table) else np.empty(0, np.int64)
    times, created, rid = (_numpy(table.column(c)) for c in ("__t", "__created", "__rid"))
    composite = codes * span + (times - min_t)
    order = _order(composite, created, rid)
    for name, array in zip(_ARRAYS, (order, codes[order], times[order], composite[order]), strict=True):
        np.save(folder / f"{name}.npy", array)
    rows = table.drop_columns(["__t", "__created", "__rid"])
    _write_table(rows, rows.schema, folder / "rows.arrow")
    keys = pa.table({"key": dictionary.take(pa.array(by_value))})
    _write_table(keys, keys.schema, folder / "keys.arrow")


def _write_streamed(reader: pa.RecordBatchReader, folder: Path, count: int, min_t: int, span: int) -> None:
    """Rows already ordered by DuckDB, written batch by batch: memory stays one batch."""
    arrays = {name: np.lib.format.open_memmap(folder / f"{name}.npy", mode="w+", dtype=np.int64, shape=(count,))
              for name in _ARRAYS}  # fmt: skip
    schema = pa.schema([f for f in reader.schema if f.name not in ("__t", "__created", "__rid")])
    writer = _write_table(None, schema, folder / "rows.arrow")
    distinct: list[pa.Array] = []
    code, last, at = -1, None, 0
    for batch in reader:
        n = batch.num_rows
        if not n:
            continue
        keys = batch.column(0)
        changed = np.ones(n, dtype=bool)
        changed[1:] = pc.not_equal(keys[1:], keys[:-1]).to_numpy(zero_copy_only=False)
        if last is not None:
            changed[0] = keys[0].as_py() != last
        codes = code + np.cumsum(changed)
        code, last = int(codes[-1]), keys[-1].as_py()
        distinct.append(pc.filter(keys, pa.array(changed)))
        times = batch.column(1).to_numpy()
        arrays["order"][at : at + n] = np.arange(at, at + n)
        arrays["codes"][at : at + n] = codes
        arrays["times"][at : at + n] = times
        arrays["composite"][at : at + n] = codes * span + (times - min_t)
        writer.write_batch(batch.select(schema.names))
        at += n
    writer.close()
    for array in arrays.values():
        array.flush()
    keys_table = pa.table({"key": pa.concat_arrays(distinct) if distinct else pa.array([], schema.field(0).type)})
    _write_table(keys_table, keys_table.schema, folder / "keys.arrow")


def _order(composite: Int64s, created: Int64s, rid: Int64s) -> Int64s:
    """argsort by (composite, created, rid): one stable sort, then only the tied runs re-sorted."""
    order = np.argsort(composite, kind="stable") if np.all(rid[1:] > rid[:-1]) else np.lexsort((rid, composite))
    ranked = composite[order]
    tied = np.zeros(len(order), dtype=bool)
    same = ranked[1:] == ranked[:-1]
    tied[1:] |= same
    tied[:-1] |= same
    if tied.any():
        at = np.flatnonzero(tied)
        sub = order[at]
        order[at] = sub[np.lexsort((rid[sub], created[sub], composite[sub]))]
    return order


def _load(folder: Path) -> Index | None:
    meta = orjson.loads((folder / "meta.json").read_bytes())
    if meta.get("too_wide"):
        return None
    table = pa.ipc.open_file(pa.memory_map(str(folder / "rows.arrow"))).read_all()
    if table.column(0).num_chunks > 1 and table.nbytes <= COMBINE_BELOW:  # gathers on one chunk are faster
        table = table.combine_chunks()
    keys = pa.ipc.open_file(pa.memory_map(str(folder / "keys.arrow"))).read_all().column("key").combine_chunks()
    order, codes, times, composite = (np.load(folder / f"{name}.npy", mmap_mode="r") for name in _ARRAYS)
    return Index(table, keys, order, codes, times, composite, int(meta["min_t"]), int(meta["span"]), meta["snapshot"])


def _numpy(column: pa.ChunkedArray) -> Int64s:
    chunks = [c.to_numpy() for c in column.chunks]
    array: Int64s = chunks[0] if len(chunks) == 1 else np.concatenate(chunks) if chunks else np.empty(0, np.int64)
    return array


def lookup(index: Index, keys: pa.ChunkedArray, times_us: Int64s, ttl_us: int) -> pa.Array:
    """For each entity row, the table row to take (null where no row qualifies)."""
    found = pc.index_in(keys, value_set=index.keys).to_numpy(zero_copy_only=False)
    codes = np.where(np.isnan(found), -1, found).astype(np.int64) if found.dtype.kind == "f" else found.astype(np.int64)
    if not len(index.codes):
        return pa.nulls(len(codes), pa.int64())
    wanted = codes * index.span + np.clip(times_us - index.min_t, -1, index.span - 1)
    by_value = np.argsort(wanted)  # sorted queries search ~2x faster (each starts near the last)
    pos = np.empty_like(wanted)
    pos[by_value] = np.searchsorted(index.composite, wanted[by_value], side="right") - 1
    safe = np.clip(pos, 0, len(index.codes) - 1)
    ok = (codes >= 0) & (pos >= 0) & (index.codes[safe] == codes) & (index.times[safe] <= times_us)
    if ttl_us:
        ok &= index.times[safe] >= times_us - ttl_us
    return pa.array(index.order[safe], type=pa.int64(), mask=~ok)


def gather(table: pa.Table, columns: Sequence[str], rows: pa.Array) -> list[pa.ChunkedArray]:
    """``table[c].take(rows)`` for each column, in parallel (Arrow releases the GIL)."""
    with ThreadPoolExecutor(max_workers=min(len(columns), os.cpu_count() or 1) or 1) as pool:
        return list(pool.map(lambda name: table.column(name).take(rows), columns))
