"""The embedded online store: one SQLite table (WAL mode), one connection per thread.

>>> import tempfile, os
>>> store = SqliteOnlineStore(os.path.join(tempfile.mkdtemp(), "online.db"))
>>> store.write("v", [OnlineRow(b"[1]", 20, 0, b'{"x":2}'), OnlineRow(b"[1]", 10, 0, b'{"x":1}')])
1
>>> store.read("v", [b"[1]", b"[2]"])
[StoredValue(event_us=20, value=b'{"x":2}'), None]
>>> store.summary("v")
ViewSummary(values=1, newest_event_us=20)
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from weir.errors import StoreUnavailableError
from weir.features.online.base import OnlineRow, StoredValue, ViewSummary

_SCHEMA = """
CREATE TABLE IF NOT EXISTS online_values (
    view TEXT NOT NULL, key BLOB NOT NULL, event_us INTEGER NOT NULL, created_us INTEGER NOT NULL,
    value BLOB NOT NULL, PRIMARY KEY (view, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS online_values_newest ON online_values (view, event_us)
"""
_UPSERT = (
    "INSERT INTO online_values VALUES (?, ?, ?, ?, ?) ON CONFLICT (view, key) DO UPDATE SET "
    "event_us = excluded.event_us, created_us = excluded.created_us, value = excluded.value "
    "WHERE (excluded.event_us, excluded.created_us) >= (online_values.event_us, online_values.created_us)"
)
_ONE = "SELECT event_us, value FROM online_values WHERE view = ? AND key = ?"
# Both from the (view, event_us) index: the newest is one seek, the count reads the view's index entries only.
_SUMMARY = "SELECT count(*), max(event_us) FROM online_values INDEXED BY online_values_newest WHERE view = ?"
_CHUNK = 500  # keys per IN (...) query, below SQLite's variable limit


@functools.lru_cache(maxsize=_CHUNK)
def _many(count: int) -> str:
    return f"SELECT key, event_us, value FROM online_values WHERE view = ? AND key IN ({','.join('?' * count)})"


class SqliteOnlineStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        self.local = True  # a file on this machine: reads take microseconds
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as conn:
            conn.executescript(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                # Reads from memory-mapped pages and a 64 MiB page cache: no read() per lookup.
                conn.execute("PRAGMA mmap_size = 1073741824")
                conn.execute("PRAGMA cache_size = -65536")
            except sqlite3.Error as exc:
                raise StoreUnavailableError(f"Online store {self.path} cannot be opened: {exc}") from exc
            self._local.conn = conn
            with self._opened_lock:
                self._opened.append(conn)
        return conn

    def write(self, view: str, rows: Sequence[OnlineRow]) -> int:
        with _answering(self.path):
            conn = self._connection()
            before = conn.total_changes
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(_UPSERT, [(view, r.key, r.event_us, r.created_us, r.value) for r in rows])
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return conn.total_changes - before

    def read(self, view: str, keys: Sequence[bytes]) -> list[StoredValue | None]:
        try:  # not a context manager: this is the hot path of every online read
            conn = self._connection()
            if len(keys) == 1:
                row = conn.execute(_ONE, (view, keys[0])).fetchone()
                return [None if row is None else StoredValue(*row)]
            found: dict[bytes, StoredValue] = {}
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                for key, event_us, value in conn.execute(_many(len(chunk)), (view, *chunk)):
                    found[key] = StoredValue(event_us, value)
            return [found.get(k) for k in keys]
        except sqlite3.Error as exc:
            raise _unavailable(self.path, exc) from exc

    def delete_view(self, view: str) -> int:
        with _answering(self.path):
            return self._connection().execute("DELETE FROM online_values WHERE view = ?", (view,)).rowcount

    def summary(self, view: str) -> ViewSummary:
        with _answering(self.path):
            count, newest = self._connection().execute(_SUMMARY, (view,)).fetchone()
        return ViewSummary(int(count), None if newest is None else int(newest))

    def close(self) -> None:
        """Close every thread's connection."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._local = threading.local()


def _unavailable(path: Path, exc: sqlite3.Error) -> StoreUnavailableError:
    return StoreUnavailableError(f"Online store {path} failed: {exc}; is another process holding it locked?")


@contextlib.contextmanager
def _answering(path: Path) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise _unavailable(path, exc) from exc
