"""The model registry: models, immutable numbered versions, aliases, validation records.

Every change happens in one write transaction together with its audit entry, so a crash leaves
either the whole change or none of it. Artifacts are stored (content-addressed, fsynced) before
the transaction that refers to them commits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from weir import events
from weir.errors import (
    AliasNotFoundError,
    ModelNotFoundError,
    UntrustedArtifactError,
    ValidationError,
    VersionNotFoundError,
)
from weir.registry import aliases as alias_ops
from weir.registry import examples, formats
from weir.registry.audit import AuditLog
from weir.registry.lineage import code_version, data_fingerprint
from weir.registry.records import AliasMove, Model, ModelVersion, ValidationRecord, json_safe
from weir.registry.refs import ModelRef, check_alias, check_name, parse_ref
from weir.registry.signature import Signature, resolve_signature
from weir.store import ArtifactStore, Database
from weir.store.schema import model_versions, models, validation_records
from weir.types import JSONDict, ModelInput

logger = logging.getLogger(__name__)


class ModelRegistry:
    """Register, find, load and alias model versions.

    >>> import tempfile, numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from weir.store import ArtifactStore, Database
    >>> db = Database("sqlite://"); db.migrate()
    >>> reg = ModelRegistry(db, ArtifactStore(tempfile.mkdtemp()), actor="ada")
    >>> X = np.arange(8.0).reshape(4, 2)
    >>> v = reg.register("demo", LinearRegression().fit(X, X.sum(axis=1)), input_example=X)
    >>> v.ref, v.format
    ('demo/1', 'sklearn')
    >>> reg.load("demo@latest").predict([[1.0, 2.0]]).round(6).tolist()
    [3.0]
    """

    def __init__(
        self,
        db: Database,
        artifacts: ArtifactStore,
        *,
        actor: str = "unknown",
        bus: events.EventBus | None = None,
        audit_key: str | None = None,
    ) -> None:
        self.db = db
        self.artifacts = artifacts
        self.actor = actor
        self.bus = bus or events.EventBus()
        self.audit = AuditLog(db, key=audit_key)

    # --- registering -------------------------------------------------------------------------

    def register(
        self,
        name: str,
        model: object,
        *,
        format: str | None = None,
        input_example: ModelInput | None = None,
        signature: Signature | Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
        description: str = "",
        training_data: Any = None,
        data_fingerprint: str | None = None,
        feature_service: str | None = None,
        feature_service_version: int | None = None,
        code_path: str | None = ".",
        parent: int | str | None = None,
        aliases: Iterable[str] = (),
        trust_pickle: bool = False,
        actor: str | None = None,
    ) -> ModelVersion:
        """Store ``model`` as the next version of ``name`` (created on first use)."""
        check_name(name)
        alias_names = [check_alias(a) for a in aliases]
        fmt = formats.get(format) if format else formats.detect(model)
        if fmt.requires_trust and not trust_pickle:
            raise UntrustedArtifactError(
                f"Format {fmt.name!r} can run arbitrary code when loaded; pass trust_pickle=True to "
                "register it anyway (the trust is recorded in the audit log)."
            )
        saved = fmt.save(model)
        loaded = fmt.load(saved.data, saved.metadata, trusted=trust_pickle)
        outputs = None if input_example is None else _check_round_trip(model, loaded, input_example)
        sig = resolve_signature(signature, input_example, outputs)
        actor = actor or self.actor
        lineage: JSONDict = {
            "data_fingerprint": data_fingerprint or (_fingerprint(training_data)),
            "feature_service": feature_service,
            "feature_service_version": feature_service_version,
            "code": code_version(code_path) if code_path is not None else None,
            "parent_version": None,
        }
        digest = self.artifacts.put_bytes(saved.data)
        stored: dict[str, JSONDict] = {"model": {"path": saved.filename, "digest": digest, "size": len(saved.data)}}
        encoded = None if input_example is None else examples.encode(input_example)
        if encoded is not None:
            data, filename = encoded
            stored["input_example"] = {"path": filename, "digest": self.artifacts.put_bytes(data), "size": len(data)}

        with self.db.write() as conn:
            model_id = self._model_id(conn, name, create=True, actor=actor)
            if parent is not None:
                lineage["parent_version"] = self._resolve_in(conn, name, model_id, _as_ref(name, parent))
            number = conn.execute(
                models.update()
                .where(models.c.id == model_id)
                .values(latest_version=models.c.latest_version + 1)
                .returning(models.c.latest_version)
            ).scalar_one()
            now = datetime.now(UTC)
            row = {
                "model_id": model_id,
                "version": number,
                "format": fmt.name,
                "format_metadata": saved.metadata,
                "artifacts": stored,
                "signature": sig.to_dict() if sig else None,
                "params": json_safe(params),
                "metrics": json_safe(metrics),
                "tags": {str(k): str(v) for k, v in (tags or {}).items()},
                "lineage": lineage,
                "description": description,
                "created_at": now,
                "created_by": actor,
            }
            conn.execute(model_versions.insert().values(**row))
            after = {k: row[k] for k in ("format", "artifacts", "signature", "params", "metrics", "tags", "lineage")}
            if fmt.requires_trust:
                after["trusted_pickle"] = True
            self.audit.append(
                conn, actor=actor, action="version.register", entity=f"model:{name}/{number}", after=after
            )
            for alias in alias_names:
                alias_ops.move(
                    conn,
                    self.audit,
                    model=name,
                    model_id=model_id,
                    alias=alias,
                    version=number,
                    actor=actor,
                    reason="set at registration",
                )
            version = self._version(conn, name, model_id, number)
        logger.info("registered %s (%s, artifact %s)", version.ref, fmt.name, digest[:12])
        self.bus.emit(events.ModelVersionRegistered(name, number, fmt.name, actor))
        for alias in alias_names:
            self.bus.emit(events.AliasMoved(name, alias, number, None, actor))
        return version

    def _model_id(self, conn: Connection, name: str, *, create: bool = False, actor: str = "") -> int:
        model_id = conn.execute(sa.select(models.c.id).where(models.c.name == name)).scalar()
        if model_id is not None:
            return int(model_id)
        if not create:
            raise ModelNotFoundError(f"Model {name!r} does not exist{_suggest(conn, name)}")
        model_id = conn.execute(
            models.insert()
            .values(name=name, description="", latest_version=0, created_at=datetime.now(UTC), created_by=actor)
            .returning(models.c.id)
        ).scalar_one()
        self.audit.append(conn, actor=actor, action="model.create", entity=f"model:{name}", after={"name": name})
        return int(model_id)

    # --- reading -----------------------------------------------------------------------------

    def list_models(self) -> list[Model]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(models).order_by(models.c.name)).all()
            return [self._model(conn, row) for row in rows]

    def get_model(self, name: str) -> Model:
        check_name(name)
        with self.db.read() as conn:
            row = conn.execute(sa.select(models).where(models.c.name == name)).first()
            if row is None:
                raise ModelNotFoundError(f"Model {name!r} does not exist{_suggest(conn, name)}")
            return self._model(conn, row)

    def _model(self, conn: Connection, row: Row[Any]) -> Model:
        return Model(
            row.name,
            row.description,
            row.latest_version,
            row.created_at,
            row.created_by,
            alias_ops.all_for_model(conn, row.id),
        )

    def versions(self, name: str) -> list[ModelVersion]:
        check_name(name)
        with self.db.read() as conn:
            model_id = self._model_id(conn, name)
            rows = conn.execute(
                sa.select(model_versions)
                .where(model_versions.c.model_id == model_id)
                .order_by(model_versions.c.version)
            ).all()
            names = _aliases_by_version(alias_ops.all_for_model(conn, model_id))
            return [ModelVersion.from_row(name, r, names.get(r.version, ())) for r in rows]

    def get_version(self, ref: str | ModelRef) -> ModelVersion:
        """A version by reference: ``name``, ``name/3`` or ``name@alias``."""
        parsed = parse_ref(ref) if isinstance(ref, str) else ref
        with self.db.read() as conn:
            model_id = self._model_id(conn, parsed.name)
            number = self._resolve_in(conn, parsed.name, model_id, parsed)
            return self._version(conn, parsed.name, model_id, number)

    def resolve_in(self, conn: Connection, ref: ModelRef) -> int:
        """The version number ``ref`` names now, inside the caller's transaction."""
        return self._resolve_in(conn, ref.name, self._model_id(conn, ref.name), ref)

    def resolve_versions(self, refs: Iterable[str]) -> dict[str, ModelVersion]:
        """Every ref resolved to its version in one consistent read (what serving routes to)."""
        out: dict[str, ModelVersion] = {}
        with self.db.read() as conn:
            for ref in refs:
                parsed = parse_ref(ref)
                model_id = self._model_id(conn, parsed.name)
                number = self._resolve_in(conn, parsed.name, model_id, parsed)
                out[ref] = self._version(conn, parsed.name, model_id, number)
        return out

    def move_alias_in(
        self, conn: Connection, name: str, alias: str, version: int | None, *, actor: str, reason: str
    ) -> int | None:
        """Move an alias inside the caller's transaction; returns the version it pointed to before."""
        move = alias_ops.move(
            conn,
            self.audit,
            model=name,
            model_id=self._model_id(conn, name),
            alias=alias,
            version=version,
            actor=actor,
            reason=reason,
        )
        return move.previous_version

    def _resolve_in(self, conn: Connection, name: str, model_id: int, ref: ModelRef) -> int:
        if ref.alias is not None:
            number = alias_ops.current(conn, model_id, ref.alias)
            if number is None:
                known = ", ".join(alias_ops.all_for_model(conn, model_id)) or "none"
                raise AliasNotFoundError(
                    f"Model {name!r} has no alias {ref.alias!r} (aliases: {known}); set it with "
                    f"`weir models alias {name} {ref.alias} VERSION`."
                )
            return number
        latest = conn.execute(sa.select(models.c.latest_version).where(models.c.id == model_id)).scalar_one()
        if ref.version is None:
            if latest == 0:
                raise VersionNotFoundError(f"Model {name!r} has no versions yet; register one first.")
            return int(latest)
        if not 1 <= ref.version <= latest:
            raise VersionNotFoundError(
                f"Model {name!r} has no version {ref.version}; "
                + (f"latest is {latest}." if latest else "it has no versions yet.")
            )
        return ref.version

    def _version(self, conn: Connection, name: str, model_id: int, number: int) -> ModelVersion:
        row = conn.execute(
            sa.select(model_versions).where(model_versions.c.model_id == model_id, model_versions.c.version == number)
        ).one()
        names = _aliases_by_version(alias_ops.all_for_model(conn, model_id))
        return ModelVersion.from_row(name, row, names.get(number, ()))

    def load(self, ref: str | ModelRef, *, trust_pickle: bool = False, actor: str | None = None) -> formats.LoadedModel:
        """Load a version, its artifact verified by SHA-256; inputs are checked against its signature."""
        version = self.get_version(ref)
        fmt = formats.get(version.format)
        if fmt.requires_trust:
            if not trust_pickle:
                raise UntrustedArtifactError(
                    f"{version.ref} is a pickle, which can run arbitrary code when loaded; pass "
                    "trust_pickle=True only if you trust whoever registered it."
                )
            with self.db.write() as conn:
                self.audit.append(
                    conn, actor=actor or self.actor, action="version.load_trusted_pickle", entity=f"model:{version.ref}"
                )
        data = self.artifacts.get_bytes(version.model_artifact["digest"])
        loaded = fmt.load(data, version.format_metadata, trusted=trust_pickle)
        loaded.signature, loaded.ref = version.signature, version.ref
        return loaded

    def input_example(self, ref: str | ModelRef | ModelVersion) -> Any:
        """The input example stored with a version (a DataFrame or an array), or ``None``."""
        version = ref if isinstance(ref, ModelVersion) else self.get_version(ref)
        stored = version.artifacts.get("input_example")
        if stored is None:
            return None
        return examples.decode(self.artifacts.get_bytes(stored["digest"]), stored["path"])

    # --- aliases -----------------------------------------------------------------------------

    def set_alias(
        self, name: str, alias: str, version: int | str, *, reason: str = "", actor: str | None = None
    ) -> AliasMove:
        check_alias(alias)
        actor = actor or self.actor
        with self.db.write() as conn:
            model_id = self._model_id(conn, check_name(name))
            number = self._resolve_in(conn, name, model_id, _as_ref(name, version))
            move = alias_ops.move(
                conn, self.audit, model=name, model_id=model_id, alias=alias, version=number, actor=actor, reason=reason
            )
        self.bus.emit(events.AliasMoved(name, alias, number, move.previous_version, actor))
        return move

    def delete_alias(self, name: str, alias: str, *, reason: str = "", actor: str | None = None) -> AliasMove:
        check_alias(alias)
        actor = actor or self.actor
        with self.db.write() as conn:
            model_id = self._model_id(conn, check_name(name))
            move = alias_ops.move(
                conn, self.audit, model=name, model_id=model_id, alias=alias, version=None, actor=actor, reason=reason
            )
        self.bus.emit(events.AliasMoved(name, alias, None, move.previous_version, actor))
        return move

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        if alias is not None:
            check_alias(alias)
        with self.db.read() as conn:
            return alias_ops.history(conn, name, self._model_id(conn, check_name(name)), alias)

    def alias_at(self, name: str, alias: str, when: datetime) -> int | None:
        """Which version ``alias`` pointed to at time ``when`` (``None`` if none)."""
        with self.db.read() as conn:
            return alias_ops.at(conn, self._model_id(conn, check_name(name)), check_alias(alias), when)

    # --- validation records ------------------------------------------------------------------

    def add_validation(
        self,
        ref: str | ModelRef,
        name: str,
        *,
        passed: bool,
        metrics: Mapping[str, Any] | None = None,
        evidence: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> ValidationRecord:
        if not name or len(name) > 200:
            raise ValidationError("A validation record needs a name of 1-200 characters, such as 'gate'.")
        parsed = parse_ref(ref) if isinstance(ref, str) else ref
        actor = actor or self.actor
        with self.db.write() as conn:
            model_id = self._model_id(conn, parsed.name)
            number = self._resolve_in(conn, parsed.name, model_id, parsed)
            version_id = conn.execute(
                sa.select(model_versions.c.id).where(
                    model_versions.c.model_id == model_id, model_versions.c.version == number
                )
            ).scalar_one()
            now = datetime.now(UTC)
            record_id = conn.execute(
                validation_records.insert()
                .values(
                    version_id=version_id,
                    name=name,
                    passed=bool(passed),
                    metrics=json_safe(metrics),
                    evidence=json_safe(evidence),
                    created_at=now,
                    created_by=actor,
                )
                .returning(validation_records.c.id)
            ).scalar_one()
            self.audit.append(
                conn,
                actor=actor,
                action="validation.record",
                entity=f"model:{parsed.name}/{number}",
                after={"name": name, "passed": bool(passed), "metrics": json_safe(metrics)},
            )
        return ValidationRecord(
            record_id, parsed.name, number, name, bool(passed), json_safe(metrics), json_safe(evidence), now, actor
        )

    def collect_garbage(
        self, *, older_than: float = 3600, dry_run: bool = False, actor: str | None = None
    ) -> list[str]:
        """Delete artifact blobs no version or validation record (``evidence["artifact"]``) refers to (left by
        registrations that failed after writing them).

        Blobs younger than ``older_than`` seconds are kept: a registration may be about to commit them.
        """
        with self.db.read() as conn:
            referenced = {
                artifact["digest"]
                for (artifacts,) in conn.execute(sa.select(model_versions.c.artifacts))
                for artifact in artifacts.values()
            }
            # derived artifacts (such as an edge export's ONNX graph) are named by their validation record
            referenced |= {
                str(evidence["artifact"])
                for (evidence,) in conn.execute(sa.select(validation_records.c.evidence))
                if isinstance(evidence, dict) and evidence.get("artifact")
            }
        removed = self.artifacts.remove_unreferenced(referenced, older_than=older_than, dry_run=dry_run)
        if removed and not dry_run:
            with self.db.write() as conn:
                self.audit.append(
                    conn,
                    actor=actor or self.actor,
                    action="artifacts.gc",
                    entity="artifacts",
                    after={"removed": removed},
                )
            logger.info("removed %d unreferenced artifact(s)", len(removed))
        return removed

    def validations(self, ref: str | ModelRef) -> list[ValidationRecord]:
        version = self.get_version(ref)
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(validation_records)
                .join(model_versions, model_versions.c.id == validation_records.c.version_id)
                .join(models, models.c.id == model_versions.c.model_id)
                .where(models.c.name == version.model, model_versions.c.version == version.version)
                .order_by(validation_records.c.id)
            ).all()
        return [
            ValidationRecord(
                r.id,
                version.model,
                version.version,
                r.name,
                r.passed,
                r.metrics,
                r.evidence,
                r.created_at,
                r.created_by,
            )
            for r in rows
        ]


