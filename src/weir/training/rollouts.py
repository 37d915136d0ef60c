"""Progressive rollout: shadow → canary steps → promote, with automatic rollback.

A rollout moves one candidate version onto an endpoint. :meth:`Rollouts.tick` judges the current phase
from the prediction log (:mod:`weir.training.rollout_analysis`) and then, in **one** write transaction
with the deployment change, records the analysis and moves on: shadow to the first canary step, each
step to the next, and the last one (100 %) is the promotion, in one deployment revision so that one
rollback undoes it. A primary that follows an alias, such as ``churn@champion``, keeps following it and
the alias moves to the candidate; a pinned primary is replaced by the candidate.

``failure_limit`` failed analyses roll it back (canary and shadow removed: 0 % of traffic);
``inconclusive_limit`` inconclusive ones in a row pause it for a person. A paused rollout holds its
traffic but is still watched: a failure rolls it back. Because the state and the traffic move together,
and only if neither moved since the analysis read them, a process killed at any moment leaves either the
old step or the new one, both already checked; the next tick goes on from there. A deployment changed by
someone else mid-rollout (its canary or shadow no longer the candidate's, or another primary) aborts
the rollout without touching traffic again. Every move is in the deployment history and the audit log.

>>> import tempfile
>>> from sklearn.linear_model import LogisticRegression
>>> import weir
>>> ws = weir.connect(home=tempfile.mkdtemp())
>>> X, y = [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]
>>> _ = ws.models.register("churn", LogisticRegression().fit(X, y), aliases=["champion"])
>>> v2 = ws.models.register("churn", LogisticRegression(C=0.5).fit(X, y))
>>> _ = ws.models.add_validation(v2.ref, "gate", passed=True)
>>> _ = ws.deployments.deploy("churn", "churn@champion")
>>> r = ws.rollouts.start("churn", "churn/2", {"steps": [50, 100], "min_seconds": 0})
>>> r.state, r.phase, ws.deployments.get("churn").shadows[0].ref
('running', 'shadow', 'churn/2')
>>> r = ws.rollouts.promote_now(r.id)
>>> r.state, ws.models.get_model("churn").aliases["champion"]
('succeeded', 2)
>>> ws.close()
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from weir.errors import ConflictError, NotFoundError, ValidationError
from weir.registry import Deployment, Deployments, Shadow, parse_ref
from weir.store import PredictionLog
from weir.store.schema import rollout_steps, rollouts
from weir.training.rollout_analysis import FAILED, SUCCESSFUL, Analysis, analyse
from weir.training.rollout_policy import RolloutPolicy
from weir.types import JSONDict

logger = logging.getLogger(__name__)

ACTIVE = ("running", "paused")
QUIET_SECONDS = 60.0
STATES = (*ACTIVE, "succeeded", "rolled_back", "aborted")


@dataclass(frozen=True)
class Rollout:
    id: int
    endpoint: str
    model: str
    version: int
    primary_version: int
    state: str
    phase: str  # shadow, canary or done
    step: int  # index into policy.steps during the canary phase
    phase_started_at: datetime
    failures: int
    inconclusive: int
    policy: RolloutPolicy
    reason: str
    created_at: datetime
    created_by: str
    updated_at: datetime

    @property
    def candidate(self) -> str:
        return f"{self.model}/{self.version}"

    @property
    def weight(self) -> float:
        """The candidate's share of live traffic now (0 while it shadows)."""
        if self.phase == "canary":
            return self.policy.steps[self.step]
        return 100.0 if self.state == "succeeded" else 0.0

    def to_dict(self) -> JSONDict:
        out = {k: v for k, v in self.__dict__.items() if k != "policy"}
        out.update(candidate=self.candidate, weight=self.weight, policy=self.policy.to_dict())
        for key in ("phase_started_at", "created_at", "updated_at"):
            out[key] = out[key].isoformat()
        return out


