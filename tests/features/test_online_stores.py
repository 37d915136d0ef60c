"""One conformance suite for every online store (SQLite and Redis, on a real redis-server), then the
feature store's online side (materialise, push, get_online) over each of them."""

from __future__ import annotations

import itertools
import os
import random
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.redis_server import redis_server_url
from weir.errors import FeatureNotFoundError, ValidationError
from weir.features import (
    NOT_FOUND,
    OUTSIDE_MAX_AGE,
    PRESENT,
    Entity,
    FeatureService,
    FeatureStore,
    FeatureView,
    ParquetSource,
)
from weir.features.online import OnlineRow, OnlineStore, SqliteOnlineStore, StoredValue, ViewSummary, encode_key
from weir.store import Database

BACKENDS = ["sqlite", "redis"]
T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z in µs: realistic magnitudes (Lua numbers are doubles)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real redis-server for this worker's session (or WEIRTEST_REDIS_URL)."""
    yield from redis_server_url()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnlineStore]:
    """Each online store; on Redis under a key prefix of its own, so tests and workers never collide."""
    backend: OnlineStore
    if request.param == "sqlite":
        backend = SqliteOnlineStore(tmp_path / "online" / "online.db")
        yield backend
        backend.close()
        return
    from weir.features.online.redis import RedisOnlineStore

    prefix = f"weirtest-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    redis_backend = RedisOnlineStore(request.getfixturevalue("redis_url"), prefix=prefix)
    yield redis_backend
    leftover = list(redis_backend.client.scan_iter(match=f"{prefix}:*", count=1000))
    if leftover:
        redis_backend.client.delete(*leftover)
    redis_backend.close()


def row(key: object, event: int, created: int = 0, value: bytes | None = None) -> OnlineRow:
    keys = key if isinstance(key, tuple) else (key,)
    return OnlineRow(
        encode_key(keys), T0 + event, T0 + created, value if value is not None else b"%d/%d" % (event, created)
    )


def k(*values: object) -> bytes:
    return encode_key(values)


# --- the conformance suite ---------------------------------------------------------------------------


def test_write_then_read(store: OnlineStore) -> None:
    assert store.write("v", [row(1, 10, value=b'{"x":1}'), row(2, 20, value=b'{"x":2}')]) == 2
    assert store.read("v", [k(1)]) == [StoredValue(T0 + 10, b'{"x":1}')]
    assert store.read("v", [k(2), k(1)]) == [StoredValue(T0 + 20, b'{"x":2}'), StoredValue(T0 + 10, b'{"x":1}')]


def test_missing_keys_are_none_and_results_follow_the_requested_order(store: OnlineStore) -> None:
    store.write("v", [row(i, i) for i in (1, 3, 5)])
    assert store.read("v", [k(9)]) == [None]
    assert store.read("v", []) == []
    found = store.read("v", [k(5), k(4), k(1), k(3), k(2), k(5)])
    assert [None if f is None else f.event_us - T0 for f in found] == [5, None, 1, 3, None, 5]


def test_an_older_row_never_overwrites_a_newer_one(store: OnlineStore) -> None:
    assert store.write("v", [row(1, 20, value=b"new")]) == 1
    assert store.write("v", [row(1, 10, value=b"old")]) == 0
    assert store.read("v", [k(1)]) == [StoredValue(T0 + 20, b"new")]
    # written the other way round: the newer replaces the older
    assert store.write("v", [row(2, 10, value=b"old")]) == 1
    assert store.write("v", [row(2, 20, value=b"new")]) == 1
    assert store.read("v", [k(2)]) == [StoredValue(T0 + 20, b"new")]


def test_one_microsecond_apart_at_realistic_magnitudes(store: OnlineStore) -> None:
    store.write("v", [OnlineRow(k(1), T0 + 1, T0, b"later")])
    assert store.write("v", [OnlineRow(k(1), T0, T0 + 10**9, b"earlier")]) == 0
    store.write("v", [OnlineRow(k(2), T0, T0 + 1, b"created later")])
    assert store.write("v", [OnlineRow(k(2), T0, T0, b"created earlier")]) == 0
    assert [f.value for f in store.read("v", [k(1), k(2)]) if f] == [b"later", b"created later"]


