"""The registry's REST routes, in-process over httpx's ASGI transport, on a real SQLite workspace."""

from __future__ import annotations

import hashlib
import os
import stat
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

import weir
from tests.api.conftest import API, app_routes

pytestmark = pytest.mark.anyio


EXPECTED_ROUTES = {
    ("GET", f"{API}/health"),
    ("GET", f"{API}/models"),
    ("GET", f"{API}/models/{{name}}"),
    ("GET", f"{API}/models/{{name}}/versions"),
    ("GET", f"{API}/models/{{name}}/versions/{{version}}"),
    ("GET", f"{API}/models/{{name}}/versions/{{version}}/artifact"),
    ("GET", f"{API}/models/{{name}}/aliases"),
    ("GET", f"{API}/models/{{name}}/aliases/{{alias}}"),
    ("PUT", f"{API}/models/{{name}}/aliases/{{alias}}"),
    ("DELETE", f"{API}/models/{{name}}/aliases/{{alias}}"),
    ("GET", f"{API}/models/{{name}}/aliases/{{alias}}/history"),
    ("POST", f"{API}/models/{{name}}/versions/{{version}}/validations"),
    ("GET", f"{API}/models/{{name}}/versions/{{version}}/validations"),
    ("GET", f"{API}/audit"),
    ("GET", f"{API}/audit/verify"),
    ("GET", f"{API}/deployments"),
    ("GET", f"{API}/deployments/{{endpoint}}"),
    ("GET", f"{API}/deployments/{{endpoint}}/history"),
    ("PUT", f"{API}/deployments/{{endpoint}}"),
    ("PUT", f"{API}/deployments/{{endpoint}}/canary"),
    ("PUT", f"{API}/deployments/{{endpoint}}/shadows"),
    ("POST", f"{API}/deployments/{{endpoint}}/promote"),
    ("POST", f"{API}/deployments/{{endpoint}}/rollback"),
    ("DELETE", f"{API}/deployments/{{endpoint}}"),
    ("GET", f"{API}/tokens"),
    ("POST", f"{API}/tokens"),
    ("DELETE", f"{API}/tokens/{{name}}"),
    ("GET", f"{API}/features"),
    ("GET", f"{API}/features/{{kind}}/{{name}}"),
    ("POST", f"{API}/features/online"),
    ("GET", f"{API}/rollouts"),
    ("POST", f"{API}/rollouts"),
    ("GET", f"{API}/rollouts/{{rollout_id}}"),
    ("POST", f"{API}/rollouts/{{rollout_id}}/{{action}}"),
}


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/health")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "ok", "version": weir.__version__}


async def test_models_and_versions(client: httpx.AsyncClient, seeded_workspace: weir.Workspace) -> None:
    listed = (await client.get(f"{API}/models")).json()["models"]
    assert [(m["name"], m["latest_version"], m["created_by"]) for m in listed] == [("iris", 2, "ada")]

    model = (await client.get(f"{API}/models/iris")).json()
    assert model == seeded_workspace.models.get_model("iris").to_dict()

    versions = (await client.get(f"{API}/models/iris/versions")).json()["versions"]
    assert [(v["version"], v["description"], v["format"]) for v in versions] == [
        (1, "C=1.0", "sklearn"),
        (2, "C=0.1", "sklearn"),
    ]
    assert versions[0]["metrics"]["accuracy"] > 0.9

    one = (await client.get(f"{API}/models/iris/versions/1")).json()
    assert one == seeded_workspace.models.get_version("iris/1").to_dict()
    assert one["signature"]["inputs"] is not None
    latest = (await client.get(f"{API}/models/iris/versions/latest")).json()
    assert latest["version"] == 2


async def test_version_by_alias(client: httpx.AsyncClient) -> None:
    await client.put(f"{API}/models/iris/aliases/champion", json={"version": 1})
    response = await client.get(f"{API}/models/iris/versions/champion")
    assert response.status_code == 200
    assert (response.json()["version"], response.json()["aliases"]) == (1, ["champion"])


async def test_artifact_download_is_verified(client: httpx.AsyncClient) -> None:
    version = (await client.get(f"{API}/models/iris/versions/2")).json()
    response = await client.get(f"{API}/models/iris/versions/2/artifact")
    assert response.status_code == 200
    digest = hashlib.sha256(response.content).hexdigest()
    assert digest == response.headers["x-weir-sha256"] == version["artifacts"]["model"]["digest"]
    assert len(response.content) == version["artifacts"]["model"]["size"]
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == 'attachment; filename="iris-2-model.skops"'
    latest = await client.get(f"{API}/models/iris/versions/latest/artifact")
    assert latest.content == response.content


async def test_corrupted_artifact_is_refused(client: httpx.AsyncClient, seeded_workspace: weir.Workspace) -> None:
    digest = seeded_workspace.models.get_version("iris/1").model_artifact["digest"]
    path = seeded_workspace.models.artifacts.path(digest)
    os.chmod(path, os.stat(path).st_mode | stat.S_IWUSR)
    path.write_bytes(b"not the model any more")

    response = await client.get(f"{API}/models/iris/versions/1/artifact")
    assert response.status_code == 500
    error = response.json()["error"]
    assert (error["code"], error["status"]) == ("integrity_error", 500)
    assert digest in error["message"]
    assert error["details"] == {"artifact": digest}
    assert (await client.get(f"{API}/models/iris/versions/2/artifact")).status_code == 200


