"""Alerts with damping: a condition fires once, then again only after it recovers or a cool-down passes.

Each observation of a condition (``key``, for example ``"churn/drift/income"``) says whether it fails
now. :class:`AlertPolicy` turns that stream into alerts without flapping:

- healthy → failing: an alert (log line at WARNING, :class:`~weir.events.AlertRaised` event, optional
  webhook POST of the alert as JSON);
- failing → failing: silent until ``cooldown`` has passed since the last alert, then a reminder;
- failing → healthy: :class:`~weir.events.AlertResolved` and a log line; the next failure alerts at once.

The webhook is best effort: a failure is logged and never raised into the monitor. State is kept in
memory per policy.

>>> from datetime import datetime, timedelta, timezone
>>> policy = AlertPolicy(cooldown=timedelta(hours=1))
>>> t0 = datetime(2026, 3, 3, tzinfo=timezone.utc)
>>> [policy.observe("drift", failing, at=t0 + timedelta(minutes=m)) is not None
...  for m, failing in [(0, True), (10, True), (70, True), (80, False), (90, True)]]
[True, False, True, False, True]
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from weir.errors import ValidationError
from weir.events import AlertRaised, AlertResolved, EventBus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    key: str
    message: str
    at: datetime
    reminder: bool
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "at": self.at.isoformat()}


@dataclass
class _State:
    failing: bool = False
    last_alert: datetime | None = None


class AlertPolicy:
    """Damps a stream of pass/fail observations into alerts; see the module docstring."""

    def __init__(
        self,
        *,
        cooldown: timedelta = timedelta(hours=6),
        bus: EventBus | None = None,
        webhook_url: str | None = None,
        webhook_timeout: float = 5.0,
    ) -> None:
        if cooldown <= timedelta(0):
            raise ValidationError(f"cooldown must be positive, got {cooldown}.")
        if webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
            raise ValidationError(f"webhook_url {webhook_url!r} must start with http:// or https://.")
        self.cooldown = cooldown
        self.bus = bus
        self.webhook_url = webhook_url
        self.webhook_timeout = webhook_timeout
        self.states_: dict[str, _State] = {}

    def restore(self, key: str, *, failing: bool, last_alert: datetime | None) -> None:
        """Start ``key`` from a remembered state (a monitor keeps it in its stored runs between processes)."""
        self.states_[key] = _State(failing=failing, last_alert=last_alert)

    def observe(
        self, key: str, failing: bool, *, at: datetime, message: str = "", details: dict[str, Any] | None = None
    ) -> Alert | None:
        """Record one observation of ``key``; return the alert it raises, if any."""
        if at.utcoffset() is None:
            raise ValidationError(f"at={at!r} must be timezone-aware, e.g. datetime.now(timezone.utc).")
        state = self.states_.setdefault(key, _State())
        if not failing:
            if state.failing:
                state.failing = False
                logger.info("alert %s resolved at %s", key, at.isoformat())
                if self.bus is not None:
                    self.bus.emit(AlertResolved(key=key, at=at.isoformat()))
            return None
        reminder = state.failing
        if reminder and state.last_alert is not None and at - state.last_alert < self.cooldown:
            return None
        state.failing, state.last_alert = True, at
        alert = Alert(key, message or f"{key} is failing", at, reminder, dict(details or {}))
        logger.warning("ALERT %s%s: %s", key, " (still failing)" if reminder else "", alert.message)
        if self.bus is not None:
            self.bus.emit(AlertRaised(key=key, message=alert.message, at=at.isoformat(), details=alert.details))
        if self.webhook_url is not None:
            self._post(alert)
        return alert

    def _post(self, alert: Alert) -> None:
        assert self.webhook_url is not None
        body = json.dumps(alert.to_dict(), default=str).encode()
        request = urllib.request.Request(
            self.webhook_url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(
                request, timeout=self.webhook_timeout
            ) as response:  # scheme checked in __init__
                response.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            logger.error("alert webhook %s failed for %s: %s", self.webhook_url, alert.key, exc)
