"""Running the server (entry layer, beside ``app.py``): uvicorn, workers, TCP_NODELAY, thread pinning.

Two traps measured on a 2-core machine shape this module. uvicorn with more than one worker leaves
TCP_NODELAY off on accepted sockets, so every keep-alive response waits ~40 ms for Nagle's
algorithm (uvicorn#3149): :class:`NoDelayHttpTools` sets it on every connection. And OpenMP / BLAS
thread pools of scikit-learn models fight each other when workers share cores: each worker's model
threads are pinned to one (``OMP_NUM_THREADS`` and friends for the worker processes, threadpoolctl
inside them).

With several workers, uvicorn starts each from :func:`weir.app.worker_app`; the parent hands them its
settings as ``WEIR_*`` variables and a shared Prometheus multiprocess folder.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from weir.config import Settings
from weir.errors import ConfigError

if TYPE_CHECKING:
    import asyncio

    from weir.app import Workspace

logger = logging.getLogger(__name__)

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
METRICS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own switch


class NoDelayHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with TCP_NODELAY set on each accepted connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(ws: Workspace, allow_unauthenticated: bool) -> None:
    """Refuse to listen beyond loopback without authentication, unless explicitly overridden."""
    settings = ws.settings
    if is_loopback(settings.host) or allow_unauthenticated:
        return
    authenticated = settings.auth == "on" or (settings.auth == "auto" and ws.tokens.table().issued)
    if not authenticated:
        raise ConfigError(
            f"Refusing to listen on {settings.host} without authentication: create a token "
            "(`weir tokens create NAME --scope predict`) or set auth = on; or pass --allow-unauthenticated "
            "if something in front of weir authenticates."
        )


def run(ws: Workspace, *, workers: int = 1, allow_unauthenticated: bool = False) -> None:
    settings = ws.settings
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {workers}.")
    check_exposure(ws, allow_unauthenticated)
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, "1")
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "http": NoDelayHttpTools,
        "log_level": settings.log_level.lower(),
        "access_log": False,
        "timeout_graceful_shutdown": 10,
    }
    if workers == 1:
        pin_threads()
        uvicorn.run(ws.server_app(), **options)
        return
    metrics = metrics_folder(settings)
    shutil.rmtree(metrics, ignore_errors=True)
    metrics.mkdir(parents=True)
    os.environ[METRICS_VARIABLE] = str(metrics)
    os.environ.update(settings.environment())
    uvicorn.run("weir.app:worker_app", factory=True, workers=workers, **options)


def metrics_folder(settings: Settings) -> Path:
    """Where the workers of ``weir serve --workers N`` share their Prometheus samples."""
    return settings.home / "run" / "metrics"


def pin_threads() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
