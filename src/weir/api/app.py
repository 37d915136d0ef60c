"""The REST control plane as an ASGI application.

:func:`create_app` receives the components it serves (``app.py`` at layer 6 builds them); it never
opens a workspace itself.

>>> import tempfile, weir
>>> ws = weir.connect(home=tempfile.mkdtemp())
>>> app = create_app(ws.models, ws.settings, deployments=ws.deployments, tokens=ws.tokens)
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
from weir.api import deployments as deployment_routes
from weir.api import features as feature_routes
from weir.api import models
from weir.api import rollouts as rollout_routes
from weir.api.auth import Auth
from weir.api.errors import install_error_handlers
from weir.config import Settings
from weir.features import FeatureStore
from weir.registry import Deployments, ModelRegistry, Tokens
from weir.training.rollouts import Rollouts

logger = logging.getLogger(__name__)


class OrjsonResponse(JSONResponse):
    """JSON rendered by orjson (numpy scalars and arrays included)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)


def create_app(
    registry: ModelRegistry,
    settings: Settings,
    *,
    deployments: Deployments,
    tokens: Tokens,
    features: FeatureStore | None = None,
    rollouts: Rollouts | None = None,
    auth: Auth | None = None,
) -> FastAPI:
    """The control plane over ``registry`` and ``deployments``; requests are checked by ``auth``
    (by default the ``auth`` setting over ``tokens``)."""
    app = FastAPI(
        title="weir",
        version=__version__,
        description="Control plane of weir: models, versions, aliases, validation records, the audit log, "
        "deployments, rollouts, API tokens and the feature registry.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        default_response_class=OrjsonResponse,
    )
    app.state.registry = registry
    app.state.settings = settings
    app.state.deployments = deployments
    app.state.tokens = tokens
    app.state.features = features
    app.state.rollouts = rollouts
    app.state.auth = auth or Auth(settings.auth, tokens.cached(), settings.user)
    install_error_handlers(app)
    app.include_router(models.router)
    app.include_router(deployment_routes.router)
    app.include_router(feature_routes.router)
    app.include_router(rollout_routes.router)
    logger.debug("REST control plane created over %s", registry.db.redacted_url)
    return app
