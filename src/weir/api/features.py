"""Routes of the feature registry under ``/api/v1/features``: definitions (``read``) and online values.

``POST /api/v1/features/online`` reads the online store for a feature service (or ``view:feature``
references) and a list of entities. Reading needs the ``read`` scope.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from weir.api.auth import scope
from weir.errors import ServiceUnavailableError, ValidationError
from weir.features import FeatureStore
from weir.features.catalog import KINDS
from weir.types import JSONDict

router = APIRouter(prefix="/api/v1/features")
READ = scope("read")


def _features(request: Request) -> FeatureStore:
    features: FeatureStore | None = request.app.state.features
    if features is None:
        raise ServiceUnavailableError("This server has no feature store.")
    return features


@router.get("", tags=["features"], summary="Every registered definition (latest versions)", dependencies=[READ])
def list_definitions(request: Request, kind: str | None = None) -> JSONDict:
    if kind is not None and kind not in KINDS:
        raise ValidationError(f"kind {kind!r}: use one of {', '.join(KINDS)}.")
    return {"definitions": [r.to_dict() for r in _features(request).catalog.definitions(kind)]}


@router.get("/{kind}/{name}", tags=["features"], summary="Every version of one definition", dependencies=[READ])
def definition_history(request: Request, kind: str, name: str) -> JSONDict:
    if kind not in KINDS:
        raise ValidationError(f"kind {kind!r}: use one of {', '.join(KINDS)}.")
    catalog = _features(request).catalog
    watermark = catalog.watermark(name) if kind == "view" else None
    return {
        "versions": [r.to_dict() for r in catalog.history(kind, name)],
        "watermark": None if watermark is None else watermark.isoformat(),
    }


@router.post(
    "/online",
    tags=["features"],
    summary="Online feature values for entities",
    description='Body: {"features": "service" or ["view:feature", ...], "entities": [{"driver_id": 1}, ...] '
    '(or {"driver_id": [1, 2]}), "full_feature_names": false}. Answers the values by feature, a status per '
    "value (PRESENT, NOT_FOUND, OUTSIDE_MAX_AGE) and the event time of each value.",
    dependencies=[READ],
)
async def online(request: Request) -> Response:
    return Response(await read_online_async(_features(request), await request.body()), media_type="application/json")


async def read_online_async(store: FeatureStore, body: bytes) -> bytes:
    """:func:`read_online` on the event loop when the reads are local (microseconds), else on a thread."""
    return read_online(store, body) if store.local else await run_in_threadpool(read_online, store, body)


def read_online(store: FeatureStore, body: bytes) -> bytes:
    """Answer an online read (the control plane's route, and the server's fast path in front of it)."""
    try:
        document: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValidationError(f"The body is not valid JSON: {exc}.") from exc
    if type(document) is not dict or "features" not in document or "entities" not in document:
        raise ValidationError('The body must be an object with "features" and "entities".')
    features = document["features"]
    if not isinstance(features, str) and not (isinstance(features, list) and all(isinstance(f, str) for f in features)):
        raise ValidationError('"features" must be a feature service name or a list of "view:feature" references.')
    full = document.get("full_feature_names", False)
    if not isinstance(full, bool):
        raise ValidationError('"full_feature_names" must be true or false.')
    return orjson.dumps(store.get_online(features, document["entities"], full_feature_names=full).to_json())
