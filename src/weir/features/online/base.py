"""What every online store does, and the encoding they share.

A value is stored per (view, entity key) with the event and created times (microseconds since the
epoch, UTC) of the row it came from. Writes are ordered: a row replaces the stored one only if its
``(event, created)`` is not older, so an older row never overwrites a newer one, whatever the order
of writes. Keys are the join-key values as compact JSON (``[42]``, ``["a", 7]``).

>>> encode_key((42,))
b'[42]'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import orjson


def encode_key(values: Sequence[Any]) -> bytes:
    return orjson.dumps(list(values))


@dataclass(frozen=True)
class OnlineRow:
    key: bytes
    event_us: int
    created_us: int
    value: bytes  # orjson of {feature: value}


class StoredValue(NamedTuple):
    event_us: int
    value: bytes  # orjson of {feature: value}


class ViewSummary(NamedTuple):
    """What a view holds online: how many values, and the event time of the newest (µs, None if empty)."""

    values: int
    newest_event_us: int | None


class OnlineStore(Protocol):
    url: str
    local: bool  # reads are local and take microseconds (else callers run them off their event loop)

    def write(self, view: str, rows: Sequence[OnlineRow]) -> int:
        """Store the rows that are not older than what is stored; returns how many were stored."""
        ...

    def read(self, view: str, keys: Sequence[bytes]) -> list[StoredValue | None]:
        """The stored values for ``keys``, in order (None where nothing is stored)."""
        ...

    def delete_view(self, view: str) -> int:
        """Remove every value of a view; returns how many were removed."""
        ...

    def summary(self, view: str) -> ViewSummary:
        """How many values the view holds and the event time of the newest (for freshness; not a hot path)."""
        ...

    def close(self) -> None: ...
