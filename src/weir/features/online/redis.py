"""The shared online store on Redis: one hash per (view, entity key) holding the event time ``e``, the
created time ``c`` and the value ``v``. Ordered writes run as one Lua script per batch, so the
compare-and-set is atomic even with several writers.

Each view also has a summary hash (``<prefix>:<view>:#summary``: ``n`` values held, ``e`` the newest event
time) that the same scripts keep up to date as they store and delete values, so :meth:`summary` is one
lookup however large the view is.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from typing import Any

from weir.errors import StoreUnavailableError, ValidationError
from weir.features.online.base import OnlineRow, StoredValue, ViewSummary

# KEYS[1] is the view's summary hash, KEYS[2..] the values' hashes; ARGV holds (event, created, value)
# per value. Event times only grow per key, so the view's newest is the largest ever stored.
_WRITE = """
local n, added, newest = 0, 0, nil
for i = 2, #KEYS do
  local j = i - 1
  local e = tonumber(ARGV[3 * j - 2])
  local c = tonumber(ARGV[3 * j - 1])
  local cur = redis.call('HMGET', KEYS[i], 'e', 'c')
  local ce = tonumber(cur[1])
  if (not ce) or e > ce or (e == ce and c >= tonumber(cur[2])) then
    redis.call('HSET', KEYS[i], 'e', ARGV[3 * j - 2], 'c', ARGV[3 * j - 1], 'v', ARGV[3 * j])
    n = n + 1
    if not ce then added = added + 1 end
    if (not newest) or e > tonumber(ARGV[newest]) then newest = 3 * j - 2 end
  end
end
if added > 0 then redis.call('HINCRBY', KEYS[1], 'n', added) end
if newest then
  local held = tonumber(redis.call('HGET', KEYS[1], 'e'))
  if (not held) or tonumber(ARGV[newest]) > held then redis.call('HSET', KEYS[1], 'e', ARGV[newest]) end
end
return n
"""
# KEYS[1] is the view's summary hash, KEYS[2..] values to remove; an emptied view's summary goes with them.
_DELETE = """
local removed = 0
if #KEYS > 1 then removed = redis.call('DEL', unpack(KEYS, 2)) end
local left = tonumber(redis.call('HGET', KEYS[1], 'n') or 0) - removed
if left > 0 then redis.call('HSET', KEYS[1], 'n', left) else redis.call('DEL', KEYS[1]) end
return removed
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
        self._delete = self.client.register_script(_DELETE)

    def _key(self, view: str, key: bytes) -> bytes:
        return self.prefix + b":" + view.encode() + b":" + key

    def _summary_key(self, view: str) -> bytes:
        # Encoded keys start with '[', so no view's value matches this name, nor its pattern.
        return self.prefix + b":" + view.encode() + b":#summary"

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
            keys = [self._summary_key(view)] + [self._key(view, r.key) for r in chunk]
            written += int(self._script(keys=keys, args=args))
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
                removed += int(self._delete(keys=[self._summary_key(view), *batch]))
                batch = []
        removed += int(self._delete(keys=[self._summary_key(view), *batch]))
        return removed

    def summary(self, view: str) -> ViewSummary:
        """One lookup of the view's summary hash (kept by the write and delete scripts)."""
        with self._answering():
            n, e = self.client.hmget(self._summary_key(view), "n", "e")
        count = int(n or 0)
        return ViewSummary(count, int(e) if count and e is not None else None)

    def close(self) -> None:
        self.client.close()
