"""Validation evidence: each check of a validation record, and for the paired comparisons with the
champion the improvement and its bootstrap bounds drawn as a forest plot (0 marked).

The gate's bounds are one-sided at its ``confidence`` (:func:`weir.training.paired.paired_difference`
takes the ``1 - c`` and ``c`` quantiles), so together they span a ``2c - 1`` two-sided interval: at 95 %,
a 90 % interval. The label says both.

>>> from datetime import datetime, UTC
>>> from weir.registry.records import ValidationRecord
>>> checks = [{"name": "better roc_auc 0.01", "passed": True, "reason": "CI [0.1, 0.2] > 0.01",
...            "evidence": {"champion": 0.6, "challenger": 0.75, "improvement": 0.15, "ci_low": 0.1,
...                         "ci_high": 0.2, "confidence": 0.95}}]
>>> record = ValidationRecord(1, "m", 2, "gate", True, {}, {"checks": checks}, datetime.now(UTC), "ada")
>>> [(r["name"], r["paired"], r["bounds"]) for r in evidence_rows(record)["checks"]]
[('better roc_auc 0.01', True, 'one-sided bounds at 95 % (a 90 % interval)')]
"""

from __future__ import annotations

import math
from typing import Any

from weir.registry.records import ValidationRecord

LEFT, WIDTH, ROW = 200, 560, 22


def evidence_rows(record: ValidationRecord) -> dict[str, Any]:
    """The record's checks, and the forest plot of the paired ones (``x`` of the interval's ends, the
    improvement and zero, on a scale symmetric around zero)."""
    checks: list[dict[str, Any]] = []
    listed = record.evidence.get("checks") if isinstance(record.evidence, dict) else None
    for n, check in enumerate(c for c in listed or [] if isinstance(c, dict)):
        given = check.get("evidence")
        found: dict[str, Any] = given if isinstance(given, dict) else {}
        complete = all(_finite(found.get(k)) for k in ("improvement", "ci_low", "ci_high"))
        checks.append(
            {
                **check,
                "name": str(check.get("name") or f"check {n + 1}"),
                "passed": bool(check.get("passed", False)),
                "reason": str(check.get("reason") or ""),
                "slice": check.get("slice"),
                "evidence": found,
                "paired": complete,
                "bounds": bounds_label(found.get("confidence")),
            }
        )
    paired = [c for c in checks if c["paired"]]
    reach = (
        max((abs(float(c["evidence"][k])) for c in paired for k in ("ci_low", "ci_high", "improvement")), default=1.0)
        * 1.15
        or 1.0
    )
    plot = WIDTH - LEFT - 20

    def x_of(value: float) -> float:
        return LEFT + plot * (value + reach) / (2 * reach)

    forest = [
        {
            "name": c["name"],
            "y": 14 + i * ROW,
            "passed": c["passed"],
            "low": x_of(float(c["evidence"]["ci_low"])),
            "high": x_of(float(c["evidence"]["ci_high"])),
            "at": x_of(float(c["evidence"]["improvement"])),
            "evidence": c["evidence"],
            "bounds": c["bounds"],
        }
        for i, c in enumerate(paired)
    ]
    return {
        "record": record,
        "checks": checks,
        "forest": forest,
        "zero": x_of(0.0),
        "reach": reach,
        "width": WIDTH,
        "height": 28 + len(forest) * ROW,
        "left": LEFT,
    }


def bounds_label(confidence: Any) -> str:
    """What the gate's ``[ci_low, ci_high]`` are: two one-sided bounds at ``confidence``, which together
    make a ``2 * confidence - 1`` interval (without a recorded confidence, just "bootstrap bounds")."""
    if not _finite(confidence) or not 0.5 < float(confidence) < 1:
        return "bootstrap bounds"
    c = float(confidence)
    return f"one-sided bounds at {100 * c:g} % (a {100 * (2 * c - 1):.4g} % interval)"


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)
