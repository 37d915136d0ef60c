"""``weir server``: the REST control plane on uvicorn."""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING

import uvicorn

from weir.errors import ConfigError

if TYPE_CHECKING:
    from weir.app import Workspace

logger = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_server(ws: Workspace) -> None:
    settings = ws.settings
    if not is_loopback(settings.host):
        raise ConfigError(
            f"Refusing to listen on {settings.host}: the server has no authentication yet, so it only "
            "binds to loopback (127.0.0.1, ::1, localhost). Put it behind an authenticating proxy on "
            "this machine instead."
        )
    uvicorn.run(ws.asgi_app(), host=settings.host, port=settings.port, log_level=settings.log_level.lower())