def _as_ref(name: str, version: int | str) -> ModelRef:
    if isinstance(version, int) and not isinstance(version, bool):
        return ModelRef(name, version=version)
    text = str(version)
    return parse_ref(f"{name}/{text}" if text.isascii() and text.isdigit() else f"{name}@{text.lstrip('@')}")


def _check_round_trip(model: object, loaded: formats.LoadedModel, example: ModelInput) -> Any:
    """Predict ``example`` with the reloaded model; it must agree with the original where that predicts."""
    outputs = loaded.predict(example)
    native_predict = getattr(model, "predict", None)
    try:  # some natives cannot take the example as given (an xgboost Booster wants a DMatrix)
        expected = np.asarray(native_predict(example)) if callable(native_predict) else None
    except (TypeError, ValueError) as exc:
        logger.debug("round-trip check skipped: the original model cannot predict the example (%s)", exc)
        expected = None
    if expected is not None:
        same = (
            np.array_equal(expected, outputs)
            if expected.dtype.kind in "OUSb"
            else np.allclose(expected, outputs, rtol=1e-5, atol=1e-6, equal_nan=True)
        )
        if expected.shape != outputs.shape or not same:
            raise ValidationError(
                "The stored model does not predict like the original on input_example; the format "
                "lost information. Register with another format or report this as a bug."
            )
    return outputs


def _fingerprint(training_data: Any) -> str | None:
    return None if training_data is None else data_fingerprint(training_data)


def _aliases_by_version(mapping: dict[str, int]) -> dict[int, tuple[str, ...]]:
    out: dict[int, tuple[str, ...]] = {}
    for alias, number in mapping.items():
        out[number] = (*out.get(number, ()), alias)
    return out


def _suggest(conn: Connection, name: str) -> str:
    names = [r.name for r in conn.execute(sa.select(models.c.name).order_by(models.c.name).limit(20))]
    if not names:
        return "; no models are registered yet."
    return f"; registered models: {', '.join(names)}."
