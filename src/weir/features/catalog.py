"""The feature catalog in the metadata database: versioned definitions, watermarks and profiles.

Applying a definition that differs from its latest version stores a new version; applying the same
definition again changes nothing. A change that breaks a consumer (a removed or retyped field or join
key that a feature service, a deployment or a registered model uses) is refused unless ``force``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from weir.errors import BreakingChangeError, FeatureNotFoundError, ValidationError
from weir.features.definitions import Definition, Entity, FeatureService, FeatureView, digest, group_refs
from weir.store import Database
from weir.store.schema import (
    deployments,
    feature_definitions,
    feature_profiles,
    feature_watermarks,
    model_versions,
    models,
)
from weir.types import JSONDict

logger = logging.getLogger(__name__)

KINDS = ("entity", "view", "service")
LABEL = {"entity": "Entity", "view": "FeatureView", "service": "FeatureService"}


@dataclass(frozen=True)
class Applied:
    kind: str
    name: str
    version: int
    status: str  # created | updated | unchanged

    def to_dict(self) -> JSONDict:
        return {"kind": self.kind, "name": self.name, "version": self.version, "status": self.status}


@dataclass(frozen=True)
class Registered:
    kind: str
    name: str
    version: int
    spec: JSONDict
    created_at: datetime
    created_by: str
    digest: str = ""

    def to_dict(self) -> JSONDict:
        return {
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "spec": self.spec,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }


class FeatureCatalog:
    def __init__(self, db: Database, *, actor: str = "unknown") -> None:
        self.db = db
        self.actor = actor

    # --- writing ---------------------------------------------------------------------------------

    def apply(
        self, definitions: Iterable[Definition], *, force: bool = False, actor: str | None = None
    ) -> list[Applied]:
        items = list(definitions)
        actor = actor or self.actor
        results: list[Applied] = []
        with self.db.write() as conn:
            latest = {(r.kind, r.name): r for r in self._latest(conn)}
            pending = {(d.kind, d.name): d.to_spec() for d in items}
            changed = [
                d
                for d in items
                if (d.kind, d.name) not in latest
                or latest[(d.kind, d.name)].digest != digest(pending[(d.kind, d.name)])
            ]
            if not force:  # first, so that a refusal names every consumer, even one defined in the same file
                for item in changed:
                    if (item.kind, item.name) in latest:
                        old = latest[(item.kind, item.name)].spec
                        self._refuse_breaking(conn, item, old, pending[(item.kind, item.name)], latest, pending)
            self._check_references(items, latest, pending)
            for item in items:
                spec = pending[(item.kind, item.name)]
                before = latest.get((item.kind, item.name))
                if item not in changed:
                    assert before is not None
                    results.append(Applied(item.kind, item.name, before.version, "unchanged"))
                    continue
                version = 1 if before is None else before.version + 1
                conn.execute(
                    feature_definitions.insert().values(
                        kind=item.kind,
                        name=item.name,
                        version=version,
                        spec=spec,
                        digest=digest(spec),
                        created_at=datetime.now(UTC),
                        created_by=actor,
                    )
                )
                results.append(Applied(item.kind, item.name, version, "created" if before is None else "updated"))
        for result in results:
            if result.status != "unchanged":
                logger.info("feature %s %s is now version %d", result.kind, result.name, result.version)
        return results

    def _check_references(
        self, items: Sequence[Definition], latest: dict[tuple[str, str], Registered], pending: dict[Any, JSONDict]
    ) -> None:
        def spec_of(kind: str, name: str) -> JSONDict | None:
            if (kind, name) in pending:
                return pending[(kind, name)]
            found = latest.get((kind, name))
            return None if found is None else found.spec

        for item in items:
            if isinstance(item, FeatureView):
                for entity in item.entities:
                    known = spec_of("entity", entity.name)
                    if known is None:
                        raise ValidationError(
                            f"FeatureView {item.name!r} uses entity {entity.name!r}, which is not registered; "
                            "apply it with the view."
                        )
                    if known["join_keys"] != dict(entity.join_keys):
                        raise ValidationError(
                            f"FeatureView {item.name!r} uses entity {entity.name!r} with join keys "
                            f"{dict(entity.join_keys)}, but the registered entity has {known['join_keys']}."
                        )
            if isinstance(item, FeatureService):
                for view, features in group_refs(item.refs()).items():
                    known = spec_of("view", view)
                    if known is None:
                        raise FeatureNotFoundError(
                            f"FeatureService {item.name!r} uses view {view!r}, which is not registered."
                        )
                    missing = [f for f in features if f not in known["fields"]]
                    if missing:
                        raise FeatureNotFoundError(
                            f"FeatureService {item.name!r}: view {view!r} has no feature {missing[0]!r}; "
                            f"it has {', '.join(known['fields'])}."
                        )

    def _refuse_breaking(
        self,
        conn: Connection,
        item: Definition,
        old: JSONDict,
        new: JSONDict,
        latest: dict[tuple[str, str], Registered],
        pending: dict[Any, JSONDict],
    ) -> None:
        broken: list[str] = []  # "view:feature" references that disappear or change type
        if isinstance(item, FeatureView):
            keys_changed = old["join_keys"] != new["join_keys"]
            went_offline = old.get("online", True) and not new.get("online", True)
            for field, dtype in old["fields"].items():
                if keys_changed or went_offline or new["fields"].get(field) != dtype:
                    broken.append(f"{item.name}:{field}")
            services = [
                name
                for (kind, name), reg in latest.items()
                if kind == "service" and any(ref in broken for ref in pending.get((kind, name), reg.spec)["features"])
            ]
            if keys_changed or went_offline:
                why = "changes its join keys" if keys_changed else "goes offline (online=False)"
            else:
                why = "removes or retypes " + ", ".join(r.split(":")[1] for r in broken)
        elif isinstance(item, FeatureService):
            removed = [r for r in old["features"] if r not in new["features"]]
            services = [item.name] if removed else []
            why = "removes " + ", ".join(removed)
        else:
            views = [
                name
                for (kind, name), reg in latest.items()
                if kind == "view" and item.name in reg.spec["entities"] and old["join_keys"] != new["join_keys"]
            ]
            if views:
                raise BreakingChangeError(
                    f"Entity {item.name!r} changes its join keys, which breaks feature views "
                    f"{', '.join(views)}; apply with force=True (--force) to change it anyway."
                )
            return
        if not services:
            return
        consumers = [f"feature service {s!r}" for s in services if s != item.name or item.kind != "service"]
        consumers += [f"deployment {e!r}" for e in _deployments_using(conn, services)]
        consumers += [f"model {m!r}" for m in _models_using(conn, services)]
        if consumers:
            raise BreakingChangeError(
                f"{LABEL[item.kind]} {item.name!r} {why}, which breaks {', '.join(consumers)}; "
                "apply with force=True (--force) to change it anyway.",
                consumers=consumers,
            )

    # --- reading ---------------------------------------------------------------------------------

    def _latest(self, conn: Connection) -> list[Registered]:
        newest = (
            sa.select(
                feature_definitions.c.kind, feature_definitions.c.name, sa.func.max(feature_definitions.c.version)
            )
            .group_by(feature_definitions.c.kind, feature_definitions.c.name)
            .subquery()
        )
        rows = conn.execute(
            sa.select(feature_definitions)
            .join(
                newest,
                sa.and_(
                    feature_definitions.c.kind == newest.c.kind,
                    feature_definitions.c.name == newest.c.name,
                    feature_definitions.c.version == newest.c[2],
                ),
            )
            .order_by(feature_definitions.c.kind, feature_definitions.c.name)
        )
        return [_registered(r) for r in rows]

    def definitions(self, kind: str | None = None) -> list[Registered]:
        with self.db.read() as conn:
            return [r for r in self._latest(conn) if kind is None or r.kind == kind]

    def history(self, kind: str, name: str) -> list[Registered]:
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(feature_definitions)
                .where(feature_definitions.c.kind == kind, feature_definitions.c.name == name)
                .order_by(feature_definitions.c.version)
            ).all()
        if not rows:
            raise self._missing(kind, name)
        return [_registered(r) for r in rows]

    def registered(self, kind: str, name: str, version: int | None = None) -> Registered:
        query = sa.select(feature_definitions).where(
            feature_definitions.c.kind == kind, feature_definitions.c.name == name
        )
        if version is not None:
            query = query.where(feature_definitions.c.version == version)
        with self.db.read() as conn:
            row = conn.execute(query.order_by(feature_definitions.c.version.desc()).limit(1)).first()
        if row is None:
            if version is not None and self.definitions(kind) and any(r.name == name for r in self.definitions(kind)):
                raise FeatureNotFoundError(f"{LABEL[kind]} {name!r} has no version {version}.")
            raise self._missing(kind, name)
        return _registered(row)

    def _missing(self, kind: str, name: str) -> FeatureNotFoundError:
        known = [r.name for r in self.definitions(kind)]
        hint = f"registered: {', '.join(known)}" if known else "none is registered; run `weir features apply PATH`"
        return FeatureNotFoundError(f"{LABEL[kind]} {name!r} does not exist ({hint}).")

    def entity(self, name: str) -> Entity:
        return Entity.from_spec(name, self.registered("entity", name).spec)

    def view(self, name: str) -> FeatureView:
        spec = self.registered("view", name).spec
        return FeatureView.from_spec(name, spec, {e: self.entity(e) for e in spec["entities"]})

    def service(self, name: str) -> tuple[FeatureService, int]:
        found = self.registered("service", name)
        return FeatureService.from_spec(name, found.spec), found.version

    def stamp(self) -> int:
        """Changes whenever a definition is applied (for caches of definitions)."""
        with self.db.read() as conn:
            return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(feature_definitions.c.id), 0))).scalar_one())

    # --- watermarks and profiles -----------------------------------------------------------------

    def watermark(self, view: str) -> datetime | None:
        with self.db.read() as conn:
            value: datetime | None = conn.execute(
                sa.select(feature_watermarks.c.watermark).where(feature_watermarks.c.view == view)
            ).scalar_one_or_none()
        return value

    def set_watermark(self, view: str, when: datetime) -> None:
        now = datetime.now(UTC)
        with self.db.write() as conn:
            updated = conn.execute(
                feature_watermarks.update()
                .where(feature_watermarks.c.view == view)
                .values(watermark=when, updated_at=now)
            ).rowcount
            if not updated:
                conn.execute(feature_watermarks.insert().values(view=view, watermark=when, updated_at=now))

    def reset_watermark(self, view: str) -> None:
        with self.db.write() as conn:
            conn.execute(feature_watermarks.delete().where(feature_watermarks.c.view == view))

    def save_profile(
        self, fingerprint: str, profile: JSONDict, *, rows: int, service: str | None, service_version: int | None
    ) -> None:
        with self.db.write() as conn:
            exists = conn.execute(
                sa.select(feature_profiles.c.fingerprint).where(feature_profiles.c.fingerprint == fingerprint)
            ).first()
            if exists is None:
                conn.execute(
                    feature_profiles.insert().values(
                        fingerprint=fingerprint,
                        service=service,
                        service_version=service_version,
                        rows=rows,
                        profile=profile,
                        created_at=datetime.now(UTC),
                        created_by=self.actor,
                    )
                )

    def profile(self, fingerprint: str) -> JSONDict:
        """The reference profile recorded for a training frame (by its fingerprint)."""
        with self.db.read() as conn:
            row = conn.execute(sa.select(feature_profiles).where(feature_profiles.c.fingerprint == fingerprint)).first()
        if row is None:
            raise FeatureNotFoundError(f"No training frame with fingerprint {fingerprint!r} was recorded.")
        return _profile(row)

    def profiles(self, service: str | None = None, *, limit: int = 100) -> list[JSONDict]:
        """The profiles of the training frames recorded (of one feature service, if named), newest first."""
        query = sa.select(feature_profiles).order_by(
            feature_profiles.c.created_at.desc(), feature_profiles.c.fingerprint
        )
        if service is not None:
            query = query.where(feature_profiles.c.service == service)
        with self.db.read() as conn:
            return [_profile(row) for row in conn.execute(query.limit(limit))]


def _registered(row: Any) -> Registered:
    return Registered(row.kind, row.name, row.version, row.spec, row.created_at, row.created_by, row.digest)


def _profile(row: Any) -> JSONDict:
    return {
        "fingerprint": row.fingerprint,
        "service": row.service,
        "service_version": row.service_version,
        "rows": row.rows,
        "features": row.profile,
        "created_at": row.created_at.isoformat(),
    }


def _deployments_using(conn: Connection, services: list[str]) -> list[str]:
    rows = conn.execute(sa.select(deployments.c.endpoint, deployments.c.config)).all()
    return sorted(r.endpoint for r in rows if (r.config.get("options") or {}).get("feature_service") in services)


def _models_using(conn: Connection, services: list[str]) -> list[str]:
    rows = conn.execute(
        sa.select(models.c.name, model_versions.c.lineage).join(models, models.c.id == model_versions.c.model_id)
    ).all()
    return sorted({r.name for r in rows if (r.lineage or {}).get("feature_service") in services})