def test_equal_event_and_created_the_later_write_wins(store: OnlineStore) -> None:
    store.write("v", [row(1, 10, 5, b"first")])
    assert store.write("v", [row(1, 10, 5, b"second")]) == 1
    assert store.read("v", [k(1)]) == [StoredValue(T0 + 10, b"second")]


def test_at_equal_event_the_newer_created_wins(store: OnlineStore) -> None:
    store.write("v", [row(1, 10, 5, b"c5")])
    assert store.write("v", [row(1, 10, 4, b"c4")]) == 0
    assert store.write("v", [row(1, 10, 6, b"c6")]) == 1
    assert store.read("v", [k(1)]) == [StoredValue(T0 + 10, b"c6")]
    # rows without a created time (the feature store's sentinel) lose to rows with one
    no_created = -(2**52)
    store.write("v", [OnlineRow(k(2), T0, T0, b"with"), OnlineRow(k(2), T0, no_created, b"without")])
    assert store.read("v", [k(2)]) == [StoredValue(T0, b"with")]


def test_a_batch_with_one_key_several_times_ends_with_the_newest(store: OnlineStore) -> None:
    batch = [row(1, 5), row(1, 9, 0, b"9/0"), row(1, 7), row(1, 9, 1, b"newest"), row(1, 3), row(1, 9, 0)]
    store.write("v", batch)
    assert store.read("v", [k(1)]) == [StoredValue(T0 + 9, b"newest")]


def test_empty_write_stores_nothing(store: OnlineStore) -> None:
    assert store.write("v", []) == 0
    assert store.read("v", [k(1)]) == [None]


def test_batches_larger_than_the_backend_chunks(store: OnlineStore) -> None:
    n = 2_345  # > Redis's 1000 keys per script call and SQLite's 500 keys per IN (...)
    assert store.write("v", [row(i, i, value=b"a%d" % i) for i in range(n)]) == n
    # half newer, half older: exactly the newer ones are stored, across chunk boundaries
    assert store.write("v", [row(i, i + (1 if i % 2 else -1), value=b"b%d" % i) for i in range(n)]) == n // 2
    found = store.read("v", [k(i) for i in range(n)])
    assert [f.value if f else None for f in found] == [b"b%d" % i if i % 2 else b"a%d" % i for i in range(n)]


def test_reads_of_many_keys_in_one_call(store: OnlineStore) -> None:
    store.write("v", [row(i, i) for i in range(0, 2_400, 2)])
    wanted = list(range(2_399, -1, -2)) + list(range(0, 2_400, 2))[:600]  # 1200 missing, then 600 present
    found = store.read("v", [k(i) for i in wanted])
    assert len(found) == len(wanted) == 1_800
    assert [None if f is None else f.event_us - T0 for f in found] == [i if i % 2 == 0 else None for i in wanted]


def test_views_are_isolated(store: OnlineStore) -> None:
    store.write("a", [row(1, 10, value=b"in a")])
    store.write("b", [row(1, 5, value=b"in b")])
    assert store.read("a", [k(1)]) == [StoredValue(T0 + 10, b"in a")]
    assert store.read("b", [k(1)]) == [StoredValue(T0 + 5, b"in b")]
    assert store.read("c", [k(1)]) == [None]


def test_delete_view_removes_only_that_view_and_counts(store: OnlineStore) -> None:
    store.write("a", [row(i, 1) for i in range(1_234)])
    store.write("ab", [row(i, 1) for i in range(3)])
    store.write("b", [row(i, 1) for i in range(7)])
    assert store.delete_view("a") == 1_234
    assert store.read("a", [k(0), k(1_233)]) == [None, None]
    assert [f is not None for f in store.read("ab", [k(i) for i in range(3)])] == [True] * 3
    assert [f is not None for f in store.read("b", [k(i) for i in range(7)])] == [True] * 7
    assert store.delete_view("a") == 0
    assert store.delete_view("nothing") == 0
    # writable again after deletion, from scratch (an older row than the deleted one is stored)
    assert store.write("a", [row(1, 0, value=b"again")]) == 1
    assert store.read("a", [k(1)]) == [StoredValue(T0, b"again")]


