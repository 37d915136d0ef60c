"""Aliases (``champion``, ``challenger``, any name): one version each, every move recorded.

These functions run inside the registry's transactions; :class:`~weir.registry.models.ModelRegistry`
is the public face.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from weir.errors import AliasNotFoundError
from weir.registry.audit import AuditLog
from weir.registry.records import AliasMove
from weir.store.schema import alias_history, aliases


def current(conn: Connection, model_id: int, alias: str) -> int | None:
    return conn.execute(
        sa.select(aliases.c.version).where(aliases.c.model_id == model_id, aliases.c.alias == alias)
    ).scalar()


def all_for_model(conn: Connection, model_id: int) -> dict[str, int]:
    rows = conn.execute(
        sa.select(aliases.c.alias, aliases.c.version).where(aliases.c.model_id == model_id).order_by(aliases.c.alias)
    )
    return {row.alias: row.version for row in rows}


def move(
    conn: Connection,
    audit: AuditLog,
    *,
    model: str,
    model_id: int,
    alias: str,
    version: int | None,
    actor: str,
    reason: str = "",
) -> AliasMove:
    """Point ``alias`` at ``version`` (``None`` removes it), recording history and audit."""
    previous = current(conn, model_id, alias)
    now = datetime.now(UTC)
    if version is None:
        if previous is None:
            raise AliasNotFoundError(f"Model {model!r} has no alias {alias!r}; nothing to remove.")
        conn.execute(aliases.delete().where(aliases.c.model_id == model_id, aliases.c.alias == alias))
    elif previous is None:
        conn.execute(
            aliases.insert().values(model_id=model_id, alias=alias, version=version, updated_at=now, updated_by=actor)
        )
    else:
        conn.execute(
            aliases.update()
            .where(aliases.c.model_id == model_id, aliases.c.alias == alias)
            .values(version=version, updated_at=now, updated_by=actor)
        )
    conn.execute(
        alias_history.insert().values(
            model_id=model_id,
            alias=alias,
            version=version,
            previous_version=previous,
            moved_at=now,
            moved_by=actor,
            reason=reason,
        )
    )
    audit.append(
        conn,
        actor=actor,
        action="alias.delete" if version is None else "alias.set",
        entity=f"model:{model}@{alias}",
        before={"version": previous},
        after={"version": version, "reason": reason} if version is not None else None,
    )
    return AliasMove(model, alias, version, previous, now, actor, reason)


def history(conn: Connection, model: str, model_id: int, alias: str | None) -> list[AliasMove]:
    query = sa.select(alias_history).where(alias_history.c.model_id == model_id)
    if alias is not None:
        query = query.where(alias_history.c.alias == alias)
    rows = conn.execute(query.order_by(alias_history.c.moved_at, alias_history.c.id))
    return [AliasMove(model, r.alias, r.version, r.previous_version, r.moved_at, r.moved_by, r.reason) for r in rows]


def at(conn: Connection, model_id: int, alias: str, when: datetime) -> int | None:
    """The version ``alias`` pointed to at ``when`` (``None``: it pointed nowhere)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    row = conn.execute(
        sa.select(alias_history.c.version)
        .where(alias_history.c.model_id == model_id, alias_history.c.alias == alias, alias_history.c.moved_at <= when)
        .order_by(alias_history.c.moved_at.desc(), alias_history.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else row.version
