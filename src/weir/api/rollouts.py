"""Routes of progressive rollouts under ``/api/v1``: reading needs ``read``; starting one and the manual
actions (pause, resume, promote now, abort) need ``deploy`` and are audited with the caller."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from weir.api.auth import scope
from weir.api.models import Actor
from weir.errors import ServiceUnavailableError
from weir.training.rollouts import Rollouts
from weir.types import JSONDict

router = APIRouter(prefix="/api/v1")
READ, DEPLOY = scope("read"), scope("deploy")
ACTIONS = {"pause": "pause", "resume": "resume", "promote": "promote_now", "abort": "abort"}


def _rollouts(request: Request) -> Rollouts:
    rollouts: Rollouts | None = request.app.state.rollouts
    if rollouts is None:
        raise ServiceUnavailableError("This server was started without rollouts.")
    return rollouts


RolloutsDep = Annotated[Rollouts, Depends(_rollouts)]


class RolloutBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    endpoint: str = Field(description="The endpoint whose traffic moves.")
    candidate: str = Field(description="The version rolled out: model/version or model@alias.")
    policy: JSONDict = Field(default_factory=dict, description="Rollout policy keys (docs/training.md).")
    force: bool = Field(default=False, description="Roll out a version without a passed validation.")
    reason: str = Field(default="", max_length=2000)


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=2000)


@router.get("/rollouts", tags=["rollouts"], summary="Rollouts, newest first", dependencies=[READ])
def list_rollouts(rollouts: RolloutsDep, endpoint: str | None = None, active: bool = False) -> JSONDict:
    return {"rollouts": [r.to_dict() for r in rollouts.list_rollouts(endpoint, active=active)]}


@router.get("/rollouts/{rollout_id}", tags=["rollouts"], summary="A rollout and every analysis", dependencies=[READ])
def get_rollout(rollout_id: int, rollouts: RolloutsDep) -> JSONDict:
    return {**rollouts.get(rollout_id).to_dict(), "steps": rollouts.steps(rollout_id)}


@router.post("/rollouts", tags=["rollouts"], summary="Start a rollout", status_code=201, dependencies=[DEPLOY])
def start_rollout(body: RolloutBody, rollouts: RolloutsDep, actor: Actor) -> JSONDict:
    rollout = rollouts.start(
        body.endpoint, body.candidate, body.policy, force=body.force, reason=body.reason, actor=actor
    )
    return rollout.to_dict()


@router.post(
    "/rollouts/{rollout_id}/{action}",
    tags=["rollouts"],
    summary="Pause, resume, promote now or abort",
    dependencies=[DEPLOY],
)
def act(
    rollout_id: int,
    action: Literal["pause", "resume", "promote", "abort"],
    body: ActionBody,
    rollouts: RolloutsDep,
    actor: Actor,
) -> JSONDict:
    rollout = getattr(rollouts, ACTIONS[action])(rollout_id, reason=body.reason, actor=actor)
    return dict(rollout.to_dict())
