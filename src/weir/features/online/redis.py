"""The shared online store on Redis: one hash per (view, entity key) holding the event time ``e``, the
created time ``c`` and the value ``v``. Ordered writes run as one Lua script per batch, so the
compare-and-set is atomic even with several writers.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from typing import Any

from weir.errors import StoreUnavailableError, ValidationError
from weir.features.online.base import OnlineRow, StoredValue, ViewSummary

_WRITE = """
local n = 0
for i = 1, #KEYS do
  local e = tonumber(ARGV[3 * i - 2])
  local c = tonumber(ARGV[3 * i - 1])
  local cur = redis.call('HMGET', KEYS[i], 'e', 'c')
  local ce = tonumber(cur[1])
  if (not ce) or e > ce or (e == ce and c >= tonumber(cur[2])) then
    redis.call('HSET', KEYS[i], 'e', ARGV[3 * i - 2], 'c', ARGV[3 * i - 1], 'v', ARGV[3 * i])
    n = n + 1
  end
end
return n
"""
_BATCH = 1000


class RedisOnlineStore:
    def __init__(self, url: str, *, prefix: str = "weir") -> None:
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - the extra is part of dev installs
            raise ValidationError("The Redis online store needs the redis package: pip install 'weir[redis]'.") from exc
        self.url = url
        self.prefix = prefix.encode()
        self._errors: tuple[type[Exception], ...] = (redis.RedisError,)
        self.local = False  # a network round trip per read: callers keep it off their event loop
        self.client: Any = redis.Redis.from_url(url, socket_timeout=10)
        try:
            self.client.ping()
        except redis.RedisError as exc:
            raise StoreUnavailableError(f"Online store {url} does not answer: {exc}") from exc
        self._script = self.client.register_script(_WRITE)

    def _key(self, view: str, key: bytes) -> bytes:
        return self.prefix + b":" + view.encode() + b":" + key

    @contextlib.contextmanager
    def _answering(self) -> Iterator[None]:
        try:
            yield
        except self._errors as exc:
            raise StoreUnavailableError(f"Online store {self.url} failed: {exc}") from exc

    def write(self, view: str, rows: Sequence[OnlineRow]) -> int:
        with self._answering():
            return self._write(view, rows)

    def _write(self, view: str, rows: Sequence[OnlineRow]) -> int:
        written = 0
        for start in range(0, len(rows), _BATCH):
            chunk = rows[start : start + _BATCH]
            args: list[Any] = []
            for r in chunk:
                args += [r.event_us, r.created_us, r.value]
            written += int(self._script(keys=[self._key(view, r.key) for r in chunk], args=args))
        return written

    def read(self, view: str, keys: Sequence[bytes]) -> list[StoredValue | None]:
        with self._answering():
            return self._read(view, keys)

    def _read(self, view: str, keys: Sequence[bytes]) -> list[StoredValue | None]:
        if len(keys) == 1:
            found = [self.client.hmget(self._key(view, keys[0]), "e", "v")]
        else:
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.hmget(self._key(view, key), "e", "v")
            found = pipe.execute()
        return [None if e is None else StoredValue(int(e), v) for e, v in found]

    def delete_view(self, view: str) -> int:
        with self._answering():
            return self._delete_view(view)

    def _pattern(self, view: str) -> bytes:
        # The name is matched literally (glob characters escaped), then the '[' every encoded key starts
        # with, so that view "v" leaves view "v:w" alone.
        literal = re.sub(rb"([*?\[\]\\])", rb"\\\1", self.prefix + b":" + view.encode() + b":")
        return literal + b"[[]*"

    def _delete_view(self, view: str) -> int:
        removed = 0
        batch: list[bytes] = []
        for key in self.client.scan_iter(match=self._pattern(view), count=1000):
            batch.append(key)
            if len(batch) >= _BATCH:
                removed += self.client.delete(*batch)
                batch = []
        if batch:
            removed += self.client.delete(*batch)
        return removed

    def summary(self, view: str) -> ViewSummary:
        """A scan of the view's keys (linear in its size: for the dashboard, not for serving)."""
        with self._answering():
            count, newest = 0, None
            batch: list[bytes] = []
            for key in self.client.scan_iter(match=self._pattern(view), count=1000):
                batch.append(key)
                if len(batch) >= _BATCH:
                    count, newest = self._newest(batch, count, newest)
                    batch = []
            count, newest = self._newest(batch, count, newest)
        return ViewSummary(count, newest)

    def _newest(self, keys: list[bytes], count: int, newest: int | None) -> tuple[int, int | None]:
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.hget(key, "e")
        for e in pipe.execute() if keys else []:
            if e is not None:
                count, newest = count + 1, int(e) if newest is None else max(newest, int(e))
        return count, newest

    def close(self) -> None:
        self.client.close()
