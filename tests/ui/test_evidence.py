"""Validation evidence as the version page draws it: the bounds' label, and records written by hand."""

from __future__ import annotations

from datetime import UTC, datetime

from weir.registry.records import ValidationRecord
from weir.ui.evidence import bounds_label, evidence_rows


def record(evidence: object) -> ValidationRecord:
    return ValidationRecord(1, "m", 2, "gate", True, {}, evidence, datetime.now(UTC), "ada")  # type: ignore[arg-type]


def test_the_gate_s_one_sided_bounds_are_labelled_with_the_interval_they_make() -> None:
    assert bounds_label(0.95) == "one-sided bounds at 95 % (a 90 % interval)"
    assert bounds_label(0.975) == "one-sided bounds at 97.5 % (a 95 % interval)"
    assert bounds_label(None) == bounds_label("high") == bounds_label(1.5) == "bootstrap bounds"


def test_checks_without_a_name_confidence_or_verdict_get_defaults() -> None:
    checks = [
        {"evidence": {"improvement": 0.1, "ci_low": 0.05, "ci_high": 0.2}},
        {"name": "signature", "passed": True},
        "not a check",
    ]
    found = evidence_rows(record({"checks": checks}))
    names = [(c["name"], c["passed"], c["paired"], c["bounds"]) for c in found["checks"]]
    assert names == [("check 1", False, True, "bootstrap bounds"), ("signature", True, False, "bootstrap bounds")]
    assert [f["name"] for f in found["forest"]] == ["check 1"]
    drawn = found["forest"][0]
    assert found["zero"] < drawn["low"] < drawn["at"] < drawn["high"]  # the whole interval above zero
    assert evidence_rows(record(["not", "a", "dict"]))["checks"] == []
