"""The audit log records every change and detects edited or deleted rows."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sklearn.dummy import DummyClassifier

from weir.app import Workspace, connect
from weir.store.schema import audit_head, audit_log


@pytest.fixture
def busy(workspace: Workspace) -> Workspace:
    model = DummyClassifier(strategy="prior").fit([[0], [1]], [0, 1])
    workspace.models.register("churn", model, code_path=None)
    workspace.models.register("churn", model, code_path=None)
    workspace.models.set_alias("churn", "champion", 1)
    workspace.models.set_alias("churn", "champion", 2, reason="promote")
    workspace.models.add_validation("churn/2", "gate", passed=True, metrics={"auc": 0.9})
    return workspace


def test_every_change_is_recorded_with_who_and_before_after(busy: Workspace) -> None:
    entries = busy.models.audit.entries()
    assert [(e.seq, e.action, e.entity) for e in entries] == [
        (1, "model.create", "model:churn"),
        (2, "version.register", "model:churn/1"),
        (3, "version.register", "model:churn/2"),
        (4, "alias.set", "model:churn@champion"),
        (5, "alias.set", "model:churn@champion"),
        (6, "validation.record", "model:churn/2"),
    ]
    promote = entries[4]
    assert promote.actor == "tester"
    assert promote.before == {"version": 1} and promote.after == {"version": 2, "reason": "promote"}
    assert entries[1].after["artifacts"]["model"]["digest"]
    assert busy.models.audit.verify().ok


def _tamper(ws: Workspace, statement: sa.Executable) -> None:
    with ws.db.engine.begin() as conn:
        conn.execute(statement)


def test_edited_row_is_detected(busy: Workspace) -> None:
    _tamper(busy, audit_log.update().where(audit_log.c.seq == 4).values(actor="mallory"))
    report = busy.models.audit.verify()
    assert not report.ok
    assert report.problems == ["entry 4 (alias.set model:churn@champion) was modified"]


def test_edited_json_payload_is_detected(busy: Workspace) -> None:
    _tamper(busy, audit_log.update().where(audit_log.c.seq == 5).values(after={"version": 1, "reason": "promote"}))
    assert busy.models.audit.verify().problems == ["entry 5 (alias.set model:churn@champion) was modified"]


def test_deleted_middle_row_is_detected(busy: Workspace) -> None:
    _tamper(busy, audit_log.delete().where(audit_log.c.seq == 3))
    problems = busy.models.audit.verify().problems
    assert "entries 3..3 are missing (deleted)" in problems
    assert "entry 4 does not follow the entry before it (chain broken)" in problems


def test_deleted_newest_rows_are_detected(busy: Workspace) -> None:
    _tamper(busy, audit_log.delete().where(audit_log.c.seq >= 5))
    problems = busy.models.audit.verify().problems
    assert len(problems) == 1 and "the newest entry is 4 but the head records 6" in problems[0]


def test_recomputed_chain_without_the_key_is_detected(database_url: str, tmp_path: object) -> None:
    keyed = connect(home=str(tmp_path), database_url=database_url, audit_key="s3cret", user="tester")
    keyed.models.register("churn", DummyClassifier().fit([[0], [1]], [0, 1]), code_path=None)
    assert keyed.models.audit.verify().ok
    unkeyed = connect(home=str(tmp_path), database_url=database_url, user="tester")
    assert not unkeyed.models.audit.verify().ok  # a forger without the key cannot produce valid hashes
    with keyed.db.read() as conn:
        assert conn.execute(sa.select(audit_head.c.seq)).scalar() == 2
    keyed.close()
    unkeyed.close()
