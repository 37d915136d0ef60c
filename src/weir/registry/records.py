"""The registry's value objects, as callers receive them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy.engine import Row

from weir.errors import ValidationError
from weir.registry.signature import Signature
from weir.types import JSONDict


@dataclass(frozen=True)
class Model:
    name: str
    description: str
    latest_version: int
    created_at: datetime
    created_by: str
    aliases: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> JSONDict:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class ModelVersion:
    model: str
    version: int
    format: str
    format_metadata: JSONDict
    artifacts: dict[str, JSONDict]
    signature: Signature | None
    params: JSONDict
    metrics: JSONDict
    tags: dict[str, str]
    lineage: JSONDict
    description: str
    created_at: datetime
    created_by: str
    aliases: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.model}/{self.version}"

    @property
    def model_artifact(self) -> JSONDict:
        """The artifact the format loads (``{"path", "digest", "size"}``)."""
        return self.artifacts["model"]

    @classmethod
    def from_row(cls, name: str, row: Row[Any], alias_names: tuple[str, ...]) -> ModelVersion:
        """A version from its ``model_versions`` row."""
        return cls(
            model=name,
            version=row.version,
            format=row.format,
            format_metadata=row.format_metadata,
            artifacts=row.artifacts,
            signature=Signature.from_dict(row.signature) if row.signature else None,
            params=row.params,
            metrics=row.metrics,
            tags=row.tags,
            lineage=row.lineage,
            description=row.description,
            created_at=row.created_at,
            created_by=row.created_by,
            aliases=alias_names,
        )

    def to_dict(self) -> JSONDict:
        data = asdict(self)
        data["signature"] = self.signature.to_dict() if self.signature else None
        data["aliases"] = list(self.aliases)
        return _jsonable(data)


@dataclass(frozen=True)
class AliasMove:
    model: str
    alias: str
    version: int | None
    previous_version: int | None
    moved_at: datetime
    moved_by: str
    reason: str

    def to_dict(self) -> JSONDict:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class ValidationRecord:
    id: int
    model: str
    version: int
    name: str
    passed: bool
    metrics: JSONDict
    evidence: JSONDict
    created_at: datetime
    created_by: str

    def to_dict(self) -> JSONDict:
        return _jsonable(asdict(self))


def json_safe(values: Mapping[str, Any] | None) -> JSONDict:
    """A JSON-safe copy of user-supplied metadata (numpy values become Python ones); anything else is refused.

    >>> import numpy as np
    >>> json_safe({"auc": np.float64(0.5), "sizes": np.arange(2)})
    {'auc': 0.5, 'sizes': [0, 1]}
    """

    def convert(value: Any, where: str) -> Any:
        if isinstance(value, np.generic | np.ndarray):
            value = value.tolist()
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationError(f"{where} is {value}; only finite numbers can be stored (use null for missing).")
        if isinstance(value, Mapping):
            return {str(k): convert(v, f"{where}.{k}") for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [convert(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if value is None or isinstance(value, str | int | float | bool):
            return value
        raise ValidationError(f"{where} is a {type(value).__name__}; store strings, numbers, lists or dicts.")

    return {str(k): convert(v, str(k)) for k, v in (values or {}).items()}


def _jsonable(data: dict[str, Any]) -> JSONDict:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()}


@dataclass(frozen=True)
class Shadow:
    ref: str
    percent: float


@dataclass(frozen=True)
class Deployment:
    """What an endpoint serves. Refs are kept as written (``churn@champion`` follows the alias)."""

    endpoint: str
    primary: str
    canary: str | None = None
    canary_weight: float = 0.0
    shadows: tuple[Shadow, ...] = ()
    route_key: str | None = None
    """A request field whose value picks the canary stickily (the ``x-weir-route-key`` header always does)."""
    options: JSONDict = field(default_factory=dict)
    revision: int = 0
    updated_at: datetime | None = None
    updated_by: str = ""

    def config(self) -> JSONDict:
        return {
            "primary": self.primary,
            "canary": self.canary,
            "canary_weight": self.canary_weight,
            "shadows": [{"ref": s.ref, "percent": s.percent} for s in self.shadows],
            "route_key": self.route_key,
            "options": dict(self.options),
        }

    @classmethod
    def from_config(cls, endpoint: str, config: Mapping[str, Any], **meta: Any) -> Deployment:
        return cls(
            endpoint=endpoint,
            primary=config["primary"],
            canary=config.get("canary"),
            canary_weight=float(config.get("canary_weight", 0.0)),
            shadows=tuple(Shadow(s["ref"], float(s["percent"])) for s in config.get("shadows", ())),
            route_key=config.get("route_key"),
            options=dict(config.get("options", {})),
            **meta,
        )

    def refs(self) -> list[str]:
        return [self.primary, *([self.canary] if self.canary else []), *(s.ref for s in self.shadows)]

    def to_dict(self) -> JSONDict:
        return {
            "endpoint": self.endpoint,
            **self.config(),
            "revision": self.revision,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "updated_by": self.updated_by,
        }


@dataclass(frozen=True)
class DeploymentChange:
    endpoint: str
    revision: int
    action: str
    config: JSONDict | None
    changed_at: datetime
    changed_by: str
    reason: str

    def to_dict(self) -> JSONDict:
        return {**self.__dict__, "changed_at": self.changed_at.isoformat()}
