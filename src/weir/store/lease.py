"""A named lease in the metadata store: at most one holder at a time, taken over only once it expires.

Acquire and renew are one conditional UPDATE (or the INSERT that creates the lease) inside a serialised
write transaction, so two processes racing for it on SQLite or PostgreSQL never both win.

>>> import tempfile
>>> db = Database(f"sqlite:///{tempfile.mkdtemp()}/weir.db"); db.migrate()
>>> first, second = Lease(db, "agent", "host:1"), Lease(db, "agent", "host:2")
>>> first.acquire(), second.acquire()
(True, False)
>>> first.release(); second.acquire()
True
>>> db.dispose()
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from weir.store.database import Database
from weir.store.schema import agent_leases

logger = logging.getLogger(__name__)


class Lease:
    def __init__(self, db: Database, name: str, holder: str, *, ttl: float = 120.0) -> None:
        self.db = db
        self.name = name
        self.holder = holder
        self.ttl = timedelta(seconds=ttl)

    def acquire(self, *, take_from: str | None = None) -> bool:
        """Take or renew the lease; False while another holder's lease has not expired (unless that holder
        is ``take_from``: a caller that knows it is dead)."""
        now = datetime.now(UTC)
        with self.db.write() as conn:
            row = conn.execute(sa.select(agent_leases).where(agent_leases.c.name == self.name)).first()
            if row is None:
                conn.execute(
                    agent_leases.insert().values(
                        name=self.name, holder=self.holder, acquired_at=now, expires_at=now + self.ttl
                    )
                )
                return True
            if row.holder not in (self.holder, take_from) and row.expires_at > now:
                return False
            acquired = row.acquired_at if row.holder == self.holder else now
            conn.execute(
                agent_leases.update()
                .where(agent_leases.c.name == self.name, agent_leases.c.holder == row.holder)
                .values(holder=self.holder, acquired_at=acquired, expires_at=now + self.ttl)
            )
            if row.holder != self.holder:
                logger.warning("lease %s taken over from %s (lease until %s)", self.name, row.holder, row.expires_at)
            return True

    def holder_now(self) -> tuple[str, datetime, datetime] | None:
        """(holder, acquired_at, expires_at) of an unexpired lease, or None."""
        with self.db.read() as conn:
            row = conn.execute(sa.select(agent_leases).where(agent_leases.c.name == self.name)).first()
        if row is None or row.expires_at <= datetime.now(UTC):
            return None
        return row.holder, row.acquired_at, row.expires_at

    def release(self) -> None:
        with self.db.write() as conn:
            conn.execute(
                agent_leases.delete().where(agent_leases.c.name == self.name, agent_leases.c.holder == self.holder)
            )