async def test_alias_move_history_and_time_travel(client: httpx.AsyncClient) -> None:
    first = await client.put(f"{API}/models/iris/aliases/champion", json={"version": 1, "reason": "first"})
    assert first.status_code == 200
    move1 = first.json()
    assert {k: move1[k] for k in ("model", "alias", "version", "previous_version", "moved_by", "reason")} == {
        "model": "iris",
        "alias": "champion",
        "version": 1,
        "previous_version": None,
        "moved_by": "ada",
        "reason": "first",
    }
    move2 = (await client.put(f"{API}/models/iris/aliases/champion", json={"version": 2})).json()
    assert (move2["version"], move2["previous_version"], move2["reason"]) == (2, 1, "")

    now = (await client.get(f"{API}/models/iris/aliases/champion")).json()
    assert (now["version"], now["at"], now["model_version"]["version"]) == (2, None, 2)

    history = (await client.get(f"{API}/models/iris/aliases/champion/history")).json()
    assert history["moves"] == [move1, move2]

    t1, t2 = datetime.fromisoformat(move1["moved_at"]), datetime.fromisoformat(move2["moved_at"])
    earlier = (t1 - timedelta(microseconds=1)).isoformat()
    before = await client.get(f"{API}/models/iris/aliases/champion", params={"at": earlier})
    assert before.status_code == 404
    assert before.json()["error"]["code"] == "alias_not_found"
    between = await client.get(f"{API}/models/iris/aliases/champion", params={"at": t1.isoformat()})
    assert (between.json()["version"], between.json()["model_version"]["description"]) == (1, "C=1.0")
    after = await client.get(f"{API}/models/iris/aliases/champion", params={"at": t2.isoformat()})
    assert after.json()["version"] == 2
    zulu = t2.replace(tzinfo=None).isoformat() + "Z"
    assert (await client.get(f"{API}/models/iris/aliases/champion", params={"at": zulu})).json()["version"] == 2


async def test_alias_delete_and_all_history(client: httpx.AsyncClient) -> None:
    await client.put(f"{API}/models/iris/aliases/champion", json={"version": 2})
    await client.put(f"{API}/models/iris/aliases/challenger", json={"version": 1})
    removed = await client.delete(f"{API}/models/iris/aliases/challenger", params={"reason": "lost"})
    assert removed.status_code == 200
    assert {k: removed.json()[k] for k in ("version", "previous_version", "reason")} == {
        "version": None,
        "previous_version": 1,
        "reason": "lost",
    }
    assert (await client.get(f"{API}/models/iris/aliases/challenger")).status_code == 404

    everything = (await client.get(f"{API}/models/iris/aliases")).json()
    assert everything["aliases"] == {"champion": 2}
    assert [(m["alias"], m["version"]) for m in everything["moves"]] == [
        ("champion", 2),
        ("challenger", 1),
        ("challenger", None),
    ]


async def test_validations_round_trip(client: httpx.AsyncClient) -> None:
    body = {"name": "gate", "passed": True, "metrics": {"accuracy": 0.97, "n": 150}, "evidence": {"dataset": "iris"}}
    created = await client.post(f"{API}/models/iris/versions/2/validations", json=body)
    assert created.status_code == 201
    record = created.json()
    assert {k: record[k] for k in ("model", "version", "name", "passed", "metrics", "evidence", "created_by")} == {
        "model": "iris",
        "version": 2,
        "name": "gate",
        "passed": True,
        "metrics": {"accuracy": 0.97, "n": 150.0},
        "evidence": {"dataset": "iris"},
        "created_by": "ada",
    }
    await client.post(f"{API}/models/iris/versions/latest/validations", json={"name": "fairness", "passed": False})

    listed = (await client.get(f"{API}/models/iris/versions/2/validations")).json()["validations"]
    assert [(r["name"], r["passed"]) for r in listed] == [("gate", True), ("fairness", False)]
    assert listed[0] == record
    assert (await client.get(f"{API}/models/iris/versions/1/validations")).json() == {"validations": []}


async def test_audit_entries_and_verify(client: httpx.AsyncClient) -> None:
    await client.put(f"{API}/models/iris/aliases/champion", json={"version": 1, "reason": "ship it"})
    entries = (await client.get(f"{API}/audit")).json()["entries"]
    assert [e["action"] for e in entries] == ["model.create", "version.register", "version.register", "alias.set"]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    assert entries[-1]["actor"] == "ada" and entries[-1]["after"] == {"version": 1, "reason": "ship it"}

    only = (await client.get(f"{API}/audit", params={"entity": "model:iris/2"})).json()["entries"]
    assert [(e["action"], e["entity"]) for e in only] == [("version.register", "model:iris/2")]
    newest = (await client.get(f"{API}/audit", params={"limit": 2})).json()["entries"]
    assert [e["seq"] for e in newest] == [3, 4]
    prefixed = (await client.get(f"{API}/audit", params={"prefix": "model:iris@"})).json()["entries"]
    assert [e["seq"] for e in prefixed] == [4]

    report = (await client.get(f"{API}/audit/verify")).json()
    assert report == {"ok": True, "entries": 4, "head_seq": 4, "head_hash": entries[-1]["hash"], "problems": []}


async def test_audit_verify_reports_tampering(client: httpx.AsyncClient, seeded_workspace: weir.Workspace) -> None:
    import sqlalchemy as sa

    with seeded_workspace.db.write() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2"))
    response = await client.get(f"{API}/audit/verify")
    assert response.status_code == 200
    assert response.json()["ok"] is False
    assert any("entry 2" in p for p in response.json()["problems"])


async def test_openapi_lists_every_route(client: httpx.AsyncClient, app: FastAPI) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert (schema["info"]["title"], schema["info"]["version"]) == ("weir", weir.__version__)
    documented = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    routes = {r for r in app_routes(app) if r[1].startswith(API)}
    assert routes == EXPECTED_ROUTES
    assert routes <= documented
    assert (await client.get("/docs")).status_code == 200
