"""Routes of the model registry under ``/api/v1``: models, versions, artifacts, aliases,
validation records and the audit log.

Responses are the registry records' ``to_dict()``; lists come wrapped in an object (``{"models": […]}``)
so that fields can be added later without breaking clients. Endpoints are plain functions, run in
the thread pool, because the registry blocks on the database and the artifact store.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, FiniteFloat
from starlette.responses import Response

from weir import __version__
from weir.api import auth
from weir.api.auth import scope
from weir.config import Settings
from weir.errors import AliasNotFoundError, ValidationError
from weir.registry import ModelRef, ModelRegistry
from weir.registry.refs import check_alias, check_name
from weir.types import JSONDict

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1")
PUBLIC, READ, DEPLOY = scope(auth.PUBLIC), scope("read"), scope("deploy")


# --- dependencies ------------------------------------------------------------------------------


def _registry(request: Request) -> ModelRegistry:
    registry: ModelRegistry = request.app.state.registry
    return registry


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _actor(request: Request) -> str:
    """Who is acting: the token's name when authentication is on, else the configured ``settings.user``."""
    actor: str = getattr(request.state, "actor", None) or _settings(request).user
    return actor


Registry = Annotated[ModelRegistry, Depends(_registry)]
Actor = Annotated[str, Depends(_actor)]
VersionParam = Annotated[str, Path(description="A version number, an alias such as 'champion', or 'latest'.")]


def _ref(name: str, version: str) -> ModelRef:
    """``3`` → version 3, ``latest`` → the newest version, anything else → an alias."""
    check_name(name)
    if version == "latest":
        return ModelRef(name)
    if version.isascii() and version.isdigit():
        if int(version) < 1:
            raise ValidationError(f"Version {version!r} of {name!r} must be a positive whole number, as in {name}/3.")
        return ModelRef(name, version=int(version))
    return ModelRef(name, alias=check_alias(version))


# --- request bodies ----------------------------------------------------------------------------


class AliasBody(BaseModel):
    """Point an alias at a version."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(strict=True, ge=1, description="The version number the alias will point to.")
    reason: str = Field(default="", max_length=2000, description="Why; recorded in the history and audit log.")


class ValidationBody(BaseModel):
    """A validation record: a named check that a version passed or failed, with its evidence."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="The check's name, such as 'gate'.")
    passed: bool = Field(strict=True, description="Whether the version passed the check.")
    metrics: dict[str, FiniteFloat] = Field(default_factory=dict, description="Numbers the check measured.")
    evidence: dict[str, Any] = Field(default_factory=dict, description="Anything else that supports the verdict.")


# --- health ------------------------------------------------------------------------------------


@router.get("/health", tags=["health"], summary="The server and its metadata database answer", dependencies=[PUBLIC])
def health(registry: Registry) -> JSONDict:
    registry.db.check()
    return {"status": "ok", "version": __version__}


# --- models and versions -----------------------------------------------------------------------


@router.get("/models", tags=["models"], summary="All registered models", dependencies=[READ])
def list_models(registry: Registry) -> JSONDict:
    return {"models": [m.to_dict() for m in registry.list_models()]}


@router.get(
    "/models/{name}", tags=["models"], summary="One model, its latest version number and aliases", dependencies=[READ]
)
def get_model(name: str, registry: Registry) -> JSONDict:
    return registry.get_model(name).to_dict()


@router.get(
    "/models/{name}/versions", tags=["models"], summary="Every version of a model, oldest first", dependencies=[READ]
)
def list_versions(name: str, registry: Registry) -> JSONDict:
    return {"versions": [v.to_dict() for v in registry.versions(name)]}


@router.get(
    "/models/{name}/versions/{version}",
    tags=["models"],
    summary="One version, by number, by alias (such as 'champion') or 'latest'",
    dependencies=[READ],
)
def get_version(name: str, version: VersionParam, registry: Registry) -> JSONDict:
    return registry.get_version(_ref(name, version)).to_dict()


@router.get(
    "/models/{name}/versions/{version}/artifact",
    tags=["models"],
    response_class=Response,
    summary="The version's model artifact, verified against its SHA-256 before it is sent",
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The artifact's bytes."}},
    dependencies=[READ],
)
def get_artifact(name: str, version: VersionParam, registry: Registry) -> Response:
    found = registry.get_version(_ref(name, version))
    artifact = found.model_artifact
    digest = str(artifact["digest"])
    data = registry.artifacts.get_bytes(digest)  # raises IntegrityError (500) if the bytes changed
    filename = _filename(f"{found.model}-{found.version}-{artifact.get('path') or 'model.bin'}")
    return Response(
        content=data,
        media_type="application/octet-stream",
        headers={
            "content-disposition": f'attachment; filename="{filename}"',
            "x-weir-sha256": digest,
            "etag": f'"{digest}"',
        },
    )


def _filename(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)[:255]


# --- aliases -----------------------------------------------------------------------------------


