"""Deployments: an endpoint name bound to routes (primary, canary with a weight, shadows).

A deployment is data that serving follows and rollouts write. Every change bumps the deployment's
``revision``, is kept in its history (the full configuration, so ``rollback`` can restore it) and is
recorded in the audit log.

>>> import tempfile
>>> from sklearn.linear_model import LogisticRegression
>>> import weir
>>> ws = weir.connect(home=tempfile.mkdtemp())
>>> X, y = [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]
>>> _ = ws.models.register("churn", LogisticRegression().fit(X, y), aliases=["champion"])
>>> _ = ws.models.register("churn", LogisticRegression(C=0.5).fit(X, y))
>>> ws.deployments.deploy("churn", "churn@champion").primary
'churn@champion'
>>> d = ws.deployments.set_canary("churn", "churn/2", 10)
>>> d.canary, d.canary_weight, d.revision
('churn/2', 10.0, 2)
>>> ws.deployments.promote("churn").canary is None, ws.models.get_model("churn").aliases
(True, {'champion': 2})
>>> ws.deployments.rollback("churn").revision, ws.models.get_model("churn").aliases
(4, {'champion': 1})
>>> ws.close()
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from weir.errors import ConflictError, DeploymentNotFoundError, ValidationError
from weir.registry.models import ModelRegistry
from weir.registry.records import Deployment, DeploymentChange, Shadow
from weir.registry.refs import ModelRef, parse_ref
from weir.registry.scaling import REPLICA_KEYS, Scaling
from weir.store import Database
from weir.store.prediction_record import check_endpoint
from weir.store.schema import deployment_history, deployments
from weir.types import JSONDict

logger = logging.getLogger(__name__)

OPTION_KEYS = ("log_sample", "max_batch_size", "max_batch_wait_ms", "feature_service", "rollout_policy", *REPLICA_KEYS)


class Deployments:
    """Create, change and read deployments; every change is versioned and audited."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    @property
    def db(self) -> Database:
        return self.registry.db

    # --- reading ---------------------------------------------------------------------------------

    def list_deployments(self) -> list[Deployment]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(deployments).order_by(deployments.c.endpoint)).all()
        return [_from_row(r) for r in rows]

    def get(self, endpoint: str) -> Deployment:
        with self.db.read() as conn:
            return self._get(conn, endpoint)

    def get_in(self, conn: Connection, endpoint: str) -> Deployment:
        """:meth:`get` inside the caller's transaction."""
        return self._get(conn, endpoint)

    def _get(self, conn: Connection, endpoint: str, *, for_update: bool = False) -> Deployment:
        row = conn.execute(sa.select(deployments).where(deployments.c.endpoint == endpoint)).first()
        if row is None:
            names = conn.execute(sa.select(deployments.c.endpoint).order_by(deployments.c.endpoint)).scalars().all()
            known = f"deployments: {', '.join(names)}" if names else "there are no deployments yet"
            raise DeploymentNotFoundError(
                f"No deployment for endpoint {endpoint!r} ({known}); "
                f"create one with `weir deploy {endpoint} MODEL@ALIAS`."
            )
        return _from_row(row)

    def history(self, endpoint: str) -> list[DeploymentChange]:
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(deployment_history)
                .where(deployment_history.c.endpoint == endpoint)
                .order_by(deployment_history.c.id)
            ).all()
        if not rows:
            self.get(endpoint)  # raises the helpful not-found error
        return [
            DeploymentChange(r.endpoint, r.revision, r.action, r.config, r.changed_at, r.changed_by, r.reason)
            for r in rows
        ]

    # --- changing --------------------------------------------------------------------------------

    def deploy(
        self,
        endpoint: str,
        primary: str,
        *,
        canary: str | None = None,
        canary_weight: float = 0.0,
        shadows: Iterable[Shadow | tuple[str, float]] = (),
        route_key: str | None = None,
        options: Mapping[str, Any] | None = None,
        reason: str = "",
        actor: str | None = None,
    ) -> Deployment:
        """Create the deployment for ``endpoint``, or replace its whole configuration."""
        check_endpoint(endpoint)
        wanted = Deployment(
            endpoint,
            primary,
            canary,
            float(canary_weight),
            tuple(s if isinstance(s, Shadow) else Shadow(s[0], float(s[1])) for s in shadows),
            route_key,
            dict(options or {}),
        )
        return self._change(endpoint, "deploy", lambda _old: wanted, reason, actor, create=True)

    def set_canary(
        self, endpoint: str, ref: str | None, weight: float = 0.0, *, reason: str = "", actor: str | None = None
    ) -> Deployment:
        """Send ``weight`` % of traffic to ``ref`` (``None`` or weight 0 removes the canary)."""
        if ref is None or weight == 0:
            return self._change(
                endpoint, "set_canary", lambda d: replace(d, canary=None, canary_weight=0.0), reason, actor
            )
        return self._change(
            endpoint, "set_canary", lambda d: replace(d, canary=ref, canary_weight=float(weight)), reason, actor
        )

    def set_shadow(
        self, endpoint: str, ref: str, percent: float = 100.0, *, reason: str = "", actor: str | None = None
    ) -> Deployment:
        """Mirror ``percent`` % of requests to ``ref`` off the response path (0 removes the shadow)."""

        def change(d: Deployment) -> Deployment:
            others = tuple(s for s in d.shadows if s.ref != ref)
            return replace(d, shadows=others if percent == 0 else (*others, Shadow(ref, float(percent))))

        return self._change(endpoint, "set_shadow", change, reason, actor)

    def set_options(
        self, endpoint: str, changes: Mapping[str, Any], *, reason: str = "", actor: str | None = None
    ) -> Deployment:
        """Change some options and keep the others (a ``None`` value removes that option)."""

        def change(d: Deployment) -> Deployment:
            options = {**d.options, **changes}
            return replace(d, options={k: v for k, v in options.items() if v is not None})

        return self._change(endpoint, "set_options", change, reason, actor)

    def promote(self, endpoint: str, *, reason: str = "", actor: str | None = None) -> Deployment:
        """Make the canary the primary. A primary that follows an alias keeps doing so: the alias moves."""
        with self.db.write() as conn:
            return self.promote_in(conn, endpoint, reason=reason, actor=actor)

    def promote_in(
        self,
        conn: Connection,
        endpoint: str,
        *,
        candidate: str | None = None,
        reason: str = "",
        actor: str | None = None,
    ) -> Deployment:
        """:meth:`promote` inside the caller's write transaction; ``candidate`` promotes that ref (the canary
        or a shadow) in one revision, so that one rollback undoes it."""
        actor = actor or self.registry.actor
        current = self._get(conn, endpoint)
        target = candidate or current.canary
        if target is None:
            raise ConflictError(
                f"Endpoint {endpoint!r} has no canary to promote; set one with `weir deployments set-canary`."
            )
        primary, canary = parse_ref(current.primary), parse_ref(target)
        moved: JSONDict | None = None
        shadows = tuple(s for s in current.shadows if s.ref != target)
        new = replace(current, canary=None, canary_weight=0.0, shadows=shadows)
        if primary.alias is not None and primary.name == canary.name:
            number = self.registry.resolve_in(conn, canary)
            before = self.registry.move_alias_in(
                conn, primary.name, primary.alias, number, actor=actor, reason=f"promoted on endpoint {endpoint}"
            )
            moved = {"model": primary.name, "alias": primary.alias, "from": before, "to": number}
        else:
            new = replace(new, primary=target)
        return self._write(conn, current, new, "promote", reason, actor, extra={"alias_moved": moved})

    def rollback(self, endpoint: str, *, reason: str = "", actor: str | None = None) -> Deployment:
        """Undo: drop the canary if there is one; otherwise restore the previous revision (moving back an
        alias that a promotion moved)."""
        actor = actor or self.registry.actor
        with self.db.write() as conn:
            current = self._get(conn, endpoint)
            if current.canary is not None:
                new = replace(current, canary=None, canary_weight=0.0)
                return self._write(conn, current, new, "rollback", reason or "canary removed", actor)
            rows = conn.execute(
                sa.select(deployment_history.c.config, deployment_history.c.action)
                .where(deployment_history.c.endpoint == endpoint)
                .order_by(deployment_history.c.id.desc())
                .limit(2)
            ).all()
            if len(rows) < 2 or rows[1].config is None:  # nothing before, or it was deleted then re-created
                raise ConflictError(f"Endpoint {endpoint!r} has no earlier revision to roll back to.")
            last, previous = rows[0].config, rows[1].config
            moved = (last or {}).get("alias_moved")
            if rows[0].action == "promote" and moved:
                self.registry.move_alias_in(
                    conn, moved["model"], moved["alias"], moved["from"], actor=actor, reason=f"rollback of {endpoint}"
                )
            new = Deployment.from_config(endpoint, previous)
            return self._write(conn, current, new, "rollback", reason, actor)

    def delete(self, endpoint: str, *, reason: str = "", actor: str | None = None) -> None:
        actor = actor or self.registry.actor
        with self.db.write() as conn:
            current = self._get(conn, endpoint)
            conn.execute(deployments.delete().where(deployments.c.endpoint == endpoint))
            self._record(conn, current, None, current.revision + 1, "delete", reason, actor, datetime.now(UTC))

    # --- internals -------------------------------------------------------------------------------

    def _change(
        self,
        endpoint: str,
        action: str,
        change: Callable[[Deployment], Deployment],
        reason: str,
        actor: str | None,
        create: bool = False,
    ) -> Deployment:
        with self.db.write() as conn:
            return self.change_in(conn, endpoint, action, change, reason=reason, actor=actor, create=create)

    def change_in(
        self,
        conn: Connection,
        endpoint: str,
        action: str,
        change: Callable[[Deployment], Deployment],
        *,
        reason: str = "",
        actor: str | None = None,
        create: bool = False,
    ) -> Deployment:
        """Apply ``change`` to the deployment inside the caller's write transaction (for callers such as
        rollouts that change a deployment and their own state atomically)."""
        actor = actor or self.registry.actor
        try:
            current: Deployment | None = self._get(conn, endpoint)
        except DeploymentNotFoundError:
            if not create:
                raise
            current = None
        return self._write(conn, current, change(current), action, reason, actor)  # type: ignore[arg-type]

    def _write(
        self,
        conn: Connection,
        current: Deployment | None,
        new: Deployment,
        action: str,
        reason: str,
        actor: str,
        extra: JSONDict | None = None,
    ) -> Deployment:
        self._validate(conn, new)
        now = datetime.now(UTC)
        if current is None:  # a re-created endpoint continues its history's numbering
            last = conn.execute(
                sa.select(sa.func.max(deployment_history.c.revision)).where(
                    deployment_history.c.endpoint == new.endpoint
                )
            ).scalar()
            revision = (last or 0) + 1
        else:
            revision = current.revision + 1
        values = {"config": new.config(), "revision": revision, "updated_at": now, "updated_by": actor}
        if current is None:
            conn.execute(deployments.insert().values(endpoint=new.endpoint, created_at=now, created_by=actor, **values))
        else:
            conn.execute(deployments.update().where(deployments.c.endpoint == new.endpoint).values(**values))
        self._record(conn, current, new, revision, action, reason, actor, now, extra)
        logger.info("deployment %s revision %d: %s by %s", new.endpoint, revision, action, actor)
        return replace(new, revision=revision, updated_at=now, updated_by=actor)

    def _record(
        self,
        conn: Connection,
        current: Deployment | None,
        new: Deployment | None,
        revision: int,
        action: str,
        reason: str,
        actor: str,
        now: datetime,
        extra: JSONDict | None = None,
    ) -> None:
        config = None if new is None else {**new.config(), **{k: v for k, v in (extra or {}).items() if v}}
        endpoint = (new or current).endpoint  # type: ignore[union-attr]
        conn.execute(
            deployment_history.insert().values(
                endpoint=endpoint,
                revision=revision,
                action=action,
                config=config,
                changed_at=now,
                changed_by=actor,
                reason=reason,
            )
        )
        self.registry.audit.append(
            conn,
            actor=actor,
            action=f"deployment.{action}",
            entity=f"deployment:{endpoint}",
            before=None if current is None else current.config(),
            after=None if config is None else {**config, "revision": revision, "reason": reason},
        )

    def _validate(self, conn: Connection, d: Deployment) -> None:
        for what, ref in (("primary", d.primary), ("canary", d.canary), *(("shadow", s.ref) for s in d.shadows)):
            if ref is None:
                continue
            try:
                parsed: ModelRef = parse_ref(ref)
            except ValidationError as exc:
                raise ValidationError(f"Endpoint {d.endpoint!r}: {what} {exc.message}", field=what) from exc
            self.registry.resolve_in(conn, parsed)  # raises ModelNotFound / VersionNotFound / AliasNotFound
        if not 0 <= d.canary_weight <= 100 or math.isnan(d.canary_weight):
            raise ValidationError(
                f"Endpoint {d.endpoint!r}: canary weight {d.canary_weight} is not a percentage in [0, 100].",
                field="canary_weight",
            )
        if d.canary is not None and d.canary == d.primary:
            raise ValidationError(f"Endpoint {d.endpoint!r}: the canary is the primary ({d.primary}).", field="canary")
        for s in d.shadows:
            if not 0 < s.percent <= 100 or math.isnan(s.percent):
                raise ValidationError(
                    f"Endpoint {d.endpoint!r}: shadow {s.ref} mirrors {s.percent}% of requests; use (0, 100].",
                    field="shadows",
                )
        unknown = sorted(set(d.options) - set(OPTION_KEYS))
        if unknown:
            raise ValidationError(
                f"Endpoint {d.endpoint!r}: unknown option(s) {', '.join(unknown)}; known: {', '.join(OPTION_KEYS)}.",
                field="options",
            )
        _check_options(d)


def _check_options(d: Deployment) -> None:
    o = d.options
    sample = o.get("log_sample", 1.0)
    if isinstance(sample, bool) or not isinstance(sample, int | float) or not 0 <= sample <= 1:
        raise ValidationError(f"Endpoint {d.endpoint!r}: log_sample {sample!r} must be in [0, 1].", field="log_sample")
    policy = o.get("rollout_policy")
    if policy is not None and not isinstance(policy, dict):
        raise ValidationError(
            f"Endpoint {d.endpoint!r}: rollout_policy must be an object of rollout policy keys, not {policy!r}.",
            field="rollout_policy",
        )
    for key, low in (("max_batch_size", 1), ("max_batch_wait_ms", 0)):
        value = o.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < low):
            raise ValidationError(f"Endpoint {d.endpoint!r}: {key} {value!r} must be ≥ {low}.", field=key)
    Scaling.from_options(o, endpoint=d.endpoint)


def _from_row(row: Any) -> Deployment:
    return Deployment.from_config(
        row.endpoint, row.config, revision=row.revision, updated_at=row.updated_at, updated_by=row.updated_by
    )
