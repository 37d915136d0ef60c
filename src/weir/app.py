"""Wiring: settings → store → registry (and, as they arrive, every other part).

``weir.connect()`` is the Python entry point:

>>> import tempfile
>>> ws = connect(home=tempfile.mkdtemp())
>>> ws.models.list_models()
[]
>>> ws.close()
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import Any

from weir.config import Settings, load_settings
from weir.events import EventBus
from weir.registry import Deployments, ModelRegistry, Tokens
from weir.store import ArtifactStore, Database

logger = logging.getLogger(__name__)


class Workspace:
    """Everything weir holds for one metadata database and artifact store."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.events = EventBus()
        self.db = Database(settings.database_url, timeout=settings.db_timeout)
        self.db.migrate()
        self.artifacts = ArtifactStore(settings.artifact_root)
        self.artifacts.remove_stale_temporaries()
        self.models = ModelRegistry(
            self.db, self.artifacts, actor=settings.user, bus=self.events, audit_key=settings.audit_key
        )
        self.deployments = Deployments(self.models)
        self.tokens = Tokens(self.models)

    def asgi_app(self) -> Any:
        """The REST control plane for this workspace (a FastAPI application)."""
        from weir.api import create_app

        return create_app(self.models, self.settings)

    def close(self) -> None:
        self.db.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Workspace {self.db.redacted_url} artifacts={self.settings.artifact_root}>"


def connect(home: str | Path | None = None, *, settings: Settings | None = None, **overrides: Any) -> Workspace:
    """Open (creating and migrating if needed) the workspace described by the settings.

    ``home`` and keyword ``overrides`` (``database_url``, ``artifact_root``, ``user``, …) take
    precedence over ``weir.toml`` and ``WEIR_*`` variables.
    """
    if settings is None:
        if home is not None:
            overrides["home"] = Path(home)
        settings = load_settings(overrides)
    return Workspace(settings)


def main(argv: list[str] | None = None) -> None:
    """The ``weir`` console script: the CLI, wired to this module's :func:`connect`."""
    from weir.cli.main import run

    run(connect, argv)
