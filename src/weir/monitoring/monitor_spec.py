"""What a monitor watches: a deployment's prediction log, against a reference, over a window.

>>> spec = MonitorSpec("churn-drift", "churn", reference={"frame": "sha256:ab"}, window={"last_hours": 24})
>>> MonitorSpec.from_dict(spec.to_dict()) == spec
True
>>> MonitorSpec("m", "churn", reference={}, window={"last_n": 10})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
weir.errors.ValidationError: Monitor 'm': give exactly one reference: frame (a training frame's fingerprint), ...
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from weir.errors import ValidationError
from weir.monitoring.correction import CORRECTIONS
from weir.monitoring.tests import names as statistic_names
from weir.store.prediction_record import check_endpoint
from weir.types import JSONDict

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_SCHEDULE = re.compile(r"^every (\d+)(m|h|d)$")
REFERENCE_KINDS = ("frame", "window", "file")
WINDOW_KINDS = ("last_n", "last_hours")
TASKS = ("classification", "regression")


@dataclass(frozen=True)
class MonitorSpec:
    """``reference``: ``{"frame": fingerprint}`` (the training frame's features, recorded by the feature
    store), ``{"window": [start, end]}`` (ISO times: a stretch of the same prediction log) or
    ``{"file": path}``. ``window``: ``{"last_n": N}`` predictions or ``{"last_hours": H}``. ``columns``:
    the model inputs to test (default: every input the reference also has); the prediction itself is
    tested too when the reference has it. ``schedule`` (``"every 30m"``, ``"every 1h"``, ``"every 1d"``)
    is when the agent runs it; ``weir monitor run`` runs it now."""

    name: str
    endpoint: str
    reference: dict[str, Any]
    window: dict[str, Any]
    columns: tuple[str, ...] | None = None
    alpha: float = 0.05
    correction: str = "bh"
    drift_share: float = 0.5
    task: str = "classification"
    schedule: str | None = None
    cooldown_hours: float = 6.0
    webhook: str | None = None
    tests: dict[str, str] = field(default_factory=dict)  # column -> test name, overriding the automatic choice
    thresholds: dict[str, float] = field(default_factory=dict)  # column -> threshold of its test

    def __post_init__(self) -> None:
        where = f"Monitor {self.name!r}"
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValidationError(f"Monitor name {self.name!r} is invalid: use 1-128 letters, digits, '_', '.' or '-'.")
        check_endpoint(self.endpoint)
        if (
            not isinstance(self.reference, dict)
            or len(self.reference) != 1
            or set(self.reference) - set(REFERENCE_KINDS)
        ):
            raise ValidationError(
                f"{where}: give exactly one reference: frame (a training frame's fingerprint), window "
                "([start, end] of the prediction log) or file (CSV or Parquet)."
            )
        if "window" in self.reference:
            bounds = self.reference["window"]
            if not (isinstance(bounds, list | tuple) and len(bounds) == 2):
                raise ValidationError(f"{where}: the reference window is [start, end] (ISO times).")
            start, end = (_time(b, where) for b in bounds)
            if start >= end:
                raise ValidationError(f"{where}: the reference window starts after it ends.")
        if not isinstance(self.window, dict) or len(self.window) != 1 or set(self.window) - set(WINDOW_KINDS):
            raise ValidationError(f"{where}: the window is {{'last_n': N}} or {{'last_hours': H}}.")
        (size,) = self.window.values()
        if isinstance(size, bool) or not isinstance(size, int | float) or size <= 0:
            raise ValidationError(f"{where}: the window size must be a positive number, got {size!r}.")
        if not 0 < self.alpha < 1:
            raise ValidationError(f"{where}: alpha must be in (0, 1), got {self.alpha!r}.")
        if not 0 < self.drift_share <= 1:
            raise ValidationError(f"{where}: drift_share must be in (0, 1], got {self.drift_share!r}.")
        if self.correction not in CORRECTIONS:
            raise ValidationError(f"{where}: correction {self.correction!r} is not one of {', '.join(CORRECTIONS)}.")
        if self.task not in TASKS:
            raise ValidationError(f"{where}: task {self.task!r} is not one of {', '.join(TASKS)}.")
        if self.schedule is not None and not _SCHEDULE.match(self.schedule):
            raise ValidationError(f"{where}: schedule {self.schedule!r} is not 'every N(m|h|d)', e.g. 'every 1h'.")
        if self.cooldown_hours <= 0:
            raise ValidationError(f"{where}: cooldown_hours must be positive.")
        if self.webhook is not None and not self.webhook.startswith(("http://", "https://")):
            raise ValidationError(f"{where}: webhook {self.webhook!r} must start with http:// or https://.")
        known = set(statistic_names())
        for column, test in self.tests.items():
            if test not in known:
                raise ValidationError(
                    f"{where}: test {test!r} for column {column!r} is not one of {', '.join(sorted(known))}."
                )
        for column, threshold in self.thresholds.items():
            if isinstance(threshold, bool) or not isinstance(threshold, int | float) or threshold <= 0:
                raise ValidationError(
                    f"{where}: threshold {threshold!r} for column {column!r} must be a positive number."
                )
        if self.columns is not None:
            object.__setattr__(self, "columns", tuple(self.columns))
            if not self.columns or not all(isinstance(c, str) and c for c in self.columns):
                raise ValidationError(f"{where}: columns must be a non-empty list of input names.")

    @property
    def every(self) -> timedelta | None:
        if self.schedule is None:
            return None
        match = _SCHEDULE.match(self.schedule)
        assert match is not None
        count, unit = int(match.group(1)), match.group(2)
        return (
            timedelta(minutes=count)
            if unit == "m"
            else timedelta(hours=count)
            if unit == "h"
            else timedelta(days=count)
        )

    def to_dict(self) -> JSONDict:
        body = asdict(self)
        body["columns"] = None if self.columns is None else list(self.columns)
        return body

    @classmethod
    def from_dict(cls, body: JSONDict) -> MonitorSpec:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(body) - known)
        if unknown:
            raise ValidationError(f"Unknown monitor settings {unknown}; known: {', '.join(sorted(known))}.")
        return cls(**body)


def _time(value: Any, where: str) -> datetime:
    try:
        stamp = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise ValidationError(f"{where}: {value!r} is not an ISO time.") from exc
    if stamp.tzinfo is None:
        raise ValidationError(f"{where}: {value!r} needs a time zone (e.g. 2026-11-01T00:00:00+00:00).")
    return stamp