def test_summary_counts_the_values_of_one_view_and_finds_the_newest_event(store: OnlineStore) -> None:
    assert store.summary("a") == ViewSummary(0, None)
    store.write("a", [row(i, 1 + i % 7) for i in range(1_234)])
    store.write("a", [row(3, 50), row(4, 0)])  # a newer value replaces one; an older one is not stored
    store.write("ab", [row(1, 99)])
    assert store.summary("a") == ViewSummary(1_234, T0 + 50)
    assert store.summary("ab") == ViewSummary(1, T0 + 99)
    store.delete_view("a")
    assert store.summary("a") == ViewSummary(0, None)


def test_summary_stays_exact_under_concurrent_writers_and_deletes(store: OnlineStore) -> None:
    """Several writers storing overlapping keys, out of order: the count is the distinct keys held, the newest
    the largest event stored; deleting the view empties it, and it counts again from scratch."""
    rng = random.Random(7)
    batches = [[row(rng.randrange(300), rng.randrange(1_000)) for _ in range(200)] for _ in range(8)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda batch: store.write("c", batch), batches))
    keys = {r.key for batch in batches for r in batch}
    newest = max(r.event_us for batch in batches for r in batch)
    assert store.summary("c") == ViewSummary(len(keys), newest)
    assert store.delete_view("c") == len(keys)
    assert store.summary("c") == ViewSummary(0, None)
    store.write("c", [row(1, 3)])
    assert store.summary("c") == ViewSummary(1, T0 + 3)


@pytest.mark.parametrize("names", [("v", "v:w"), ("v*", "vx"), ("v?", "vx"), ("v[x]", "vx"), ("v\\", "v")])
def test_view_names_are_taken_literally(store: OnlineStore, names: tuple[str, str]) -> None:
    """Names that look like separators or glob patterns neither match nor delete other views."""
    first, second = names
    store.write(first, [row(1, 1, value=b"first")])
    store.write(second, [row(1, 2, value=b"second")])
    assert store.read(first, [k(1)]) == [StoredValue(T0 + 1, b"first")]
    assert store.delete_view(first) == 1
    assert store.read(second, [k(1)]) == [StoredValue(T0 + 2, b"second")]
    assert store.delete_view(second) == 1


def test_values_and_keys_round_trip_as_bytes(store: OnlineStore) -> None:
    values = [b"", b"\x00", b"\xff\xfe\x00\x01", bytes(range(256)), "é ✓ 漢".encode(), b"x" * 1_000_000, b"nil"]
    keys = [k(1), k("é"), k("a:b*"), k("[x]", 7), k(""), k(-(2**62)), k("nil")]
    store.write("v", [OnlineRow(key, T0, T0, value) for key, value in zip(keys, values, strict=True)])
    found = store.read("v", keys)
    assert all(isinstance(f.value, bytes) for f in found if f)
    assert [f.value if f else None for f in found] == values
    assert [f.value if f else None for f in store.read("v", [keys[1]])] == [values[1]]


