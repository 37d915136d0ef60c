"""Monitoring (layer 3): drift statistics, detectors, monitors."""

from __future__ import annotations
