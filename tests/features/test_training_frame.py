"""FeatureStore.training_frame: the point-in-time rule checked against a plain-Python reference on every
join path (the ordered on-disk index, built in memory or by DuckDB's external sort, and DuckDB's ASOF
join), then lineage (fingerprints, profiles, pushed rows, changed sources) and bad input."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import weir.features.offline_index as offline_index
import weir.features.sources as sources
from weir.errors import FeatureNotFoundError, SourceError, ValidationError
from weir.features import (
    CsvSource,
    Entity,
    FeatureService,
    FeatureStore,
    FeatureView,
    OfflineStore,
    ParquetSource,
    SqlSource,
)
from weir.features.offline_index import IndexStore
from weir.store import Database

BASE = pd.Timestamp("2026-03-01", tz="UTC")
STEP = timedelta(hours=1)  # every generated time is BASE + n * STEP: equal times and exact ttl edges are common
FIELDS = {"rid": "int64", "x": "float64"}  # rid: the source row's position, so a result names the row it took
KEY_DTYPES = ("int64", "int32", "string")
TIME_ZONES = (None, "UTC", "Asia/Kolkata", "America/New_York")  # None: naive, taken as UTC
STORES = ("index", "external", "asof")


# --- stores ------------------------------------------------------------------------------------------


@dataclass
class Stores:
    """Three feature stores over one catalog, differing only in how they join."""

    db: Database
    root: Path
    index: FeatureStore  # the default: single-key file views through the on-disk index, built in memory
    external: FeatureStore  # the same, the index built by DuckDB's external sort (in_memory_bytes=0)
    asof: FeatureStore  # OfflineStore(index_root=None): every view through DuckDB's ASOF join
    names: Iterator[int]

    def get(self, name: str) -> FeatureStore:
        store: FeatureStore = getattr(self, name)
        return store

    def folder(self) -> Path:
        """A fresh folder for one example's source files (never rewritten: see the rewrite tests)."""
        path = self.root / "data" / f"d{next(self.names)}"
        path.mkdir(parents=True)
        return path


def make_stores(root: Path) -> Stores:
    db = Database("sqlite://")
    db.migrate()
    external = OfflineStore(temp_directory=root / "external" / "tmp", index_root=root / "external" / "index")
    external.indexes = IndexStore(root / "external" / "index", in_memory_bytes=0)
    return Stores(
        db=db,
        root=root,
        index=FeatureStore(db, root=root / "index"),
        external=FeatureStore(db, root=root / "external", offline=external),
        asof=FeatureStore(db, root=root / "asof", offline=OfflineStore(index_root=None)),
        names=itertools.count(),
    )


def close_stores(made: Stores) -> None:
    for name in STORES:
        made.get(name).close()
    made.db.dispose()


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    """One set of stores for the module (generated examples register views under fresh names)."""
    made = make_stores(tmp_path_factory.mktemp("training_frame"))
    yield made
    close_stores(made)


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Stores]:
    """Stores of the test's own, for tests that push rows or rewrite sources."""
    made = make_stores(tmp_path / "stores")
    yield made
    close_stores(made)


# --- generated data and the reference ------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """A source row: its join key values (None: null), event and created time in STEPs (None: null)."""

    key: tuple[int | None, ...]
    event: int | None
    created: int | None
    x_null: bool  # the matched row's own null stays null (no fallback to an older row)


def key_value(dtype: str, n: int | None) -> Any:
    return None if n is None else (f"k{n}" if dtype == "string" else n)


def when(steps: int | None) -> pd.Timestamp | None:
    return None if steps is None else BASE + steps * STEP


def reference(
    rows: Sequence[Row], entities: Sequence[tuple[tuple[int, ...], int]], ttl: int, created: bool
) -> list[int | None]:
    """The rule, literally: for each entity row, among the source rows with its key and
    ``time - ttl <= event <= time`` (ttl 0: no lower bound), the position of the one with the greatest
    (event, created, position), a null created ranking below any; None when no row qualifies."""
    by_key: dict[tuple[int | None, ...], list[int]] = {}
    for position, row in enumerate(rows):
        if row.event is not None and None not in row.key:
            by_key.setdefault(row.key, []).append(position)
    chosen: list[int | None] = []
    for key, at in entities:
        best: tuple[int, float, int] | None = None
        for position in by_key.get(key, []):
            row = rows[position]
            assert row.event is not None
            if row.event > at or (ttl and row.event < at - ttl):
                continue
            made = float("-inf") if not created or row.created is None else float(row.created)
            rank = (row.event, made, position)
            if best is None or rank > best:
                best = rank
        chosen.append(None if best is None else best[2])
    return chosen


def expected_columns(rows: Sequence[Row], chosen: Sequence[int | None]) -> dict[str, list[Any]]:
    return {
        "rid": list(chosen),
        "x": [None if p is None or rows[p].x_null else p + 0.5 for p in chosen],
    }


def timestamps(values: Sequence[pd.Timestamp | None], tz: str | None) -> pd.Series:
    series = pd.Series(values, dtype="datetime64[us, UTC]")
    return series.dt.tz_localize(None) if tz is None else series.dt.tz_convert(tz)