def test_concurrent_writers_end_with_the_newest_value_for_every_key(store: OnlineStore) -> None:
    """Threads write the same keys at once, round after round (thread i writes (event r, created i) in
    round r), each in random batches: a compare-and-set that is not atomic lets a slightly older row
    land after the newest. Every key must end with its newest (event, created)."""
    rng = random.Random(7)
    keys, rounds, threads = 200, 5, 8
    orders = [rng.sample(range(keys), keys) for _ in range(rounds)]  # shared: threads meet on the same keys
    plans = []
    for i in range(threads):
        rows = [row(key, r, i, b"%d:%d:%d" % (key, r, i)) for r in range(rounds) for key in orders[r]]
        cuts = sorted(rng.sample(range(1, len(rows)), len(rows) // 25))
        plans.append([rows[a:b] for a, b in itertools.pairwise([0, *cuts, len(rows)])])
    barrier = threading.Barrier(threads)

    def work(batches: list[list[OnlineRow]]) -> int:
        barrier.wait(timeout=30)
        return sum(store.write("v", batch) for batch in batches)

    with ThreadPoolExecutor(threads) as pool:
        written = list(pool.map(work, plans))
    assert keys * rounds * threads > sum(written) >= keys * rounds
    found = store.read("v", [k(key) for key in range(keys)])
    newest = [StoredValue(T0 + rounds - 1, b"%d:%d:%d" % (key, rounds - 1, threads - 1)) for key in range(keys)]
    assert found == newest


_writes = st.lists(
    st.tuples(st.integers(0, 4), st.integers(-3, 3), st.integers(-2, 2)),  # (key, event, created)
    min_size=1,
    max_size=40,
)


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(writes=_writes, data=st.data())
def test_any_order_and_batching_leaves_the_newest(
    store: OnlineStore, writes: list[tuple[int, int, int]], data: st.DataObject
) -> None:
    view = f"h{uuid.uuid4().hex}"  # the store lives across examples: each example has a view of its own
    order = data.draw(st.permutations(range(len(writes))), label="order")
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(writes) - 1)), max_size=5), label="cuts"))
    applied = [OnlineRow(k(writes[i][0]), T0 + writes[i][1], T0 + writes[i][2], b"#%d" % i) for i in order]
    bounds = [0, *[c for c in cuts if c < len(applied)], len(applied)]
    stored = sum(store.write(view, applied[a:b]) for a, b in itertools.pairwise(bounds))
    # Expected: per key the max (event, created); among writes that equal it, the last applied.
    best: dict[int, tuple[int, int, int]] = {}
    accepted = 0
    for i in order:
        key, event, created = writes[i]
        if key not in best or (event, created) >= best[key][:2]:
            best[key] = (event, created, i)
            accepted += 1
    assert stored == accepted
    keys = [*sorted({w[0] for w in writes}), 99]
    found = store.read(view, [k(key) for key in keys])
    assert found == [StoredValue(T0 + best[key][0], b"#%d" % best[key][2]) for key in keys[:-1]] + [None]


# --- the feature store's online side, over each store ------------------------------------------------

DAY = pd.Timestamp("2026-01-01", tz="UTC")


def at(days: float) -> pd.Timestamp:
    return DAY + pd.Timedelta(days=days)


