"""Rollouts over the REST control plane: start, read, the manual actions, scopes."""

from __future__ import annotations

import httpx
import pytest

import weir

from .conftest import API

pytestmark = pytest.mark.anyio


async def test_start_read_pause_resume_promote(client: httpx.AsyncClient, seeded_workspace: weir.Workspace) -> None:
    ws = seeded_workspace
    ws.models.set_alias("iris", "champion", 1)
    ws.deployments.deploy("iris", "iris@champion")
    body = {"endpoint": "iris", "candidate": "iris/2", "policy": {"steps": [20, 100]}}
    refused = await client.post(f"{API}/rollouts", json=body)
    assert refused.status_code == 409 and "no validation record" in refused.json()["error"]["message"]
    started = await client.post(f"{API}/rollouts", json={**body, "force": True, "reason": "by hand"})
    assert started.status_code == 201, started.text
    rid = started.json()["id"]
    assert (started.json()["phase"], started.json()["created_by"]) == ("shadow", "ada")
    listed = (await client.get(f"{API}/rollouts", params={"active": True})).json()["rollouts"]
    assert [r["id"] for r in listed] == [rid]
    assert (await client.post(f"{API}/rollouts/{rid}/pause", json={"reason": "look"})).json()["state"] == "paused"
    assert (await client.post(f"{API}/rollouts/{rid}/resume", json={})).json()["state"] == "running"
    done = (await client.post(f"{API}/rollouts/{rid}/promote", json={})).json()
    assert done["state"] == "succeeded" and ws.models.get_model("iris").aliases["champion"] == 2
    shown = (await client.get(f"{API}/rollouts/{rid}")).json()
    assert [s["action"] for s in shown["steps"]] == ["start", "pause", "resume", "succeeded"]
    again = await client.post(f"{API}/rollouts/{rid}/abort", json={})
    assert again.status_code == 409 and "already ended" in again.json()["error"]["message"]