def source_frame(rows: Sequence[Row], keys: Sequence[tuple[str, str]], tz: str | None, created: bool) -> pd.DataFrame:
    columns: dict[str, Any] = {}
    for i, (name, dtype) in enumerate(keys):
        values = [key_value(dtype, r.key[i]) for r in rows]
        columns[name] = pd.array(values, dtype="string" if dtype == "string" else "Int64")
    columns["ts"] = timestamps([when(r.event) for r in rows], tz)
    if created:
        columns["cr"] = timestamps([when(r.created) for r in rows], tz)
    columns["rid"] = np.arange(len(rows), dtype=np.int64)
    columns["x"] = [np.nan if r.x_null else p + 0.5 for p, r in enumerate(rows)]
    return pd.DataFrame(columns)


def write_parquet(frame: pd.DataFrame, folder: Path, cut: int) -> str:
    """Two files (rows before ``cut`` first, the others second: read in that order); returns the glob."""
    folder.mkdir()
    frame.iloc[:cut].to_parquet(folder / "part-0.parquet", index=False)
    frame.iloc[cut:].to_parquet(folder / "part-1.parquet", index=False)
    return str(folder / "*.parquet")


def csv_readable(frame: pd.DataFrame) -> bool:
    """DuckDB types a CSV column by sniffing its values: an all-empty column would read as text."""
    return len(frame) > 0 and all(frame[c].notna().any() for c in frame.columns)


def entity_frame(
    entities: Sequence[tuple[tuple[int, ...], int]], keys: Sequence[tuple[str, str]], tz: str | None
) -> pd.DataFrame:
    columns: dict[str, Any] = {}
    for i, (name, dtype) in enumerate(keys):
        columns[name] = [key_value(dtype, k[i]) for k, _ in entities]
    columns["event_timestamp"] = timestamps([when(at) for _, at in entities], tz)
    columns["label"] = np.arange(len(entities), dtype=np.int64)
    return pd.DataFrame(columns)


def view(
    name: str, entity: Sequence[Entity], source: Any, ttl: int, created: bool, fields: dict[str, str] = FIELDS
) -> FeatureView:
    return FeatureView(
        name,
        entities=list(entity),
        source=source,
        event_time="ts",
        created_time="cr" if created else None,
        fields=fields,
        ttl=ttl * STEP,
    )


def assert_frame(table: pa.Table, entities: pd.DataFrame, expected: dict[str, list[Any]]) -> None:
    """Every entity row once, in input order, its own columns unchanged, then the expected features."""
    assert table.num_rows == len(entities)
    assert table.column("label").to_pylist() == entities["label"].tolist()
    instants = pd.to_datetime(entities["event_timestamp"], utc=True).tolist()
    assert table.column("event_timestamp").to_pylist() == instants
    for name in entities.columns:
        if name not in ("event_timestamp", "label"):
            assert table.column(name).to_pylist() == entities[name].tolist(), name
    for name, values in expected.items():
        assert table.column(name).to_pylist() == values, name


MAX_ROWS, MAX_ENTITIES = 48, 300


def generated_rows(
    rng: np.random.Generator, count: int, n_keys: int, arity: int, *, size: int = MAX_ROWS, steps: int = 7
) -> list[Row]:
    """``count`` rows with events in 0..steps-1; the generator always advances by ``size`` rows, so a
    shrunk count keeps a prefix."""
    keys = rng.integers(0, n_keys, (size, arity))
    null_keys = rng.random((size, arity)) < 0.04
    events = rng.integers(0, steps, size)
    null_events = rng.random(size) < 0.06
    created = rng.integers(0, 4, size)
    null_created = rng.random(size) < 0.2
    x_null = rng.random(size) < 0.15
    return [
        Row(
            key=tuple(None if null_keys[i, j] else int(keys[i, j]) for j in range(arity)),
            event=None if null_events[i] else int(events[i]),
            created=None if null_created[i] else int(created[i]),
            x_null=bool(x_null[i]),
        )
        for i in range(count)
    ]


