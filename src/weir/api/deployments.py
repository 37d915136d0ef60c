"""Routes of deployments and API tokens under ``/api/v1`` (the control plane of serving).

Reading needs the ``read`` scope, changing a deployment ``deploy``, and tokens ``admin``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from weir.api.auth import scope
from weir.api.models import Actor
from weir.registry import Deployments, Shadow, Tokens
from weir.types import JSONDict

router = APIRouter(prefix="/api/v1")
READ, DEPLOY, ADMIN = scope("read"), scope("deploy"), scope("admin")


def _deployments(request: Request) -> Deployments:
    deployments: Deployments = request.app.state.deployments
    return deployments


def _tokens(request: Request) -> Tokens:
    tokens: Tokens = request.app.state.tokens
    return tokens


DeploymentsDep = Annotated[Deployments, Depends(_deployments)]
TokensDep = Annotated[Tokens, Depends(_tokens)]


class ShadowBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ref: str = Field(description="The version mirrored, e.g. churn/4.")
    percent: float = Field(default=100.0, description="Share of requests mirrored, (0, 100].")


class DeploymentBody(BaseModel):
    """A deployment's whole configuration."""

    model_config = ConfigDict(extra="forbid")
    primary: str = Field(description="The primary route: a version (churn/3) or an alias (churn@champion).")
    canary: str | None = None
    canary_weight: float = Field(default=0.0, description="Percent of traffic sent to the canary.")
    shadows: list[ShadowBody] = Field(default_factory=list)
    route_key: str | None = Field(default=None, description="Request field whose value picks the canary stickily.")
    options: JSONDict = Field(default_factory=dict)
    reason: str = Field(default="", max_length=2000)


class CanaryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ref: str | None = Field(description="The canary version; null removes the canary.")
    weight: float = Field(default=0.0, description="Percent of traffic, [0, 100].")
    reason: str = Field(default="", max_length=2000)


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=2000)


class TokenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    scopes: list[str]
    expires_in_days: float | None = Field(default=None, gt=0)


@router.get("/deployments", tags=["deployments"], summary="Every deployment", dependencies=[READ])
def list_deployments(deployments: DeploymentsDep) -> JSONDict:
    return {"deployments": [d.to_dict() for d in deployments.list_deployments()]}


@router.get("/deployments/{endpoint}", tags=["deployments"], summary="One deployment", dependencies=[READ])
def get_deployment(endpoint: str, deployments: DeploymentsDep) -> JSONDict:
    return deployments.get(endpoint).to_dict()


@router.get(
    "/deployments/{endpoint}/history", tags=["deployments"], summary="Every change, oldest first", dependencies=[READ]
)
def deployment_history(endpoint: str, deployments: DeploymentsDep) -> JSONDict:
    return {"history": [c.to_dict() for c in deployments.history(endpoint)]}


@router.put(
    "/deployments/{endpoint}", tags=["deployments"], summary="Create or replace a deployment", dependencies=[DEPLOY]
)
def put_deployment(endpoint: str, body: DeploymentBody, deployments: DeploymentsDep, actor: Actor) -> JSONDict:
    return deployments.deploy(
        endpoint,
        body.primary,
        canary=body.canary,
        canary_weight=body.canary_weight,
        shadows=[Shadow(s.ref, s.percent) for s in body.shadows],
        route_key=body.route_key,
        options=body.options,
        reason=body.reason,
        actor=actor,
    ).to_dict()


@router.put("/deployments/{endpoint}/canary", tags=["deployments"], summary="Set the canary", dependencies=[DEPLOY])
def put_canary(endpoint: str, body: CanaryBody, deployments: DeploymentsDep, actor: Actor) -> JSONDict:
    return deployments.set_canary(endpoint, body.ref, body.weight, reason=body.reason, actor=actor).to_dict()


@router.put(
    "/deployments/{endpoint}/shadows",
    tags=["deployments"],
    summary="Add, change or remove (percent 0) a shadow",
    dependencies=[DEPLOY],
)
def put_shadow(
    endpoint: str, body: Annotated[ShadowBody, Body()], deployments: DeploymentsDep, actor: Actor
) -> JSONDict:
    return deployments.set_shadow(endpoint, body.ref, body.percent, actor=actor).to_dict()


@router.post(
    "/deployments/{endpoint}/promote",
    tags=["deployments"],
    summary="Make the canary the primary",
    dependencies=[DEPLOY],
)
def promote(endpoint: str, body: ReasonBody, deployments: DeploymentsDep, actor: Actor) -> JSONDict:
    return deployments.promote(endpoint, reason=body.reason, actor=actor).to_dict()


@router.post(
    "/deployments/{endpoint}/rollback",
    tags=["deployments"],
    summary="Drop the canary, or undo the last change",
    dependencies=[DEPLOY],
)
def rollback(endpoint: str, body: ReasonBody, deployments: DeploymentsDep, actor: Actor) -> JSONDict:
    return deployments.rollback(endpoint, reason=body.reason, actor=actor).to_dict()


@router.delete("/deployments/{endpoint}", tags=["deployments"], summary="Delete a deployment", dependencies=[DEPLOY])
def delete_deployment(endpoint: str, deployments: DeploymentsDep, actor: Actor) -> JSONDict:
    deployments.delete(endpoint, actor=actor)
    return {"deleted": endpoint}


@router.get("/tokens", tags=["tokens"], summary="Every API token (never the secret)", dependencies=[ADMIN])
def list_tokens(tokens: TokensDep) -> JSONDict:
    return {"tokens": [t.to_dict() for t in tokens.list_tokens()]}


@router.post(
    "/tokens",
    tags=["tokens"],
    summary="Create a token; its secret is in this answer only",
    dependencies=[ADMIN],
    status_code=201,
)
def create_token(body: TokenBody, tokens: TokensDep, actor: Actor) -> JSONDict:
    expires = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    token, secret = tokens.create(body.name, body.scopes, expires_in=expires, actor=actor)
    return {**token.to_dict(), "token": secret}


@router.delete("/tokens/{name}", tags=["tokens"], summary="Revoke a token", dependencies=[ADMIN])
def revoke_token(name: str, tokens: TokensDep, actor: Actor) -> JSONDict:
    return tokens.revoke(name, actor=actor).to_dict()
