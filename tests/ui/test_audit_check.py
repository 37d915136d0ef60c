"""The dashboard's audit verification: reused while the head stands and the last walk is recent, walked again
when the head moves, when the last walk is older than the ttl, or when asked."""

from __future__ import annotations

from sklearn.dummy import DummyClassifier

from weir.app import Workspace
from weir.store.schema import audit_log
from weir.ui.audit_check import AuditCheck


def edit_first_entry(ws: Workspace) -> None:
    with ws.models.db.write() as conn:
        conn.execute(audit_log.update().where(audit_log.c.seq == 1).values(actor="mallory"))


def test_a_walk_is_reused_until_the_head_moves_or_a_fresh_one_is_asked(workspace: Workspace) -> None:
    model = DummyClassifier(strategy="prior").fit([[0], [1]], [0, 1])
    workspace.models.register("churn", model, code_path=None)
    check = AuditCheck(workspace.models.audit, ttl=3600)
    first = check.verified()
    assert first.report.ok and not first.cached and first.report.head_seq == 2
    edit_first_entry(workspace)
    again = check.verified()  # the head stands and the walk is recent: reused, the edit not seen yet
    assert again.cached and again.report.ok and again.at == first.at
    forced = check.verified(force=True)
    assert not forced.cached and not forced.report.ok
    assert "entry 1 (model.create model:churn) was modified" in forced.report.problems
    check = AuditCheck(workspace.models.audit, ttl=3600)
    assert not check.verified().report.ok
    workspace.models.add_validation("churn/1", "gate", passed=True)  # the head moves: walked again
    moved = check.verified()
    assert not moved.cached and moved.report.head_seq == 3 and not moved.report.ok


def test_a_walk_older_than_the_ttl_is_not_reused(workspace: Workspace) -> None:
    model = DummyClassifier(strategy="prior").fit([[0], [1]], [0, 1])
    workspace.models.register("churn", model, code_path=None)
    check = AuditCheck(workspace.models.audit, ttl=0)
    assert check.verified().report.ok
    edit_first_entry(workspace)
    found = check.verified()
    assert not found.cached and not found.report.ok
