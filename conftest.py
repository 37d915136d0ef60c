"""Set-up for the whole session, before any test module is imported.

- Doctests in src/weir: a module of an optional extra is left out when the extra is missing.
- Ray reads its authentication settings once per process, so the test clusters' token is fixed here,
  before anything imports Ray: each cluster the tests start (tests/ray_cluster.py) uses it.
"""

from __future__ import annotations

import importlib.util
import os
import secrets

collect_ignore = [] if importlib.util.find_spec("ray") else ["src/weir/ray_engine.py"]

os.environ["RAY_AUTH_MODE"] = "token"
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(16))
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
