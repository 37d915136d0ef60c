"""One logged prediction, checked when it is built (it runs on serving's request path: keep it cheap)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeAlias

from weir.errors import ValidationError

Scalar: TypeAlias = bool | int | float | str | None
ROUTES = ("primary", "canary", "shadow")
_ENDPOINT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_PLAIN = frozenset({bool, int, float, str, type(None)})
_GOOD_NAMES: set[str] = set()  # names already checked: records repeat the same few names


def _check_name(kind: str, name: object, request_id: str) -> None:
    if not isinstance(name, str) or not name or len(name) > 256 or not name.isprintable():
        raise ValidationError(
            f"Request {request_id!r} has an invalid {kind} name {name!r}: use a printable string of 1-256 characters.",
            field=kind,
        )
    if len(_GOOD_NAMES) < 100_000:
        _GOOD_NAMES.add(name)


def to_scalar(value: Any, what: str, request_id: str) -> Scalar:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and getattr(value, "shape", None) == ():
        return to_scalar(item(), what, request_id)
    raise ValidationError(
        f"Request {request_id!r}: {what} is a {type(value).__name__}; the log stores scalars "
        "(bool, int, float, str or None). Flatten it into several named columns.",
        field=what,
    )


@dataclass(frozen=True)
class PredictionRecord:
    """One logged prediction. ``time`` must be timezone-aware; ``route`` is primary, canary or shadow."""

    request_id: str
    time: datetime
    endpoint: str
    model: str
    version: int
    route: str
    inputs: Mapping[str, Scalar] = field(default_factory=dict)
    outputs: Mapping[str, Scalar] = field(default_factory=dict)
    latency_ms: float = 0.0

    def __post_init__(self) -> None:
        rid = self.request_id
        if not isinstance(rid, str) or not rid:
            raise ValidationError(f"request_id must be a non-empty string, not {rid!r}.", field="request_id")
        if not isinstance(self.time, datetime) or self.time.utcoffset() is None:
            raise ValidationError(
                f"Request {rid!r}: time {self.time!r} is naive or not a datetime; pass an aware datetime "
                "such as datetime.now(timezone.utc).",
                field="time",
            )
        check_endpoint(self.endpoint)
        if self.route not in ROUTES:
            raise ValidationError(
                f"Request {rid!r}: route {self.route!r} is not one of {', '.join(ROUTES)}.", field="route"
            )
        if isinstance(self.version, bool) or not isinstance(self.version, int):
            raise ValidationError(f"Request {rid!r}: version must be an int, not {self.version!r}.", field="version")
        if not isinstance(self.model, str) or not self.model:
            raise ValidationError(f"Request {rid!r}: model must be a non-empty string.", field="model")
        latency = self.latency_ms
        if isinstance(latency, bool) or not isinstance(latency, int | float) or not math.isfinite(latency):
            raise ValidationError(
                f"Request {rid!r}: latency_ms {latency!r} is not a finite number.", field="latency_ms"
            )
        for kind, values in (("input", self.inputs), ("output", self.outputs)):
            clean = {}
            for name, value in values.items():
                if name not in _GOOD_NAMES:
                    _check_name(kind, name, rid)
                clean[name] = value if type(value) in _PLAIN else to_scalar(value, f"{kind} {name!r}", rid)
            object.__setattr__(self, kind + "s", clean)


def check_endpoint(endpoint: object) -> str:
    if not isinstance(endpoint, str) or not _ENDPOINT.match(endpoint):
        raise ValidationError(
            f"Endpoint name {endpoint!r} is invalid: use 1-128 letters, digits, '_', '.' or '-'.", field="endpoint"
        )
    return endpoint