class Rollouts:
    def __init__(self, deployments: Deployments, log: PredictionLog | None) -> None:
        self.deployments = deployments
        self.registry = deployments.registry
        self.db = deployments.db
        self.log = log

    # --- reading ---------------------------------------------------------------------------------

    def get(self, rollout_id: int) -> Rollout:
        with self.db.read() as conn:
            return self._get(conn, rollout_id)

    def _get(self, conn: Connection, rollout_id: int) -> Rollout:
        row = conn.execute(sa.select(rollouts).where(rollouts.c.id == rollout_id)).first()
        if row is None:
            raise NotFoundError(f"No rollout {rollout_id}; `weir rollouts list` shows them.")
        return _from_row(row)

    def list_rollouts(self, endpoint: str | None = None, *, active: bool = False) -> list[Rollout]:
        query = sa.select(rollouts).order_by(rollouts.c.id.desc())
        if endpoint is not None:
            query = query.where(rollouts.c.endpoint == endpoint)
        if active:
            query = query.where(rollouts.c.state.in_(ACTIVE))
        with self.db.read() as conn:
            return [_from_row(r) for r in conn.execute(query).all()]

    def steps(self, rollout_id: int) -> list[JSONDict]:
        """Every analysis and action of a rollout, oldest first."""
        with self.db.read() as conn:
            self._get(conn, rollout_id)
            rows = conn.execute(
                sa.select(rollout_steps).where(rollout_steps.c.rollout_id == rollout_id).order_by(rollout_steps.c.id)
            ).all()
        return [
            {
                "at": r.at.isoformat(),
                "phase": r.phase,
                "weight": r.weight,
                "status": r.status,
                "action": r.action,
                **r.analysis,
            }
            for r in rows
        ]

    # --- starting and manual control ---------------------------------------------------------------

    def start(
        self,
        endpoint: str,
        candidate: str,
        policy: RolloutPolicy | JSONDict | None = None,
        *,
        force: bool = False,
        reason: str = "",
        actor: str | None = None,
    ) -> Rollout:
        """Begin rolling ``candidate`` (``model/version`` or ``model@alias``) out on ``endpoint`` under
        ``policy`` (default: the deployment's option ``rollout_policy``, else the defaults). The candidate
        must have passed its validation (``force`` skips that check, and says so in the rollout's reason)."""
        version = self.registry.get_version(candidate)
        deployment = self.deployments.get(endpoint)
        if policy is None:  # the deployment's own policy (option rollout_policy), else the defaults
            policy = deployment.options.get("rollout_policy")
        policy = policy if isinstance(policy, RolloutPolicy) else RolloutPolicy.from_dict(policy)
        primary = self.registry.get_version(deployment.primary)
        if primary.model != version.model:
            raise ValidationError(
                f"Endpoint {endpoint!r} serves model {primary.model!r}; a rollout compares versions of one model, so "
                f"{version.ref} cannot be rolled out there. Deploy it with `weir deploy` instead."
            )
        if primary.version == version.version:
            raise ConflictError(f"{version.ref} already is the primary of endpoint {endpoint!r}; nothing to roll out.")
        if not force:
            self._check_validated(version.ref)
        actor = actor or self.registry.actor
        now = datetime.now(UTC)
        ref = version.ref
        with self.db.write() as conn:
            running = conn.execute(
                sa.select(rollouts.c.id).where(rollouts.c.endpoint == endpoint, rollouts.c.state.in_(ACTIVE))
            ).first()
            if running is not None:
                raise ConflictError(
                    f"Endpoint {endpoint!r} already has rollout {running.id} in progress; abort it or let it finish "
                    f"(`weir rollouts abort {running.id}`)."
                )
            current = self.deployments.get_in(conn, endpoint)
            if current.canary is not None:
                raise ConflictError(
                    f"Endpoint {endpoint!r} already sends {current.canary_weight:g} % to canary {current.canary}; "
                    "promote or roll it back before starting a rollout."
                )
            rollout_id: int = conn.execute(
                rollouts.insert().values(
                    endpoint=endpoint,
                    model=version.model,
                    version=version.version,
                    primary_version=primary.version,
                    state="running",
                    phase="shadow" if policy.shadow else "canary",
                    step=0,
                    phase_started_at=now,
                    failures=0,
                    inconclusive=0,
                    policy=policy.to_dict(),
                    reason=reason or ("forced" if force else ""),
                    created_at=now,
                    created_by=actor,
                    updated_at=now,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            note = f"rollout {rollout_id} of {ref}"
            if policy.shadow:
                self._deploy(
                    conn,
                    endpoint,
                    "set_shadow",
                    lambda d: _with_shadow(d, ref, policy.shadow_percent),
                    f"{note}: shadow phase",
                    actor,
                )
                weight = 0.0
            else:
                weight = policy.steps[0]
                self._deploy(
                    conn,
                    endpoint,
                    "set_canary",
                    lambda d: replace(d, canary=ref, canary_weight=weight),
                    f"{note}: canary {weight:g} %",
                    actor,
                )
            self._step(
                conn,
                rollout_id,
                "shadow" if policy.shadow else "canary",
                weight,
                "started",
                "start",
                {"primary": primary.ref, "forced": force},
                actor,
            )
            rollout = self._get(conn, rollout_id)
        logger.info("rollout %d: %s on %s started (%s)", rollout.id, ref, endpoint, rollout.phase)
        return rollout

    def _check_validated(self, ref: str) -> None:
        records = self.registry.validations(ref)
        failed = [r.name for r in records if not r.passed]
        if failed:
            raise ConflictError(
                f"{ref} failed validation ({', '.join(failed)}); a version that failed validation is never rolled "
                "out. Train a better one, or pass force=True (--force) to override."
            )
        if not records:
            raise ConflictError(
                f"{ref} has no validation record; run it through the gate (`weir train`) first, or pass "
                "force=True (--force) to roll it out unvalidated."
            )

    def pause(self, rollout_id: int, *, reason: str = "", actor: str | None = None) -> Rollout:
        return self._set_state(rollout_id, "paused", ("running",), "pause", reason, actor)

    def resume(self, rollout_id: int, *, reason: str = "", actor: str | None = None) -> Rollout:
        """Resume a paused rollout; the current phase is judged afresh from now."""
        return self._set_state(rollout_id, "running", ("paused",), "resume", reason, actor)

    def abort(self, rollout_id: int, *, reason: str = "", actor: str | None = None) -> Rollout:
        """Stop now and take all traffic off the candidate."""
        return self._finish(rollout_id, "aborted", reason or "aborted by hand", actor, None)

    def promote_now(self, rollout_id: int, *, reason: str = "", actor: str | None = None) -> Rollout:
        """Skip the remaining phases and promote the candidate now."""
        return self._finish(rollout_id, "succeeded", reason or "promoted by hand", actor, None)

    # --- the automatic part ---------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> list[Rollout]:
        """Judge every active rollout once and move the ones whose evidence is in; returns those changed. A
        paused rollout is still watched: it holds its traffic, but a failure still rolls it back."""
        changed = []
        for rollout in self.list_rollouts(active=True):
            try:
                moved = self.advance(rollout.id, now)
            except Exception:  # one broken rollout never stops the others
                logger.exception("rollout %d could not be analysed", rollout.id)
                continue
            if moved is not None:
                changed.append(moved)
        return changed

    def advance(self, rollout_id: int, now: datetime | None = None) -> Rollout | None:
        """Analyse one active rollout and act; ``None`` when it stays where it is."""
        now = now or datetime.now(UTC)
        rollout = self.get(rollout_id)
        if rollout.state not in ACTIVE:
            return None
        changed = self._changed_outside(rollout, self.deployments.get(rollout.endpoint))
        if changed:
            return self._finish(rollout.id, "aborted", changed, None, None, touch_traffic=False)
        analysis = self.analyse(rollout, now)
        policy = rollout.policy
        if analysis.status == FAILED:
            if rollout.failures + 1 >= policy.failure_limit:
                return self._finish(rollout.id, "rolled_back", "analysis failed", None, analysis, expect=rollout)
            return self._update(rollout, analysis, "hold", now, failures=rollout.failures + 1, phase_started_at=now)
        if rollout.state == "paused":
            return None
        waited = (now - rollout.phase_started_at).total_seconds()
        if analysis.status == SUCCESSFUL:
            if waited >= (policy.shadow_seconds if rollout.phase == "shadow" else policy.min_seconds):
                return self._next(rollout, analysis, now)
            self._update(rollout, analysis, "wait", now)  # passing, but the phase's minimum time is not over
            return None
        if rollout.inconclusive + 1 >= policy.inconclusive_limit:
            return self._update(rollout, analysis, "pause", now, state="paused", inconclusive=0)
        self._update(rollout, analysis, "hold", now, inconclusive=rollout.inconclusive + 1)
        return None

    def _changed_outside(self, rollout: Rollout, d: Deployment, conn: Connection | None = None) -> str | None:
        """Why the deployment no longer is what this rollout left it as, or None."""
        if not _matches(rollout, d):
            return "the deployment was changed outside the rollout"
        ref = parse_ref(d.primary)
        primary = self.registry.resolve_in(conn, ref) if conn is not None else self.registry.get_version(ref).version
        if (ref.name, primary) != (rollout.model, rollout.primary_version):
            return f"the primary changed to {ref.name}/{primary} during the rollout"
        return None

    def analyse(self, rollout: Rollout, now: datetime | None = None) -> Analysis:
        """The analysis of the current phase, from the log rows since the phase began."""
        if self.log is None:
            raise ValidationError("This workspace keeps no prediction log; a rollout cannot be analysed.")
        rows = self.log.read(rollout.endpoint, start=rollout.phase_started_at, end=now, with_labels=True)
        return analyse(
            rows,
            candidate=(rollout.model, rollout.version),
            primary=(rollout.model, rollout.primary_version),
            phase=rollout.phase,
            policy=rollout.policy,
        )

    # --- transitions (each one write transaction: state, traffic, history and audit together) ----------

    def _next(self, rollout: Rollout, analysis: Analysis, now: datetime) -> Rollout:
        steps = rollout.policy.steps
        step = 0 if rollout.phase == "shadow" else rollout.step + 1
        weight = steps[step]
        if weight >= 100:  # the last step is the promotion: at 100 % nothing would be left to compare with
            return self._finish(rollout.id, "succeeded", "every phase passed", None, analysis, expect=rollout)
        ref = rollout.candidate

        def move(d: Deployment) -> Deployment:
            return replace(_without_shadow(d, ref), canary=ref, canary_weight=weight)

        return self._update(
            rollout,
            analysis,
            f"canary {weight:g} %",
            now,
            phase="canary",
            step=step,
            failures=0,
            inconclusive=0,
            deployment=move,
        )

    def _update(
        self,
        rollout: Rollout,
        analysis: Analysis,
        action: str,
        now: datetime,
        *,
        deployment: Callable[[Deployment], Deployment] | None = None,
        **values: Any,
    ) -> Rollout:
        """Record an analysis and act on it in one transaction, provided nothing moved since it was read."""
        if "phase" in values:
            values["phase_started_at"] = now  # the next window starts where this analysis ended
        quiet = action in ("hold", "wait")
        with self.db.write() as conn:
            current = self._get(conn, rollout.id)
            if (current.state, current.phase, current.step, current.updated_at) != (
                rollout.state,
                rollout.phase,
                rollout.step,
                rollout.updated_at,
            ):
                raise ConflictError(f"Rollout {rollout.id} changed while it was analysed; the next tick retries.")
            changed = self._changed_outside(current, self.deployments.get_in(conn, rollout.endpoint), conn)
            if changed:
                raise ConflictError(f"Rollout {rollout.id}: {changed}; the next tick aborts it.")
            if deployment is not None:
                self._deploy(conn, rollout.endpoint, "set_canary", deployment, f"rollout {rollout.id}: {action}",
                             self.registry.actor)  # fmt: skip
            conn.execute(rollouts.update().where(rollouts.c.id == rollout.id).values(updated_at=now, **values))
            new = self._get(conn, rollout.id)
            if not (quiet and self._repeats(conn, rollout.id, action, analysis.status, now)):
                self._step(conn, rollout.id, rollout.phase, rollout.weight, analysis.status, action,
                           analysis.to_dict(), self.registry.actor, audit=not quiet)  # fmt: skip
        if not quiet:
            logger.info("rollout %d (%s on %s): %s after %s", rollout.id, rollout.candidate, rollout.endpoint, action,
                        analysis.status)  # fmt: skip
        return new

    @staticmethod
    def _repeats(conn: Connection, rollout_id: int, action: str, status: str, now: datetime) -> bool:
        """Whether the last recorded step already says the same, less than ``QUIET_SECONDS`` ago (a held
        rollout is analysed every tick; its history keeps one row a minute)."""
        last = conn.execute(
            sa.select(rollout_steps.c.action, rollout_steps.c.status, rollout_steps.c.at)
            .where(rollout_steps.c.rollout_id == rollout_id)
            .order_by(rollout_steps.c.id.desc())
            .limit(1)
        ).first()
        return (
            last is not None
            and (last.action, last.status) == (action, status)
            and (now - last.at).total_seconds() < QUIET_SECONDS
        )

    def _set_state(
        self, rollout_id: int, state: str, allowed: tuple[str, ...], action: str, reason: str, actor: str | None
    ) -> Rollout:
        actor = actor or self.registry.actor
        now = datetime.now(UTC)
        with self.db.write() as conn:
            rollout = self._get(conn, rollout_id)
            if rollout.state not in allowed:
                raise ConflictError(
                    f"Rollout {rollout_id} is {rollout.state}; only a {' or '.join(allowed)} one can {action}."
                )
            values: JSONDict = {"state": state, "updated_at": now, "inconclusive": 0}
            if action == "resume":
                values["phase_started_at"] = now
            conn.execute(rollouts.update().where(rollouts.c.id == rollout_id).values(**values))
            self._step(conn, rollout_id, rollout.phase, rollout.weight, state, action, {"reason": reason}, actor)
            return self._get(conn, rollout_id)

    def _finish(
        self,
        rollout_id: int,
        state: str,
        reason: str,
        actor: str | None,
        analysis: Analysis | None,
        *,
        expect: Rollout | None = None,
        touch_traffic: bool = True,
    ) -> Rollout:
        """End a rollout: ``succeeded`` promotes the candidate; any other end takes its traffic away."""
        actor = actor or self.registry.actor
        now = datetime.now(UTC)
        with self.db.write() as conn:
            rollout = self._get(conn, rollout_id)
            if rollout.state not in ACTIVE:
                raise ConflictError(f"Rollout {rollout_id} already ended ({rollout.state}).")
            if expect is not None:  # an automatic decision: only on the state it was made from
                changed = self._changed_outside(rollout, self.deployments.get_in(conn, rollout.endpoint), conn)
                if rollout.updated_at != expect.updated_at or changed:
                    raise ConflictError(f"Rollout {rollout_id} changed while it was analysed; the next tick retries.")
            ref, note = rollout.candidate, f"rollout {rollout_id} {state.replace('_', ' ')}: {reason}"
            if touch_traffic and state == "succeeded":
                self.deployments.promote_in(conn, rollout.endpoint, candidate=ref, reason=note, actor=actor)
            elif touch_traffic:
                self._deploy(conn, rollout.endpoint, "rollback", lambda d: _without_candidate(d, ref), note, actor)
            conn.execute(
                rollouts.update()
                .where(rollouts.c.id == rollout_id)
                .values(state=state, phase="done", updated_at=now, reason=reason)
            )
            detail = analysis.to_dict() if analysis is not None else {"reason": reason}
            status = analysis.status if analysis is not None else state
            self._step(conn, rollout_id, rollout.phase, rollout.weight, status, state, detail, actor)
            ended = self._get(conn, rollout_id)
        logger.info("rollout %d (%s on %s) %s: %s", rollout_id, ref, rollout.endpoint, state, reason)
        return ended

    def _deploy(
        self,
        conn: Connection,
        endpoint: str,
        action: str,
        change: Callable[[Deployment], Deployment],
        why: str,
        actor: str,
    ) -> None:
        self.deployments.change_in(conn, endpoint, action, change, reason=why, actor=actor)

    def _step(
        self,
        conn: Connection,
        rollout_id: int,
        phase: str,
        weight: float,
        status: str,
        action: str,
        analysis: JSONDict,
        actor: str,
        *,
        audit: bool = True,
    ) -> None:
        now = datetime.now(UTC)
        conn.execute(
            rollout_steps.insert().values(
                rollout_id=rollout_id,
                at=now,
                phase=phase,
                weight=weight,
                status=status,
                action=action,
                analysis=analysis,
            )
        )
        if audit:
            self.registry.audit.append(
                conn,
                actor=actor,
                action=f"rollout.{action.split(' ')[0]}",
                entity=f"rollout:{rollout_id}",
                after={"phase": phase, "weight": weight, "status": status, "action": action},
            )


def _matches(rollout: Rollout, d: Deployment) -> bool:
    ref = rollout.candidate
    if rollout.phase == "shadow":
        return any(s.ref == ref for s in d.shadows)
    return d.canary == ref and d.canary_weight == rollout.weight


def _with_shadow(d: Deployment, ref: str, percent: float) -> Deployment:
    return replace(d, shadows=(*_without_shadow(d, ref).shadows, Shadow(ref, percent)))


def _without_shadow(d: Deployment, ref: str) -> Deployment:
    return replace(d, shadows=tuple(s for s in d.shadows if s.ref != ref))


def _without_candidate(d: Deployment, ref: str) -> Deployment:
    d = _without_shadow(d, ref)
    return replace(d, canary=None, canary_weight=0.0) if d.canary == ref else d


def _from_row(row: Any) -> Rollout:
    return Rollout(
        row.id,
        row.endpoint,
        row.model,
        row.version,
        row.primary_version,
        row.state,
        row.phase,
        row.step,
        row.phase_started_at,
        row.failures,
        row.inconclusive,
        RolloutPolicy.from_dict(row.policy),
        row.reason,
        row.created_at,
        row.created_by,
        row.updated_at,
    )