def us(when: pd.Timestamp) -> int:
    return int(when.value // 1_000)


driver = Entity("driver", join_keys={"driver_id": "int64"})


def trips_frame(rows: list[tuple[int, float, float, int]]) -> pd.DataFrame:
    """(driver_id, event day, created day, trips) → the view's source rows."""
    return pd.DataFrame(
        {
            "driver_id": pd.array([r[0] for r in rows], dtype="int64"),
            "ts": [at(r[1]) for r in rows],
            "created": [at(r[2]) for r in rows],
            "trips": pd.array([r[3] for r in rows], dtype="int64"),
            "rating": [r[3] / 10 for r in rows],
        }
    )


SOURCE_ROWS = [
    (1, 0, 0, 1),
    (1, 2, 2, 3),
    (1, 4, 4, 5),
    (2, 1, 1, 20),
    (2, 1, 3, 21),  # same event as the row above, created later: it wins
    (3, 5, 5, 30),
]


@pytest.fixture
def fs(store: OnlineStore, tmp_path: Path) -> Iterator[FeatureStore]:
    db = Database("sqlite://")
    db.migrate()
    root = tmp_path / "fs"
    root.mkdir()
    trips_frame(SOURCE_ROWS).to_parquet(root / "trips.parquet")
    trips = FeatureView(
        "trips",
        entities=[driver],
        source=ParquetSource(str(root / "trips.parquet")),
        event_time="ts",
        created_time="created",
        fields={"trips": "int64", "rating": "float64"},
    )
    feature_store = FeatureStore(db, root=root, online=store)
    feature_store.apply([driver, trips, FeatureService("svc", features=[trips])])
    yield feature_store
    feature_store.close()
    db.dispose()


def online_trips(fs: FeatureStore, ids: list[int]) -> list[int | None]:
    return fs.get_online("svc", [{"driver_id": i} for i in ids]).values["trips"]


def test_materialize_stores_the_latest_value_in_the_window(fs: FeatureStore) -> None:
    assert fs.materialize(at(0), at(4)) == {"trips": 2}  # drivers 1 and 2; driver 1's day-4 row is at the end
    got = fs.get_online("svc", [{"driver_id": 1}, {"driver_id": 2}, {"driver_id": 3}])
    assert got.values == {"driver_id": [1, 2, 3], "trips": [3, 21, None], "rating": [0.3, 2.1, None]}
    assert got.statuses["trips"] == [PRESENT, PRESENT, NOT_FOUND]
    assert got.event_us["trips"] == [us(at(2)), us(at(1)), None]
    assert fs.catalog.watermark("trips") is not None


def test_materialize_over_an_older_window_keeps_newer_values(fs: FeatureStore) -> None:
    assert fs.materialize(None, at(10)) == {"trips": 3}
    assert online_trips(fs, [1, 2, 3]) == [5, 21, 30]
    watermark = pd.Timestamp(fs.catalog.watermark("trips")).tz_localize(None)
    # driver 1's newest row in [day 0, day 3) is older than the stored one: not stored; driver 2's is the
    # very row stored (equal event and created times): rewritten, same value
    assert fs.materialize(at(0), at(3)) == {"trips": 1}
    assert online_trips(fs, [1, 2, 3]) == [5, 21, 30]
    assert pd.Timestamp(fs.catalog.watermark("trips")).tz_localize(None) == watermark  # not moved back


def test_materialize_incremental_moves_the_watermark_and_reads_only_after_it(fs: FeatureStore, tmp_path: Path) -> None:
    def watermark() -> pd.Timestamp:
        value = pd.Timestamp(fs.catalog.watermark("trips"))
        return value.tz_localize("UTC") if value.tzinfo is None else value.tz_convert("UTC")

    assert fs.catalog.watermark("trips") is None
    assert fs.materialize_incremental(end=at(3)) == {"trips": 2}
    assert watermark() == at(3)
    assert online_trips(fs, [1, 2, 3]) == [3, 21, None]
    # a late row for a new driver, dated before the watermark, and a new row after it
    trips_frame([*SOURCE_ROWS, (4, 1, 6, 40), (2, 6, 6, 22)]).to_parquet(tmp_path / "fs" / "trips.parquet")
    assert fs.materialize_incremental(end=at(3)) == {"trips": 0}  # nothing new up to the watermark
    assert fs.materialize_incremental(end=at(8)) == {"trips": 3}  # drivers 1, 2 and 3
    assert watermark() == at(8)
    assert online_trips(fs, [1, 2, 3, 4]) == [5, 22, 30, None]  # driver 4's row is before the watermark
    # a full run picks it up (drivers 1 to 3 are rewritten with the very rows stored)
    assert fs.materialize(None, at(8)) == {"trips": 4}
    assert online_trips(fs, [4]) == [40]


def test_push_is_visible_online_at_once_and_ordered(fs: FeatureStore) -> None:
    fs.materialize(None, at(10))
    pushed = {"driver_id": 1, "ts": at(7), "created": at(7), "trips": 7, "rating": 0.7}
    assert fs.push("trips", [pushed]) == 1
    assert online_trips(fs, [1]) == [7]
    assert fs.push("trips", [{**pushed, "ts": at(6), "trips": 6}]) == 0  # older event
    assert fs.push("trips", [{**pushed, "created": at(6), "trips": 8}]) == 0  # same event, older created
    assert online_trips(fs, [1]) == [7]
    assert fs.push("trips", [{**pushed, "created": at(8), "trips": 9}]) == 1  # same event, newer created
    assert fs.push("trips", pd.DataFrame([{**pushed, "driver_id": 5, "trips": 50}])) == 1
    got = fs.get_online("svc", {"driver_id": [1, 5, 6]})
    assert got.values["trips"] == [9, 50, None]
    assert got.statuses["rating"] == [PRESENT, PRESENT, NOT_FOUND]
    # a materialisation of the (older) source afterwards does not undo the pushed values
    fs.materialize(None, at(10))
    assert online_trips(fs, [1, 5]) == [9, 50]


def test_statuses_present_not_found_and_outside_max_age(store: OnlineStore, tmp_path: Path) -> None:
    now = pd.Timestamp.now(tz="UTC").floor("s")
    pd.DataFrame(
        {
            "driver_id": pd.array([1, 2, 2], dtype="int64"),
            "ts": [now - pd.Timedelta(minutes=10), now - pd.Timedelta(hours=3), now - pd.Timedelta(hours=2)],
            "speed": [1.5, 2.5, 3.5],
        }
    ).to_parquet(tmp_path / "speed.parquet")
    recent = FeatureView(
        "recent",
        entities=[driver],
        source=ParquetSource(str(tmp_path / "speed.parquet")),
        event_time="ts",
        fields={"speed": "float64"},
        ttl=timedelta(hours=1),
    )
    db = Database("sqlite://")
    db.migrate()
    fs = FeatureStore(db, root=tmp_path / "fs", online=store)
    fs.apply([driver, recent, FeatureService("speeds", features=[recent])])
    assert fs.materialize(None, (now + pd.Timedelta(minutes=1)).to_pydatetime()) == {"recent": 2}
    got = fs.get_online("speeds", [{"driver_id": 1}, {"driver_id": 2}, {"driver_id": 3}])
    assert got.values["speed"] == [1.5, None, None]
    assert got.statuses["speed"] == [PRESENT, OUTSIDE_MAX_AGE, NOT_FOUND]
    assert got.event_us["speed"] == [us(now - pd.Timedelta(minutes=10)), us(now - pd.Timedelta(hours=2)), None]
    # by reference, with full names
    got = fs.get_online(["recent:speed"], [{"driver_id": 1}], full_feature_names=True)
    assert got.values == {"driver_id": [1], "recent__speed": [1.5]}


def test_string_keys_and_a_two_key_entity(store: OnlineStore, tmp_path: Path) -> None:
    pd.DataFrame(
        {
            "user": ["a", "a", "b", "é"],
            "item": pd.array([1, 2, 1, 1], dtype="int64"),
            "ts": [at(0), at(0), at(0), at(1)],
            "score": [0.1, 0.2, 0.3, 0.4],
        }
    ).to_parquet(tmp_path / "scores.parquet")
    pair = Entity("pair", join_keys={"user": "string", "item": "int64"})
    scores = FeatureView(
        "scores",
        entities=[pair],
        source=ParquetSource(str(tmp_path / "scores.parquet")),
        event_time="ts",
        fields={"score": "float64"},
    )
    db = Database("sqlite://")
    db.migrate()
    fs = FeatureStore(db, root=tmp_path / "fs", online=store)
    fs.apply([pair, scores, FeatureService("recs", features=[scores])])
    assert fs.materialize(None, at(5)) == {"scores": 4}
    rows = [
        {"user": "a", "item": 2},
        {"user": "b", "item": 1},
        {"user": "a", "item": "1"},  # coerced to the declared int64
        {"user": "é", "item": 1.0},
        {"user": "b", "item": 2},
        {"user": "1", "item": 1},
    ]
    got = fs.get_online("recs", rows)
    assert got.values == {
        "user": ["a", "b", "a", "é", "b", "1"],
        "item": [2, 1, 1, 1, 2, 1],
        "score": [0.2, 0.3, 0.1, 0.4, None, None],
    }
    assert got.statuses["score"] == [PRESENT] * 4 + [NOT_FOUND] * 2


def test_bad_requests_name_what_is_wrong(fs: FeatureStore) -> None:
    fs.materialize(None, at(10))
    with pytest.raises(ValidationError, match="driver_id"):
        fs.get_online("svc", [{"driver": 1}])
    with pytest.raises(ValidationError, match=r"driver_id.*'abc'"):
        fs.get_online("svc", [{"driver_id": 1}, {"driver_id": "abc"}])
    with pytest.raises(ValidationError, match="driver_id.*7.5"):
        fs.get_online("svc", [{"driver_id": 7.5}])
    with pytest.raises(ValidationError, match="driver_id"):
        fs.get_online("svc", [{"driver_id": True}])
    with pytest.raises(ValidationError, match="No entity rows"):
        fs.get_online("svc", [])
    with pytest.raises(ValidationError, match="different lengths"):
        fs.get_online("svc", {"driver_id": [1, 2], "other": [1]})
    with pytest.raises(FeatureNotFoundError, match="nope"):
        fs.get_online("nope", [{"driver_id": 1}])
    with pytest.raises(FeatureNotFoundError, match="missing"):
        fs.get_online(["trips:missing"], [{"driver_id": 1}])
    with pytest.raises(ValidationError, match="trips"):
        fs.push("trips", [])
    with pytest.raises(ValidationError, match="'ts'"):
        fs.push("trips", [{"driver_id": 1, "trips": 1, "rating": 0.1}])
    assert online_trips(fs, [1]) == [5]  # nothing above changed the stored values
