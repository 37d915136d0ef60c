"""How a candidate version goes live: a shadow phase, canary steps, and the analysis that judges each.

A policy is plain data (stored with the rollout as JSON). Every phase lasts at least ``min_seconds`` and
``min_requests`` candidate predictions before it is judged; the judgement compares the candidate with
the primary over the same window of the prediction log. The last step, 100 %, is the promotion itself:
the candidate is judged at each weight below it while the primary still serves the rest.

>>> policy = RolloutPolicy.from_dict({"steps": [10, 50, 100], "min_requests": 200})
>>> policy.steps, policy.shadow_min_requests, policy.failure_limit
((10.0, 50.0, 100.0), 200, 1)
>>> RolloutPolicy.from_dict({"steps": [50, 20]})
Traceback (most recent call last):
...
weir.errors.ValidationError: Rollout policy: steps must rise strictly within (0, 100] and end at 100; got [50.0, 20.0].
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from weir.errors import ValidationError
from weir.types import JSONDict


@dataclass(frozen=True)
class RolloutPolicy:
    """Each threshold bounds how much worse than the primary the candidate may be."""

    shadow: bool = True
    shadow_percent: float = 100.0
    shadow_seconds: float = 0.0
    shadow_requests: int | None = None  # None: min_requests
    steps: tuple[float, ...] = (5.0, 25.0, 50.0, 100.0)
    min_seconds: float = 60.0  # per canary step
    min_requests: int = 200  # candidate predictions per phase before it is judged
    max_error_increase: float = 0.01  # candidate error rate ≤ primary's + this
    max_latency_ratio: float = 1.5  # candidate p99 ≤ primary p99 × ratio + slack
    latency_slack_ms: float = 5.0
    min_agreement: float = 0.7  # shadow: share of requests where both predict the same label
    max_divergence: float = 0.25  # PSI of the candidate's scores against the primary's
    max_accuracy_drop: float = 0.02  # live accuracy, once labels arrive
    min_labels: int = 100
    require_labels: bool = False  # hold each phase until live accuracy can be judged
    alpha: float = 0.05  # significance of a "worse" verdict
    failure_limit: int = 1  # failed analyses that abort the rollout
    inconclusive_limit: int = 20  # consecutive inconclusive analyses that pause it for a person

    def __post_init__(self) -> None:
        steps = tuple(float(s) for s in self.steps)
        object.__setattr__(self, "steps", steps)
        if not steps or any(not 0 < s <= 100 for s in steps) or list(steps) != sorted(set(steps)) or steps[-1] != 100:
            _bad(f"steps must rise strictly within (0, 100] and end at 100; got {list(steps)}.")
        for name in (
            "shadow_seconds",
            "min_seconds",
            "latency_slack_ms",
            "max_error_increase",
            "max_divergence",
            "max_accuracy_drop",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                _bad(f"{name} must be a number ≥ 0; got {value!r}.")
        for name in ("min_requests", "min_labels", "failure_limit", "inconclusive_limit"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                _bad(f"{name} must be an integer ≥ 1; got {value!r}.")
        if self.shadow_requests is not None and (not isinstance(self.shadow_requests, int) or self.shadow_requests < 1):
            _bad(f"shadow_requests must be an integer ≥ 1; got {self.shadow_requests!r}.")
        if not 0 < self.shadow_percent <= 100:
            _bad(f"shadow_percent must be in (0, 100]; got {self.shadow_percent!r}.")
        if not 0 <= self.min_agreement <= 1:
            _bad(f"min_agreement must be in [0, 1]; got {self.min_agreement!r}.")
        if not self.max_latency_ratio >= 1:
            _bad(f"max_latency_ratio must be ≥ 1; got {self.max_latency_ratio!r}.")
        for name in ("shadow", "require_labels"):
            if not isinstance(getattr(self, name), bool):
                _bad(f"{name} must be true or false; got {getattr(self, name)!r}.")
        if not 0 < self.alpha < 0.5:
            _bad(f"alpha must be in (0, 0.5); got {self.alpha!r}.")

    @property
    def shadow_min_requests(self) -> int:
        return self.shadow_requests or self.min_requests

    @classmethod
    def from_dict(cls, data: JSONDict | None) -> RolloutPolicy:
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            _bad(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}.")
        if "steps" in data:
            if not isinstance(data["steps"], list | tuple):
                _bad(f"steps must be a list of percentages, such as [5, 25, 50, 100]; got {data['steps']!r}.")
            data["steps"] = tuple(data["steps"])
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValidationError(f"Rollout policy: {exc}") from exc

    def to_dict(self) -> JSONDict:
        out: dict[str, Any] = asdict(self)
        out["steps"] = list(self.steps)
        return out


def _bad(message: str) -> None:
    raise ValidationError(f"Rollout policy: {message}", field="policy")
