"""Online stores: SQLite (embedded default) and Redis (shared), one contract (:class:`OnlineStore`)."""

from __future__ import annotations

from pathlib import Path

from weir.errors import ConfigError
from weir.features.online.base import OnlineRow, OnlineStore, StoredValue, ViewSummary, encode_key
from weir.features.online.sqlite import SqliteOnlineStore


def open_online_store(url: str) -> OnlineStore:
    """``sqlite:///path/online.db`` or ``redis://host:port/db``."""
    if url.startswith("sqlite:///"):
        return SqliteOnlineStore(Path(url.removeprefix("sqlite:///")))
    if url.startswith(("redis://", "rediss://", "unix://")):
        from weir.features.online.redis import RedisOnlineStore

        return RedisOnlineStore(url)
    raise ConfigError(f"online_store {url!r} is not sqlite:///PATH or redis://HOST:PORT/DB.")


__all__ = [
    "OnlineRow",
    "OnlineStore",
    "SqliteOnlineStore",
    "StoredValue",
    "ViewSummary",
    "encode_key",
    "open_online_store",
]
