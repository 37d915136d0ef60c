"""Events: how information travels upward between layers without imports.

A lower layer emits an event object on the bus it was given; ``app.py`` subscribes the handlers
of higher layers.

>>> bus = EventBus()
>>> seen = []
>>> bus.subscribe(AliasMoved, seen.append)
>>> bus.emit(AliasMoved(model="churn", alias="champion", version=2, previous_version=1, actor="ada"))
>>> seen[0].version
2
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """Base class of every event."""


@dataclass(frozen=True)
class ModelVersionRegistered(Event):
    model: str
    version: int
    format: str
    actor: str


@dataclass(frozen=True)
class AliasMoved(Event):
    model: str
    alias: str
    version: int | None
    previous_version: int | None
    actor: str


@dataclass(frozen=True)
class DriftDetected(Event):
    """A drift test flagged a column (or a whole dataset)."""

    source: str
    statistic: float
    p_value: float | None
    threshold: float
    details: dict[str, Any] | None = None


@dataclass(frozen=True)
class AlertRaised(Event):
    """A monitored condition started (or, after its cool-down, is still) failing."""

    key: str
    message: str
    at: str
    details: dict[str, Any] | None = None


@dataclass(frozen=True)
class AlertResolved(Event):
    """A condition that had raised an alert is healthy again."""

    key: str
    at: str


E = TypeVar("E", bound=Event)


class EventBus:
    """Synchronous publish/subscribe. A failing handler is logged and never breaks the emitter."""

    def __init__(self) -> None:
        self._handlers: dict[type[Event], list[Callable[[Any], None]]] = defaultdict(list)

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> None:
        self._handlers[event_type].append(handler)

    def emit(self, event: Event) -> None:
        for event_type in type(event).__mro__:
            for handler in self._handlers.get(event_type, ()):
                try:
                    handler(event)
                except Exception:
                    logger.exception("event handler %r failed on %r", handler, event)
