"""Continuous training (layer 4): the validation gate so far; jobs, triggers and rollouts follow."""

from __future__ import annotations

from weir.training.gate import Check, Gate, GateResult, Rule, signatures_compatible
from weir.training.paired import Scores

__all__ = ["Check", "Gate", "GateResult", "Rule", "Scores", "signatures_compatible"]
