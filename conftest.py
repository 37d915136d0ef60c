"""Collection of the doctests in src/weir: a module of an optional extra is left out when the extra is missing."""

from __future__ import annotations

import importlib.util

collect_ignore = [] if importlib.util.find_spec("ray") else ["src/weir/ray_engine.py"]
