"""Serving (layer 4): the inference server's core: runtimes, routing, hot swap, protocols."""

from __future__ import annotations
