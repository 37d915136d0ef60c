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


def print_json(data: Any) -> None:
    """Machine-readable output on stdout (``--json``)."""
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS, default=str).decode())
