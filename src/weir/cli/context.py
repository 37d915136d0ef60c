"""What every command shares: the settings from global options, the workspace, the consoles."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import typer
from rich.console import Console

from weir.config import Settings, load_settings

if TYPE_CHECKING:  # the CLI receives its workspace factory from app.py (layer 6)
    from weir.app import Workspace

console = Console()
err_console = Console(stderr=True)


@dataclass
class CliState:
    connect: Callable[..., Workspace] | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    _settings: Settings | None = None
    _workspace: Workspace | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.overrides)
        return self._settings

    def workspace(self) -> Workspace:
        if self._workspace is None:
            if self.connect is None:
                raise RuntimeError("weir.cli was started without a workspace factory; run it through weir.app.main")
            self._workspace = self.connect(settings=self.settings)
        return self._workspace

    def close(self) -> None:
        if self._workspace is not None:
            self._workspace.close()


def state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        raise RuntimeError("weir.cli was started without its state; run it through weir.app.main")
    return root.obj


def base_url(settings: Settings) -> str:
    """The address to browse or ``curl`` the server at: a server bound to every interface (``0.0.0.0``,
    ``::``) is reached on loopback.

    >>> from weir.config import load_settings
    >>> base_url(load_settings(overrides={"host": "0.0.0.0", "port": 8080}, environ={}))
    'http://127.0.0.1:8080'
    """
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(settings.host, settings.host)
    return f"http://[{host}]:{settings.port}" if ":" in host else f"http://{host}:{settings.port}"


def print_json(data: Any) -> None:
    """Machine-readable output on stdout (``--json``)."""
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS, default=str).decode())
