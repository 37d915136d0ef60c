"""weir: keep machine-learning models healthy in production.

>>> import weir
>>> callable(weir.connect)
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from weir.app import Workspace, connect


def __getattr__(name: str) -> Any:
    if name in {"connect", "Workspace"}:
        from weir import app

        return getattr(app, name)
    raise AttributeError(f"module 'weir' has no attribute {name!r}")


__all__ = ["Workspace", "__version__", "connect"]