@dataclass(frozen=True)
class Scenario:
    dtype: str  # of the join key k
    rows: list[Row]  # of the single-key views (k)
    pair_rows: list[Row]  # of the two-key view (k, s)
    entities: list[tuple[tuple[int, ...], int]]  # ((k, s), time in STEPs)
    ttl: int  # in STEPs; 0: unbounded
    pair_ttl: int
    created: bool  # whether the views have a created-time column
    pair_created: bool
    source_tz: str | None
    entity_tz: str | None
    cut: int  # rows before it in the first Parquet file, the others in the second
    pair_cut: int


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """Small key spaces (matches and misses), times on a grid of 7 steps (ties, exact ttl edges), entity
    times from before the first row to after the last, keys the source lacks, frequent duplicates. The
    rows come from a drawn seed: many rows an example, cheaply."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_keys = draw(st.integers(1, 4))
    rows = generated_rows(rng, draw(st.integers(0, MAX_ROWS)), n_keys, 1)
    pair_rows = generated_rows(rng, draw(st.integers(0, MAX_ROWS)), n_keys, 2)
    keys = rng.integers(0, n_keys + 1, (MAX_ENTITIES, 2))  # n_keys: in no source
    times = rng.integers(-1, 9, MAX_ENTITIES)
    count = draw(st.integers(30, MAX_ENTITIES))
    return Scenario(
        dtype=draw(st.sampled_from(KEY_DTYPES)),
        rows=rows,
        pair_rows=pair_rows,
        entities=[((int(keys[i, 0]), int(keys[i, 1])), int(times[i])) for i in range(count)],
        ttl=draw(st.integers(0, 3)),
        pair_ttl=draw(st.integers(0, 3)),
        created=draw(st.booleans()),
        pair_created=draw(st.booleans()),
        source_tz=draw(st.sampled_from(TIME_ZONES)),
        entity_tz=draw(st.sampled_from(TIME_ZONES)),
        cut=draw(st.integers(0, len(rows))),
        pair_cut=draw(st.integers(0, len(pair_rows))),
    )


# --- the rule, generated --------------------------------------------------------------------------------

EXAMPLES = 30


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None)
@given(case=scenarios())
def test_every_source_kind_and_join_path_follows_the_rule(stores: Stores, case: Scenario) -> None:
    """Single-key views over Parquet (two files), a SQL query and CSV, and a two-key view over Parquet,
    joined into one frame by each store: through the index built in memory, the index built by external
    sort, or DuckDB's ASOF join alone (the SQL and two-key views always take the ASOF join). Every column
    equals the reference, and the fingerprint does not depend on the join path."""
    single, pair = [("k", case.dtype)], [("k", case.dtype), ("s", "string")]
    by_k, by_s = Entity(f"e_{case.dtype}", join_keys=dict(single)), Entity("zone", join_keys={"s": "string"})
    folder, name = stores.folder(), f"g{next(stores.names)}"
    frame = source_frame(case.rows, single, case.source_tz, case.created)
    pattern = write_parquet(frame, folder / "single", case.cut)
    pair_frame = source_frame(case.pair_rows, pair, case.source_tz, case.pair_created)
    pair_view = view(
        f"{name}_pair",
        [by_k, by_s],
        ParquetSource(write_parquet(pair_frame, folder / "pair", case.pair_cut)),
        case.pair_ttl,
        case.pair_created,
    )
    views = [
        view(f"{name}_parquet", [by_k], ParquetSource(pattern), case.ttl, case.created),
        view(f"{name}_sql", [by_k], SqlSource(f"SELECT * FROM read_parquet('{pattern}')"), case.ttl, case.created),
        pair_view,
    ]
    if csv_readable(frame):
        frame.to_csv(folder / "rows.csv", index=False)
        views.append(view(f"{name}_csv", [by_k], CsvSource(str(folder / "rows.csv")), case.ttl, case.created))
    stores.index.apply([by_k, by_s, *views])

    entities = entity_frame(case.entities, pair, case.entity_tz)
    by_single_key = reference(case.rows, [((k[0],), at) for k, at in case.entities], case.ttl, case.created)
    by_pair = reference(case.pair_rows, case.entities, case.pair_ttl, case.pair_created)
    expected: dict[str, list[Any]] = {}
    for v in views:
        rows, chosen = (case.pair_rows, by_pair) if v is pair_view else (case.rows, by_single_key)
        expected |= {f"{v.name}__{c}": values for c, values in expected_columns(rows, chosen).items()}
    fingerprints = set()
    for store in STORES:
        result = stores.get(store).training_frame(
            entities, [r for v in views for r in v.refs()], full_feature_names=True
        )
        assert_frame(result.table, entities, expected)
        assert result.features == list(expected)
        fingerprints.add(result.fingerprint)
    assert len(fingerprints) == 1


# --- the rule, by hand -------------------------------------------------------------------------------


def hand_rows() -> list[Row]:
    return [
        Row((1,), 0, 0, False),  # 0
        Row((1,), 2, 1, False),  # 1: full tie with 2, read first
        Row((1,), 2, 1, False),  # 2: read last: wins the tie
        Row((1,), 2, 0, False),  # 3: same event, older created: loses
        Row((2,), 5, None, False),  # 4: null created ranks below any created
        Row((2,), 5, 0, True),  # 5: wins, and its null x stays null
        Row((None,), 5, 3, False),  # 6: a null key never matches
        Row((2,), None, 3, False),  # 7: a null event time never matches
    ]


HAND_ENTITIES = [
    ((1,), 2),  # event == entity time: included -> 2
    ((1,), 4),  # event == entity time - ttl: included -> 2
    ((1,), 5),  # older than the ttl -> None
    ((1,), 1),  # -> 0
    ((2,), 5),  # -> 5
    ((3,), 5),  # a key the source lacks -> None
    ((1,), 2),  # a duplicate stays a duplicate -> 2
    ((2,), 4),  # before the key's first row -> None
]


@pytest.mark.parametrize("store", STORES)
def test_hand_worked_rule(stores: Stores, store: str) -> None:
    keys = [("k", "int64")]
    entity = Entity("e_int64", join_keys=dict(keys))
    folder = stores.folder()
    rows = hand_rows()
    source = ParquetSource(write_parquet(source_frame(rows, keys, "UTC", True), folder / "p", 3))
    hand = view(f"hand{next(stores.names)}", [entity], source, 2, True)
    stores.index.apply([entity, hand])
    entities = entity_frame(HAND_ENTITIES, keys, "UTC")
    result = stores.get(store).training_frame(entities, hand.refs())
    chosen = [2, 2, None, 0, 5, None, 2, None]
    assert reference(rows, HAND_ENTITIES, 2, True) == chosen
    assert_frame(result.table, entities, {"rid": chosen, "x": [2.5, 2.5, None, 0.5, None, None, 2.5, None]})


# --- entity frames ------------------------------------------------------------------------------------


def registered_view(stores: Stores, rows: Sequence[Row], *, dtype: str = "int64", ttl: int = 0) -> FeatureView:
    """A single-key view over ``rows`` (one Parquet file, created times), registered."""
    keys = [("k", dtype)]
    entity = Entity(f"e_{dtype}", join_keys=dict(keys))
    frame = source_frame(rows, keys, "UTC", True)
    made = view(
        f"v{next(stores.names)}",
        [entity],
        ParquetSource(write_parquet(frame, stores.folder() / "p", len(rows))),
        ttl,
        True,
    )
    stores.index.apply([entity, made])
    return made


def test_entity_rows_and_their_own_columns_come_back_unchanged(stores: Stores) -> None:
    """500 shuffled entity rows with many duplicates, as an Arrow table with columns DuckDB re-types or
    cannot read: each store returns every row once, in order, those columns exactly as given (types
    too), and all three the same schema."""
    rng = np.random.default_rng(7)
    rows = generated_rows(rng, MAX_ROWS, 5, 1)
    trips = registered_view(stores, rows, ttl=2)
    n = 500
    entities = [((int(k),), int(t)) for k, t in zip(rng.integers(0, 6, n), rng.integers(-1, 9, n), strict=True)]
    own = {
        "note": pa.array([f"n{i % 7}" for i in range(n)], pa.large_string()),
        "city": pa.array([["paris", "oslo", None][i % 3] for i in range(n)]).dictionary_encode(),
        "seen": pa.array(np.arange(n) * 1000, pa.timestamp("ms", tz="Europe/Paris")),
        "half": pa.array(np.arange(n, dtype=np.float16) / 4),
        "tags": pa.array([[i, i + 1] if i % 5 else None for i in range(n)], pa.list_(pa.int64())),
        "label": pa.array(np.arange(n), pa.int64()),
    }
    table = pa.table(
        {
            "k": pa.array([k[0] for k, _ in entities], pa.int64()),
            "event_timestamp": pa.array([when(t) for _, t in entities], pa.timestamp("us", tz="UTC")),
            **own,
        }
    )
    chosen = reference(rows, entities, 2, True)
    schemas = set()
    for store in STORES:
        result = stores.get(store).training_frame(table, trips.refs()).table
        schemas.add(result.schema)
        assert result.column_names == [*table.column_names, "rid", "x"]
        for name in ("k", "event_timestamp", *own):
            assert result.schema.field(name).type == table.schema.field(name).type, (store, name)
            assert result.column(name).to_pylist() == table.column(name).to_pylist(), (store, name)
        assert result.column("rid").to_pylist() == chosen
    assert len(schemas) == 1


@pytest.mark.parametrize("store", STORES)
def test_no_entity_rows_give_an_empty_frame(stores: Stores, store: str) -> None:
    trips = registered_view(stores, [Row((1,), 0, 0, False)])
    entities = pd.DataFrame({"k": pd.Series([], dtype="int64"), "event_timestamp": timestamps([], "UTC")})
    result = stores.get(store).training_frame(entities, trips.refs())
    assert result.table.num_rows == 0
    assert result.table.schema.names == ["k", "event_timestamp", "rid", "x"]
    assert [result.table.schema.field(f).type for f in FIELDS] == [pa.int64(), pa.float64()]


ZONED = {
    # 01:00, 04:00 and 06:00 UTC, written in several ways; read as wall-clock UTC they would pick other rows
    "naive": pd.Series(pd.to_datetime(["2026-03-01 01:00", "2026-03-01 04:00", "2026-03-01 06:00"])),
    "utc": pd.Series(pd.to_datetime(["2026-03-01 01:00", "2026-03-01 04:00", "2026-03-01 06:00"], utc=True)),
    "kolkata": pd.Series(pd.to_datetime(["2026-03-01 06:30", "2026-03-01 09:30", "2026-03-01 11:30"])).dt.tz_localize(
        "Asia/Kolkata"
    ),
    "new_york": pd.Series(pd.to_datetime(["2026-02-28 20:00", "2026-02-28 23:00", "2026-03-01 01:00"])).dt.tz_localize(
        "America/New_York"
    ),
    "arrow_ns_tokyo": pa.array(
        pd.to_datetime(["2026-03-01 10:00", "2026-03-01 13:00", "2026-03-01 15:00"]).tz_localize("Asia/Tokyo"),
        pa.timestamp("ns", tz="Asia/Tokyo"),
    ),
    "arrow_s_naive": pa.array(
        pd.to_datetime(["2026-03-01 01:00", "2026-03-01 04:00", "2026-03-01 06:00"]), pa.timestamp("s")
    ),
}


@pytest.mark.parametrize("store", STORES)
def test_entity_times_are_instants_whatever_their_zone(stores: Stores, store: str) -> None:
    """Naive times are UTC; zoned ones are converted: the same instants give the same features, the same
    UTC column and the same fingerprint."""
    trips = registered_view(stores, [Row((1,), 0, 0, False), Row((1,), 3, 0, False), Row((1,), 6, 0, False)])
    results = []
    for name, times in ZONED.items():
        if isinstance(times, pa.Array):
            entities: Any = pa.table({"k": pa.array([1, 1, 1], pa.int64()), "event_timestamp": times})
        else:
            entities = pd.DataFrame({"k": [1, 1, 1], "event_timestamp": times})
        result = stores.get(store).training_frame(entities, trips.refs())
        assert result.table.column("rid").to_pylist() == [0, 1, 2], name
        assert result.table.schema.field("event_timestamp").type == pa.timestamp("us", tz="UTC"), name
        results.append(result)
    assert {r.table.column("event_timestamp").to_pylist() == [when(1), when(4), when(6)] for r in results} == {True}
    assert len({r.fingerprint for r in results}) == 1


@pytest.mark.parametrize("store", STORES)
def test_nanosecond_entity_times_are_floored_to_microseconds(stores: Stores, store: str) -> None:
    """The join keeps microseconds: a time 1 ns before a row's event must not be rounded up onto it."""
    trips = registered_view(stores, [Row((1,), 0, 0, False), Row((1,), 2, 0, False)])
    at = when(2)
    assert at is not None
    nanosecond = pd.Timedelta(1, "ns")
    times = pd.Series([at - nanosecond, at, at + nanosecond, at + 999 * nanosecond], dtype="datetime64[ns, UTC]")
    result = stores.get(store).training_frame(pd.DataFrame({"k": [1] * 4, "event_timestamp": times}), trips.refs())
    assert result.table.column("rid").to_pylist() == [0, 1, 1, 1]
    assert result.table.column("event_timestamp").to_pylist() == [at - pd.Timedelta(1, "us"), at, at, at]


