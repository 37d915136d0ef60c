"""Where a feature view's rows come from: Parquet or CSV files (a path or a glob), or a DuckDB SQL query.

Each source renders the DuckDB relation that reads it and a snapshot digest that changes when its data
changes (the files' SHA-256, or the query text and an order-independent hash of its result).

>>> ParquetSource("data/driver_stats.parquet").relation()
"read_parquet('data/driver_stats.parquet')"
"""

from __future__ import annotations

import glob
import hashlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Self

from weir.errors import SourceError, ValidationError
from weir.types import JSONDict


def quote(text: str) -> str:
    """A DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class FileSource:
    """Files read by DuckDB. ``path`` may be a glob (``data/*.parquet``); relative paths are taken from
    the folder of the definitions file that declared them (:func:`weir.features.load_definitions`)."""

    path: str
    kind: ClassVar[str] = "file"
    reader: ClassVar[str] = ""

    def __post_init__(self) -> None:
        if not isinstance(self.path, str | os.PathLike) or not str(self.path):
            raise ValidationError(f"{type(self).__name__} needs a path, got {self.path!r}.")
        object.__setattr__(self, "path", os.fspath(self.path))

    def files(self) -> list[Path]:
        found = sorted(glob.glob(self.path)) if glob.has_magic(self.path) else [self.path]
        paths = [Path(p) for p in found if Path(p).is_file()]
        if not paths:
            raise SourceError(f"Source {self.path!r} has no file; check the path (relative to the definitions file).")
        return paths

    def relation(self) -> str:
        return f"{self.reader}({quote(self.path)})"

    def row_id(self) -> str | None:
        """An expression naming each source row stably across scans, or None when the query must number
        the rows itself (once, in a temporary table)."""
        return None

    def snapshot(self) -> str:
        hasher = hashlib.sha256()
        for path in self.files():
            hasher.update(str(path).encode() + b"\0" + file_digest(path).encode())
        return hasher.hexdigest()

    def resolved(self, base: Path) -> Self:
        """This source with a relative path anchored at ``base``."""
        if os.path.isabs(self.path):
            return self
        return type(self)(str((base / self.path).resolve()))

    def to_spec(self) -> JSONDict:
        return {"type": self.reader.removeprefix("read_"), "path": self.path}


@dataclass(frozen=True)
class ParquetSource(FileSource):
    reader: ClassVar[str] = "read_parquet"

    def row_id(self) -> str | None:
        # DuckDB's virtual columns: which file of the glob, and the row's position in it.
        return "((file_index::BIGINT << 40) + file_row_number)"


@dataclass(frozen=True)
class CsvSource(FileSource):
    reader: ClassVar[str] = "read_csv"


@dataclass(frozen=True)
class SqlSource:
    """A DuckDB query (it may read files, ``read_parquet(...)``, or anything DuckDB can reach)."""

    query: str
    kind: ClassVar[str] = "sql"

    def __post_init__(self) -> None:
        if not isinstance(self.query, str) or not self.query.strip():
            raise ValidationError("SqlSource needs a non-empty query.")

    def relation(self) -> str:
        return f"({self.query.strip().rstrip(';')})"

    def row_id(self) -> str | None:
        return None

    def resolved(self, base: Path) -> SqlSource:
        return self

    def to_spec(self) -> JSONDict:
        return {"type": "sql", "query": self.query}


Source = ParquetSource | CsvSource | SqlSource


def source_from_spec(spec: JSONDict) -> Source:
    kind = spec.get("type")
    if kind == "parquet":
        return ParquetSource(spec["path"])
    if kind == "csv":
        return CsvSource(spec["path"])
    if kind == "sql":
        return SqlSource(spec["query"])
    raise ValidationError(f"Unknown source type {kind!r}; use parquet, csv or sql.")


RACY_NS = 2_000_000_000  # a file changed this recently may change again without its stat changing

_digests: dict[tuple[str, int, int, int, int], str] = {}
_digests_lock = threading.Lock()


def stat_key(stat: os.stat_result) -> tuple[int, int, int, int]:
    """What changes when a file's content does: size, mtime, inode, and ctime (which a copy that keeps
    the mtime, or ``os.utime``, still moves)."""
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def recently_changed(stat: os.stat_result) -> bool:
    """Whether a file changed too recently for its stat to show the next change (file systems whose
    clocks tick in seconds): its content must be read, not its stat trusted."""
    return time.time_ns() - max(stat.st_mtime_ns, stat.st_ctime_ns) < RACY_NS


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, remembered per (path, stat_key) for this process unless recently changed."""
    stat = path.stat()
    key = (str(path.resolve()), *stat_key(stat))
    remember = not recently_changed(stat)
    with _digests_lock:
        known = _digests.get(key) if remember else None
    if known is not None:
        return known
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            hasher.update(chunk)
    digest = hasher.hexdigest()
    if remember:
        with _digests_lock:
            _digests[key] = digest
    return digest
