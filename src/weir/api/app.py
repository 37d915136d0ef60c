"""The REST control plane as an ASGI application.

:func:`create_app` receives the components it serves (``app.py`` at layer 6 builds them); it never
opens a workspace itself.

>>> import tempfile, weir
>>> ws = weir.connect(home=tempfile.mkdtemp())
>>> app = create_app(ws.models, ws.settings)
>>> app.title, app.openapi_url
('weir', '/openapi.json')
>>> ws.close()
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from weir import __version__
from weir.api import models
from weir.api.errors import install_error_handlers
from weir.config import Settings
from weir.registry import ModelRegistry

logger = logging.getLogger(__name__)


class OrjsonResponse(JSONResponse):
    """JSON rendered by orjson (numpy scalars and arrays included)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)


def create_app(registry: ModelRegistry, settings: Settings) -> FastAPI:
    """The control plane over ``registry``; ``settings`` supplies the acting user (until tokens arrive)."""
    app = FastAPI(
        title="weir",
        version=__version__,
        description="Control plane of weir: models, versions, aliases, validation records and the audit log.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        default_response_class=OrjsonResponse,
    )
    app.state.registry = registry
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(models.router)
    logger.debug("REST control plane created over %s", registry.db.redacted_url)
    return app