STRING_KEYS = ["", "K", "k", "k ", "k10", "k9", "é", "z", "\ufb01", "\U0001f600", "a b"]


@pytest.mark.parametrize("store", STORES)
def test_string_join_keys_match_exactly(stores: Stores, store: str) -> None:
    """Case, trailing space, prefixes and characters beyond ASCII (both orders of UTF-8 and UTF-16) are
    distinct keys; the index (sorted by DuckDB or by Arrow) agrees with DuckDB's join."""
    entity = Entity("e_string", join_keys={"k": "string"})
    frame = pd.DataFrame(
        {
            "k": [key for key in STRING_KEYS for _ in range(2)],
            "ts": [when(step) for _ in STRING_KEYS for step in (0, 2)],
            "rid": np.arange(2 * len(STRING_KEYS)),
            "x": np.arange(2 * len(STRING_KEYS)) + 0.5,
        }
    )
    folder = stores.folder()
    frame.to_parquet(folder / "keys.parquet")
    names = view(f"keys{next(stores.names)}", [entity], ParquetSource(str(folder / "keys.parquet")), 0, False)
    stores.index.apply([entity, names])
    asked = [*STRING_KEYS, "kk", "K ", "E\u0301"]  # the last three are in no row
    entities = pd.DataFrame({"k": asked * 2, "event_timestamp": [when(1)] * len(asked) + [when(5)] * len(asked)})
    result = stores.get(store).training_frame(entities, names.refs())
    known = len(STRING_KEYS)
    expected = [2 * i if i < known else None for i in range(len(asked))]
    expected += [2 * i + 1 if i < known else None for i in range(len(asked))]
    assert result.table.column("k").to_pylist() == asked * 2
    assert result.table.column("rid").to_pylist() == expected