@router.get(
    "/models/{name}/aliases",
    tags=["aliases"],
    summary="Current aliases and the history of every alias",
    dependencies=[READ],
)
def all_alias_history(name: str, registry: Registry) -> JSONDict:
    moves = registry.alias_history(name)
    current = registry.get_model(name).aliases
    return {"model": name, "aliases": current, "moves": [m.to_dict() for m in moves]}


@router.get(
    "/models/{name}/aliases/{alias}",
    tags=["aliases"],
    summary="The version an alias points to now, or pointed to at time 'at'",
    dependencies=[READ],
)
def get_alias(
    name: str,
    alias: str,
    registry: Registry,
    at: Annotated[datetime | None, Query(description="ISO-8601 time; naive times are UTC.")] = None,
) -> JSONDict:
    check_name(name)
    check_alias(alias)
    if at is None:
        found = registry.get_version(ModelRef(name, alias=alias))
    else:
        number = registry.alias_at(name, alias, at)
        if number is None:
            raise AliasNotFoundError(
                f"Model {name!r} had no alias {alias!r} at {at.isoformat()}; "
                f"see GET /api/v1/models/{name}/aliases/{alias}/history for when it moved.",
                model=name,
                alias=alias,
                at=at.isoformat(),
            )
        found = registry.get_version(ModelRef(name, version=number))
    return {
        "model": name,
        "alias": alias,
        "at": at.isoformat() if at else None,
        "version": found.version,
        "model_version": found.to_dict(),
    }


@router.put(
    "/models/{name}/aliases/{alias}", tags=["aliases"], summary="Point an alias at a version", dependencies=[DEPLOY]
)
def set_alias(
    name: str,
    alias: str,
    body: Annotated[AliasBody, Body()],
    registry: Registry,
    actor: Actor,
) -> JSONDict:
    return registry.set_alias(name, alias, body.version, reason=body.reason, actor=actor).to_dict()


@router.delete("/models/{name}/aliases/{alias}", tags=["aliases"], summary="Remove an alias", dependencies=[DEPLOY])
def delete_alias(
    name: str,
    alias: str,
    registry: Registry,
    actor: Actor,
    reason: Annotated[str, Query(max_length=2000, description="Why; recorded in the history.")] = "",
) -> JSONDict:
    return registry.delete_alias(name, alias, reason=reason, actor=actor).to_dict()


@router.get(
    "/models/{name}/aliases/{alias}/history",
    tags=["aliases"],
    summary="Every move of one alias, oldest first",
    dependencies=[READ],
)
def alias_history(name: str, alias: str, registry: Registry) -> JSONDict:
    check_alias(alias)
    moves = registry.alias_history(name, alias)
    if not moves:
        raise AliasNotFoundError(f"Model {name!r} never had an alias {alias!r}.", model=name, alias=alias)
    return {"model": name, "alias": alias, "moves": [m.to_dict() for m in moves]}


# --- validation records ------------------------------------------------------------------------


@router.post(
    "/models/{name}/versions/{version}/validations",
    tags=["validations"],
    status_code=201,
    summary="Record a validation of a version",
    dependencies=[DEPLOY],
)
def add_validation(
    name: str,
    version: VersionParam,
    body: Annotated[ValidationBody, Body()],
    registry: Registry,
    actor: Actor,
) -> JSONDict:
    record = registry.add_validation(
        str(_ref(name, version)),
        body.name,
        passed=body.passed,
        metrics=body.metrics,
        evidence=body.evidence,
        actor=actor,
    )
    return record.to_dict()


@router.get(
    "/models/{name}/versions/{version}/validations",
    tags=["validations"],
    summary="Every validation record of a version, oldest first",
    dependencies=[READ],
)
def list_validations(name: str, version: VersionParam, registry: Registry) -> JSONDict:
    ref = _ref(name, version)
    return {"validations": [r.to_dict() for r in registry.validations(str(ref))]}


# --- audit log ---------------------------------------------------------------------------------


@router.get(
    "/audit",
    tags=["audit"],
    summary="Audit entries, oldest first (the newest 'limit' of those that match)",
    dependencies=[READ],
)
def audit_entries(
    registry: Registry,
    entity: Annotated[str | None, Query(max_length=500, description="Exact entity, such as 'model:iris/2'.")] = None,
    prefix: Annotated[str | None, Query(max_length=500, description="Entity prefix, such as 'model:iris'.")] = None,
    after: Annotated[int, Query(ge=0, description="Only entries with a greater sequence number.")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000, description="At most this many (the newest).")] = 100,
) -> JSONDict:
    entries = registry.audit.entries(entity=entity, entity_prefix=prefix, limit=limit, after_seq=after)
    return {"entries": [e.to_dict() for e in entries]}


@router.get(
    "/audit/verify",
    tags=["audit"],
    summary="Walk the audit hash chain; 'ok' tells whether it is intact",
    dependencies=[READ],
)
def audit_verify(registry: Registry) -> JSONDict:
    report = registry.audit.verify()
    if not report.ok:
        logger.warning("audit chain verification found %d problem(s)", len(report.problems))
    return report.to_dict()
