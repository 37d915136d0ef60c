"""The append-only audit log, hash-chained so that an edited or deleted row is detected.

Each entry's hash covers its content and the previous entry's hash; the newest sequence number
and hash are also kept in ``audit_head``. Editing a row breaks its hash, deleting one breaks the
chain, and deleting the newest ones disagrees with the head. With ``audit_key`` set, hashes are
HMAC-SHA256 under that key, so a writer without the key cannot forge a consistent chain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from weir.store import Database
from weir.store.schema import audit_head, audit_log
from weir.types import JSON, JSONDict

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    entity: str
    before: JSON
    after: JSON
    prev_hash: str
    hash: str

    def to_dict(self) -> JSONDict:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "entity": self.entity,
            "before": self.before,
            "after": self.after,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass
class AuditReport:
    """The result of :meth:`AuditLog.verify`: ``ok`` or the list of problems, by sequence number."""

    entries: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> JSONDict:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "problems": self.problems,
        }


def _canonical(value: Any) -> Any:
    """The value exactly as it will read back from the database's JSON column."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


class AuditLog:
    def __init__(self, db: Database, *, key: str | None = None) -> None:
        self.db = db
        self._key = key.encode() if key else None

    def _digest(
        self, seq: int, at: datetime, actor: str, action: str, entity: str, before: JSON, after: JSON, prev: str
    ) -> str:
        payload = json.dumps(
            [seq, at.astimezone(UTC).isoformat(), actor, action, entity, before, after, prev],
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        if self._key is not None:
            return hmac.new(self._key, payload, hashlib.sha256).hexdigest()
        return hashlib.sha256(payload).hexdigest()

    def append(
        self, conn: Connection, *, actor: str, action: str, entity: str, before: JSON = None, after: JSON = None
    ) -> AuditEntry:
        """Append one entry inside the caller's write transaction (which holds the head lock)."""
        head = conn.execute(
            sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
        ).one()
        seq = head.seq + 1
        at = datetime.now(UTC)
        before, after = _canonical(before), _canonical(after)
        digest = self._digest(seq, at, actor, action, entity, before, after, head.hash)
        row = {
            "seq": seq,
            "at": at,
            "actor": actor,
            "action": action,
            "entity": entity,
            "before": before,
            "after": after,
            "prev_hash": head.hash,
            "hash": digest,
        }
        conn.execute(audit_log.insert().values(**row))
        conn.execute(audit_head.update().where(audit_head.c.id == 1).values(seq=seq, hash=digest))
        return AuditEntry(**row)

    def entries(
        self,
        *,
        entity: str | None = None,
        entity_prefix: str | None = None,
        limit: int | None = None,
        after_seq: int = 0,
    ) -> list[AuditEntry]:
        query = sa.select(audit_log).where(audit_log.c.seq > after_seq).order_by(audit_log.c.seq)
        if entity is not None:
            query = query.where(audit_log.c.entity == entity)
        if entity_prefix is not None:
            query = query.where(audit_log.c.entity.startswith(entity_prefix, autoescape=True))
        if limit is not None and after_seq:
            query = query.limit(limit)  # paging forward from after_seq
        elif limit is not None:
            query = query.order_by(None).order_by(audit_log.c.seq.desc()).limit(limit)  # the newest N
        with self.db.read() as conn:
            rows = [AuditEntry(**row._mapping) for row in conn.execute(query)]
        return sorted(rows, key=lambda e: e.seq)

    def _all(self, conn: Connection, batch: int = 5000) -> Iterator[AuditEntry]:
        last = 0
        while True:
            rows = conn.execute(
                sa.select(audit_log).where(audit_log.c.seq > last).order_by(audit_log.c.seq).limit(batch)
            ).all()
            if not rows:
                return
            for row in rows:
                yield AuditEntry(**row._mapping)
            last = rows[-1].seq

    def head(self) -> tuple[int, str]:
        """The newest entry's sequence number and hash, as the head records them (one row: cheap)."""
        with self.db.read() as conn:
            head = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).one()
        return int(head.seq), str(head.hash)

    def verify(self) -> AuditReport:
        """Walk the whole chain; report every edited, deleted or reordered entry."""
        report = AuditReport()
        with self.db.read() as conn:
            head = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).one()
            report.head_seq, report.head_hash = head.seq, head.hash
            expected_seq, prev = 1, GENESIS
            for entry in self._all(conn):
                report.entries += 1
                if entry.seq != expected_seq:
                    report.problems.append(
                        f"entries {expected_seq}..{entry.seq - 1} are missing (deleted)"
                        if entry.seq > expected_seq
                        else f"entry {entry.seq} is out of order"
                    )
                if entry.prev_hash != prev:
                    report.problems.append(f"entry {entry.seq} does not follow the entry before it (chain broken)")
                actual = self._digest(
                    entry.seq,
                    entry.at,
                    entry.actor,
                    entry.action,
                    entry.entity,
                    entry.before,
                    entry.after,
                    entry.prev_hash,
                )
                if actual != entry.hash:
                    report.problems.append(f"entry {entry.seq} ({entry.action} {entry.entity}) was modified")
                expected_seq, prev = entry.seq + 1, entry.hash
            if head.seq != expected_seq - 1 or head.hash != prev:
                report.problems.append(
                    f"the newest entry is {expected_seq - 1} but the head records {head.seq}: "
                    "entries were deleted from the end, or the head was altered"
                )
        return report