# --- lineage: pushed rows, changed sources, fingerprints, profiles -------------------------------------


def test_pushed_rows_join_later_frames(fresh: Stores) -> None:
    """A push is read after the source (it wins a full tie), rebuilds the index and changes the
    fingerprint; the index and DuckDB agree on it."""
    trips = registered_view(fresh, [Row((1,), 0, 0, False), Row((2,), 1, 0, False)])
    through_duckdb = FeatureStore(fresh.db, root=fresh.index.root, offline=OfflineStore(index_root=None))
    entities = entity_frame([((1,), 0), ((1,), 3), ((2,), 3), ((3,), 3)], [("k", "int64")], "UTC")
    before = fresh.index.training_frame(entities, trips.refs())
    assert before.table.column("rid").to_pylist() == [0, 0, 1, None]
    folder = fresh.index.root / "index" / trips.name
    built = set(os.listdir(folder))

    pushed = {"k": [1, 2, 3], "ts": [when(0), when(2), when(3)], "cr": [when(0)] * 3, "rid": [100, 101, 102]}
    fresh.index.push(trips.name, pd.DataFrame({**pushed, "x": [0.25, None, 2.5]}))
    after = fresh.index.training_frame(entities, trips.refs())
    assert after.table.column("rid").to_pylist() == [100, 100, 101, 102]
    assert after.table.column("x").to_pylist() == [0.25, 0.25, None, 2.5]
    assert set(os.listdir(folder)) - built  # a new index, for the new state (the old one kept a while)
    assert after.fingerprint != before.fingerprint
    duckdb_after = through_duckdb.training_frame(entities, trips.refs())
    assert duckdb_after.table.equals(after.table) and duckdb_after.fingerprint == after.fingerprint

    # A second push is another file, read after the first: it wins the tie at time 0 again.
    fresh.index.push(trips.name, [{"k": 1, "ts": when(0), "cr": when(0), "rid": 103, "x": 3.5}])
    again = fresh.index.training_frame(entities, trips.refs())
    assert again.table.column("rid").to_pylist() == [103, 103, 101, 102]
    assert again.fingerprint not in (before.fingerprint, after.fingerprint)
    assert through_duckdb.training_frame(entities, trips.refs()).table.equals(again.table)
    through_duckdb.close()


