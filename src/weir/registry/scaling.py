"""How many replicas serve an endpoint on an elastic engine (Ray Serve), kept in the deployment's options.

The embedded server runs one copy of every endpoint per worker; an elastic engine runs each endpoint
as its own group of replicas and adds or removes replicas with the load: it aims at
``target_ongoing_requests`` requests in flight per replica, between ``min_replicas`` and
``max_replicas``, and waits ``upscale_delay_s`` (``downscale_delay_s``) of sustained load (quiet)
before it adds (removes) one. Unset keys take the defaults below.

>>> s = Scaling.from_options({"max_replicas": 4})
>>> s.min_replicas, s.max_replicas, s.target_ongoing_requests
(1, 4, 2.0)
>>> Scaling.from_options({"min_replicas": 3, "max_replicas": 2}, endpoint="churn")
Traceback (most recent call last):
...
weir.errors.ValidationError: Endpoint 'churn': min_replicas 3 is above max_replicas 2.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from weir.errors import ValidationError

_RULES = {  # key: (whole number, lowest value, lowest excluded)
    "min_replicas": (True, 0, False),
    "max_replicas": (True, 1, False),
    "target_ongoing_requests": (False, 0, True),
    "upscale_delay_s": (False, 0, False),
    "downscale_delay_s": (False, 0, False),
    "replica_cpus": (False, 0, True),
}
REPLICA_KEYS = tuple(_RULES)


@dataclass(frozen=True)
class Scaling:
    min_replicas: int = 1
    max_replicas: int = 1
    target_ongoing_requests: float = 2.0
    upscale_delay_s: float = 30.0
    downscale_delay_s: float = 600.0
    replica_cpus: float = 1.0
    """CPUs the engine reserves for each replica (Ray's ``num_cpus``)."""

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, endpoint: str = "?") -> Scaling:
        """Read and check the scaling keys of a deployment's options (other keys are ignored)."""
        values: dict[str, Any] = {}
        for name, (whole, low, strict) in _RULES.items():
            if name not in options:
                continue
            value = options[name]
            ok = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
            if not ok or (whole and not float(value).is_integer()) or value < low or (strict and value == low):
                kind = f"{'a whole number' if whole else 'a number'} {'>' if strict else '≥'} {low}"
                raise ValidationError(f"Endpoint {endpoint!r}: {name} {value!r} must be {kind}.", field=name)
            values[name] = int(value) if whole else float(value)
        scaling = cls(**values)
        if "max_replicas" not in values and scaling.min_replicas > scaling.max_replicas:
            scaling = cls(**{**values, "max_replicas": scaling.min_replicas})
        if scaling.min_replicas > scaling.max_replicas:
            raise ValidationError(
                f"Endpoint {endpoint!r}: min_replicas {scaling.min_replicas} is above max_replicas "
                f"{scaling.max_replicas}.",
                field="min_replicas",
            )
        return scaling

    @property
    def elastic(self) -> bool:
        return self.max_replicas > self.min_replicas

    def describe(self) -> str:
        """One line for people: ``replicas 1–4, 2 requests in flight each (up after 30 s, down after 600 s)``."""
        if not self.elastic:
            return f"replicas {self.min_replicas}, {self.replica_cpus:g} CPU each"
        return (
            f"replicas {self.min_replicas}–{self.max_replicas}, aiming at {self.target_ongoing_requests:g} requests "
            f"in flight each (up after {self.upscale_delay_s:g} s, down after {self.downscale_delay_s:g} s), "
            f"{self.replica_cpus:g} CPU each"
        )
