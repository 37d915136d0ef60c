"""Deployments and API tokens: versioned, validated, audited; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from weir.app import Workspace
from weir.errors import (
    AliasNotFoundError,
    ConflictError,
    DeploymentNotFoundError,
    NotFoundError,
    ValidationError,
    VersionNotFoundError,
)
from weir.registry import Scaling


@pytest.fixture
def churn(workspace: Workspace) -> Workspace:
    X, y = load_iris(return_X_y=True, as_frame=True)
    for c in (1.0, 0.5, 0.25):
        workspace.models.register("churn", LogisticRegression(C=c, max_iter=300).fit(X, y), input_example=X[:5])
    workspace.models.set_alias("churn", "champion", 1)
    return workspace


def test_deploy_canary_shadow_promote_rollback(churn: Workspace) -> None:
    deps = churn.deployments
    d = deps.deploy("churn-api", "churn@champion", route_key="customer_id")
    assert (d.primary, d.canary, d.revision, d.route_key) == ("churn@champion", None, 1, "customer_id")
    d = deps.set_canary("churn-api", "churn/2", 25)
    d = deps.set_shadow("churn-api", "churn/3", 10)
    assert (d.canary, d.canary_weight, d.shadows[0].ref, d.shadows[0].percent, d.revision) == (
        "churn/2",
        25.0,
        "churn/3",
        10.0,
        3,
    )
    assert deps.get("churn-api") == d
    d = deps.promote("churn-api", reason="canary healthy")
    assert d.primary == "churn@champion" and d.canary is None
    assert churn.models.get_model("churn").aliases == {"champion": 2}
    d = deps.rollback("churn-api")  # undoes the promotion: the alias moves back
    assert churn.models.get_model("churn").aliases == {"champion": 1}
    assert (d.canary, d.revision, len(d.shadows)) == ("churn/2", 5, 1)
    d = deps.rollback("churn-api")  # with a canary: drops it
    assert d.canary is None and d.revision == 6
    actions = [c.action for c in deps.history("churn-api")]
    assert actions == ["deploy", "set_canary", "set_shadow", "promote", "rollback", "rollback"]
    audited = [e.action for e in churn.models.audit.entries() if e.entity == "deployment:churn-api"]
    assert audited == ["deployment." + a for a in actions]
    assert churn.models.audit.verify().ok


def test_promote_pinned_primary_moves_the_pin(churn: Workspace) -> None:
    churn.deployments.deploy("e", "churn/1", canary="churn/3", canary_weight=50)
    d = churn.deployments.promote("e")
    assert (d.primary, d.canary) == ("churn/3", None)
    assert churn.models.get_model("churn").aliases == {"champion": 1}


def test_bad_deployments_are_refused_and_change_nothing(churn: Workspace) -> None:
    deps = churn.deployments
    deps.deploy("e", "churn@champion")
    stamp = churn.db.change_stamp()
    cases = [
        (lambda: deps.deploy("bad name!", "churn/1"), ValidationError, "Endpoint name"),
        (lambda: deps.deploy("e", "churn/9"), VersionNotFoundError, "latest is 3"),
        (lambda: deps.deploy("e", "churn@nope"), AliasNotFoundError, "nope"),
        (lambda: deps.set_canary("e", "churn/2", 120), ValidationError, "percentage"),
        (lambda: deps.set_canary("e", "churn@champion", 10), ValidationError, "is the primary"),
        (lambda: deps.set_shadow("e", "churn/2", -5), ValidationError, "(0, 100]"),
        (lambda: deps.deploy("e", "churn/1", options={"turbo": True}), ValidationError, "unknown option"),
        (lambda: deps.deploy("e", "churn/1", options={"log_sample": 2}), ValidationError, "log_sample"),
        (lambda: deps.set_options("e", {"max_replicas": 0}), ValidationError, "max_replicas 0 must be a whole number"),
        (lambda: deps.set_options("e", {"min_replicas": 1.5}), ValidationError, "min_replicas 1.5"),
        (lambda: deps.set_options("e", {"min_replicas": 3, "max_replicas": 2}), ValidationError, "above max_replicas"),
        (lambda: deps.set_options("e", {"target_ongoing_requests": 0}), ValidationError, "number > 0"),
        (lambda: deps.set_options("e", {"replica_cpus": True}), ValidationError, "replica_cpus True"),
        (lambda: deps.promote("e"), ConflictError, "no canary"),
        (lambda: deps.rollback("e"), ConflictError, "no earlier revision"),
        (lambda: deps.get("missing"), DeploymentNotFoundError, "deployments: e"),
    ]
    for call, error, words in cases:
        with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)").replace("]", r"\]")):
            call()
    assert churn.db.change_stamp() == stamp
    assert deps.get("e").revision == 1


def test_scaling_options_are_kept_changed_and_removed_one_by_one(churn: Workspace) -> None:
    deps = churn.deployments
    deps.deploy("e", "churn@champion", options={"log_sample": 0.5})
    d = deps.set_options("e", {"min_replicas": 2, "max_replicas": 6, "target_ongoing_requests": 4})
    assert d.options == {"log_sample": 0.5, "min_replicas": 2, "max_replicas": 6, "target_ongoing_requests": 4}
    assert Scaling.from_options(d.options) == Scaling(min_replicas=2, max_replicas=6, target_ongoing_requests=4.0)
    assert "replicas 2–6, aiming at 4 requests in flight each" in Scaling.from_options(d.options).describe()
    d = deps.set_options("e", {"max_replicas": None, "min_replicas": None})
    assert d.options == {"log_sample": 0.5, "target_ongoing_requests": 4}
    assert [c.action for c in deps.history("e")][-2:] == ["set_options", "set_options"]
    assert Scaling.from_options({"min_replicas": 3}) == Scaling(min_replicas=3, max_replicas=3)  # max follows min


def test_delete_keeps_history(churn: Workspace) -> None:
    churn.deployments.deploy("e", "churn/1")
    churn.deployments.delete("e", reason="retired")
    assert churn.deployments.list_deployments() == []
    assert [c.action for c in churn.deployments.history("e")] == ["deploy", "delete"]


def test_resolve_versions_follows_aliases(churn: Workspace) -> None:
    resolved = churn.models.resolve_versions(["churn@champion", "churn/3", "churn"])
    assert {k: v.version for k, v in resolved.items()} == {"churn@champion": 1, "churn/3": 3, "churn": 3}


def test_input_example_is_stored_with_the_version(churn: Workspace) -> None:
    example = churn.models.input_example("churn/2")
    X, _ = load_iris(return_X_y=True, as_frame=True)
    pd.testing.assert_frame_equal(example, X[:5].reset_index(drop=True))


def test_tokens(churn: Workspace) -> None:
    _, secret = churn.tokens.create("deployer", ["deploy"], expires_in=timedelta(days=1))
    table = churn.tokens.table()
    found = table.lookup(secret)
    assert found is not None and found.allows("read") and found.allows("deploy") and not found.allows("predict")
    assert table.lookup(secret + "x") is None and table.lookup("") is None
    with pytest.raises(ConflictError, match="exists"):
        churn.tokens.create("deployer", ["read"])
    with pytest.raises(ValidationError, match="choose one or more of predict, read, deploy, admin"):
        churn.tokens.create("x", ["root"])
    with pytest.raises(NotFoundError, match="No token named"):
        churn.tokens.revoke("nobody")
    churn.tokens.revoke("deployer")
    assert churn.tokens.table().lookup(secret) is None
    assert [t.active() for t in churn.tokens.list_tokens()] == [False]
    assert secret not in str([e.after for e in churn.models.audit.entries()])


def test_recreated_endpoint_continues_its_history(churn: Workspace) -> None:
    churn.deployments.deploy("e", "churn/1")
    churn.deployments.delete("e")
    again = churn.deployments.deploy("e", "churn/2")
    assert again.revision == 3
    with pytest.raises(ConflictError, match="no earlier revision"):
        churn.deployments.rollback("e")
    assert [c.revision for c in churn.deployments.history("e")] == [1, 2, 3]