def write_values(path: Path, values: Sequence[float]) -> os.stat_result:
    pd.DataFrame(
        {"k": [1, 2], "ts": [when(0), when(1)], "cr": [when(0)] * 2, "rid": [0, 1], "x": list(values)}
    ).to_parquet(path)
    return path.stat()


def rewritten_view(stores: Stores) -> tuple[FeatureView, Path, pd.DataFrame]:
    entity = Entity("e_int64", join_keys={"k": "int64"})
    path = stores.folder() / "rows.parquet"
    write_values(path, [1.5, 2.5])
    trips = view("rewritten", [entity], ParquetSource(str(path)), 0, True)
    stores.index.apply([entity, trips])
    return trips, path, entity_frame([((1,), 3), ((2,), 3), ((3,), 3)], [("k", "int64")], "UTC")


def frames(stores: Stores, entities: pd.DataFrame, refs: list[str]) -> tuple[list[Any], str]:
    """The x column and the fingerprint, the same from every store."""
    results = [stores.get(s).training_frame(entities, refs) for s in STORES]
    assert len({r.fingerprint for r in results}) == 1
    assert all(r.table.equals(results[0].table) for r in results)
    return results[0].table.column("x").to_pylist(), results[0].fingerprint


def test_a_rewritten_source_gives_new_values_and_a_new_fingerprint(fresh: Stores) -> None:
    trips, path, entities = rewritten_view(fresh)
    values, first = frames(fresh, entities, trips.refs())
    assert values == [1.5, 2.5, None]
    assert frames(fresh, entities, trips.refs()) == (values, first)  # the same inputs, the same fingerprint
    reopened = FeatureStore(fresh.db, root=fresh.index.root)  # its index read back from disk
    assert reopened.training_frame(entities, trips.refs()).fingerprint == first
    reopened.close()

    before = path.stat()
    after = write_values(path, [7.5, 8.5])  # in place: the same size and inode, a later mtime
    assert (after.st_size, after.st_ino) == (before.st_size, before.st_ino)
    values, second = frames(fresh, entities, trips.refs())
    assert values == [7.5, 8.5, None]
    assert second != first


@pytest.mark.parametrize("racy_ns", [sources.RACY_NS, 0], ids=["recent", "trusting-stat"])
def test_a_rewrite_that_keeps_size_and_mtime_is_still_seen(
    fresh: Stores, monkeypatch: pytest.MonkeyPatch, racy_ns: int
) -> None:
    """A file system with coarse timestamps, or a copy that keeps them, can leave a rewritten file with
    its size, inode and mtime: the new content must still be read and fingerprinted, whether the file
    changed recently (its content is read) or not (its ctime moved)."""
    monkeypatch.setattr(sources, "RACY_NS", racy_ns)
    trips, path, entities = rewritten_view(fresh)
    assert frames(fresh, entities, trips.refs())[0] == [1.5, 2.5, None]
    before = path.stat()
    write_values(path, [7.5, 8.5])
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_ino, after.st_mtime_ns) == (before.st_size, before.st_ino, before.st_mtime_ns)
    if not racy_ns and after.st_ctime_ns == before.st_ctime_ns:
        pytest.skip("this file system's clock did not move between the writes: only the recent-change check applies")
    assert frames(fresh, entities, trips.refs())[0] == [7.5, 8.5, None]


def test_the_fingerprint_follows_the_request(stores: Stores) -> None:
    trips = registered_view(stores, [Row((1,), 0, 0, False), Row((2,), 1, 0, False)])
    keys = [("k", "int64")]
    entities = entity_frame([((1,), 3), ((2,), 3)], keys, "UTC")
    same = stores.index.training_frame(entities, trips.refs()).fingerprint
    assert stores.index.training_frame(entities.copy(), trips.refs()).fingerprint == same
    others = [
        stores.index.training_frame(entity_frame([((2,), 3), ((1,), 3)], keys, "UTC"), trips.refs()),  # order
        stores.index.training_frame(entity_frame([((1,), 3), ((2,), 4)], keys, "UTC"), trips.refs()),  # a time
        stores.index.training_frame(entities, trips.refs()[:1]),  # fewer features
        stores.index.training_frame(entities, trips.refs(), full_feature_names=True),
        stores.index.training_frame(entities.assign(extra=1), trips.refs()),  # another entity column
    ]
    assert len({same, *(o.fingerprint for o in others)}) == 1 + len(others)


def test_the_profile_is_stored_under_the_fingerprint(stores: Stores) -> None:
    trips = registered_view(stores, [Row((1,), 0, 0, False), Row((2,), 1, 0, True), Row((2,), 5, 0, False)], ttl=3)
    service = FeatureService(f"svc{next(stores.names)}", features=[trips])
    stores.index.apply([service])
    entities = entity_frame([((1,), 2), ((2,), 2), ((2,), 6), ((1,), 6), ((9,), 6)], [("k", "int64")], "UTC")
    frame = stores.index.training_frame(entities, service.name)
    assert frame.table.column("rid").to_pylist() == [0, 1, 2, None, None]
    assert frame.lineage() == {
        "data_fingerprint": frame.fingerprint,
        "feature_service": service.name,
        "feature_service_version": 1,
    }
    stored = stores.index.catalog.profile(frame.fingerprint)
    assert (stored["service"], stored["service_version"], stored["rows"]) == (service.name, 1, 5)
    assert stored["features"] == frame.profile
    assert (stored["features"]["rid"]["count"], stored["features"]["rid"]["nulls"]) == (3, 2)
    assert (stored["features"]["x"]["count"], stored["features"]["x"]["nulls"]) == (2, 3)
    assert (stored["features"]["x"]["min"], stored["features"]["x"]["max"]) == (0.5, 2.5)
    later = stores.index.training_frame(entities.head(3), service.name)
    newest = stores.index.catalog.profiles(service.name)
    assert [p["fingerprint"] for p in newest] == [later.fingerprint, frame.fingerprint]
    assert newest[1] == stored and newest[0]["rows"] == 3
    assert stores.index.catalog.profiles("no-such-service") == []
    assert later.fingerprint in [p["fingerprint"] for p in stores.index.catalog.profiles(limit=1)]


# --- the index built by external sort -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", KEY_DTYPES)
def test_an_index_built_by_external_sort_equals_one_built_in_memory(
    stores: Stores, monkeypatch: pytest.MonkeyPatch, dtype: str
) -> None:
    """IndexStore(in_memory_bytes=0) orders the rows with DuckDB's ORDER BY instead of numpy: on 6,000
    rows over two files with many full ties, both give the reference's rows."""
    built: list[str] = []
    for name in ("_write_in_memory", "_write_streamed"):
        original = getattr(offline_index, name)

        def spy(*args: Any, _name: str = name, _original: Any = original) -> None:
            built.append(_name)
            _original(*args)

        monkeypatch.setattr(offline_index, name, spy)
    rng = np.random.default_rng(3)
    rows = generated_rows(rng, 6000, 150, 1, size=6000, steps=40)
    keys = [("k", dtype)]
    entity = Entity(f"e_{dtype}", join_keys=dict(keys))
    frame = source_frame(rows, keys, "UTC", True)
    big = view(
        f"big{next(stores.names)}", [entity], ParquetSource(write_parquet(frame, stores.folder() / "p", 2500)), 10, True
    )
    stores.index.apply([entity, big])
    entities = [
        ((int(k),), int(t)) for k, t in zip(rng.integers(0, 151, 3000), rng.integers(-1, 42, 3000), strict=True)
    ]
    table = entity_frame(entities, keys, None)
    in_memory = stores.index.training_frame(table, big.refs())
    external = stores.external.training_frame(table, big.refs())
    assert built == ["_write_in_memory", "_write_streamed"]
    assert external.table.equals(in_memory.table)
    assert_frame(external.table, table, expected_columns(rows, reference(rows, entities, 10, True)))


# --- bad input ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FeatureStore]:
    """A store with one good view (trips) and views whose sources do not match their definitions."""
    root = tmp_path_factory.mktemp("bad")
    frame = pd.DataFrame(
        {"driver_id": [1, 2], "ts": [when(0), when(1)], "trips": [3, 4], "rating": [4.5, 4.8], "label": ["a", "b"]}
    )
    frame.to_parquet(root / "trips.parquet")
    frame.assign(ts=frame["ts"].astype(str)).to_parquet(root / "text_time.parquet")
    driver = Entity("driver", join_keys={"driver_id": "int64"})

    def on(name: str, path: str, fields: dict[str, str]) -> FeatureView:
        return FeatureView(
            name, entities=[driver], source=ParquetSource(str(root / path)), event_time="ts", fields=fields
        )

    db = Database("sqlite://")
    db.migrate()
    store = FeatureStore(db, root=root)
    store.apply(
        [
            driver,
            on("trips", "trips.parquet", {"trips": "int64", "rating": "float64"}),
            on("trips_again", "trips.parquet", {"trips": "int64"}),
            on("missing_file", "nowhere.parquet", {"trips": "int64"}),
            on("no_column", "trips.parquet", {"speed": "float64"}),
            on("wrong_type", "trips.parquet", {"label": "int64"}),
            on("text_time", "text_time.parquet", {"trips": "int64"}),
            FeatureService("svc", features=["trips:trips"]),
        ]
    )
    yield store
    store.close()
    db.dispose()


def good_entities() -> pd.DataFrame:
    return pd.DataFrame({"driver_id": [1, 2], "event_timestamp": [when(2), when(2)]})


def unchanged(entities: pd.DataFrame) -> Any:
    return entities


def drop(column: str) -> Callable[[pd.DataFrame], Any]:
    return lambda entities: entities.drop(columns=column)


def assign(**values: Any) -> Callable[[pd.DataFrame], Any]:
    return lambda entities: entities.assign(**values)


@dataclass(frozen=True)
class Bad:
    features: str | list[str]
    error: type[Exception]
    culprits: tuple[str, ...]  # each must appear in the message
    change: Callable[[pd.DataFrame], Any] = unchanged
    options: dict[str, Any] = field(default_factory=dict)


TRIPS = ["trips:trips"]
BAD_INPUT = {
    "no timestamp column": Bad(TRIPS, ValidationError, ("'event_timestamp'",), drop("event_timestamp")),
    "no custom timestamp column": Bad(TRIPS, ValidationError, ("'at'",), options={"timestamp_column": "at"}),
    "no join key column": Bad(TRIPS, ValidationError, ("'driver_id'", "'trips'"), drop("driver_id")),
    "float join keys": Bad(TRIPS, ValidationError, ("'driver_id'", "float"), assign(driver_id=[1.0, np.nan])),
    "text join keys for an int key": Bad(
        TRIPS, ValidationError, ("'driver_id'", "int64"), assign(driver_id=["1", "2"])
    ),
    "text timestamps": Bad(
        TRIPS, ValidationError, ("'event_timestamp'", "pd.to_datetime"), assign(event_timestamp=["2026-03-01"] * 2)
    ),
    "null timestamps": Bad(
        TRIPS, ValidationError, ("'event_timestamp'", "1 empty", "row 1"), assign(event_timestamp=[when(1), None])
    ),
    "reserved column": Bad(TRIPS, ValidationError, ("'__row'", "reserved"), assign(__row=0)),
    "not a frame": Bad(TRIPS, ValidationError, ("dict",), lambda entities: entities.to_dict("list")),
    "unknown service": Bad("nope", FeatureNotFoundError, ("'nope'", "svc")),
    "unknown view": Bad(["nowhere:trips"], FeatureNotFoundError, ("'nowhere'",)),
    "unknown feature": Bad(["trips:speed"], FeatureNotFoundError, ("'trips'", "'speed'", "rating")),
    "malformed reference": Bad(["trips.trips"], ValidationError, ("'trips.trips'",)),
    "no features": Bad([], ValidationError, ("feature service",)),
    "source file missing": Bad(["missing_file:trips"], SourceError, ("nowhere.parquet",)),
    "source lacks a column": Bad(["no_column:speed"], SourceError, ("'no_column'", "'speed'")),
    "source column of another type": Bad(["wrong_type:label"], SourceError, ("'wrong_type'", "'label'", "VARCHAR")),
    "source event times as text": Bad(["text_time:trips"], SourceError, ("'text_time'", "'ts'")),
    "two views name a feature alike": Bad(
        ["trips:trips", "trips_again:trips"], ValidationError, ("'trips'", "'trips_again'", "full_feature_names")
    ),
    "a feature named like an entity column": Bad(
        ["trips:rating"], ValidationError, ("'rating'", "full_feature_names"), assign(rating=1.0)
    ),
}


@pytest.mark.parametrize("case", BAD_INPUT, ids=list(BAD_INPUT))
def test_bad_input_is_refused_naming_the_culprit(bad: FeatureStore, case: str) -> None:
    bad_case = BAD_INPUT[case]
    with pytest.raises(bad_case.error) as caught:
        bad.training_frame(bad_case.change(good_entities()), bad_case.features, **bad_case.options)
    assert type(caught.value) is bad_case.error
    for culprit in bad_case.culprits:
        assert culprit in str(caught.value), (culprit, str(caught.value))


def test_full_feature_names_resolve_a_collision(bad: FeatureStore) -> None:
    frame = bad.training_frame(good_entities(), ["trips:trips", "trips_again:trips"], full_feature_names=True)
    assert frame.features == ["trips__trips", "trips_again__trips"]
    assert frame.table.column("trips__trips").to_pylist() == frame.table.column("trips_again__trips").to_pylist()
    assert frame.table.column("trips__trips").to_pylist() == [3, 4]
