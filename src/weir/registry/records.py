"""The registry's value objects, as callers receive them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

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


def _jsonable(data: dict[str, Any]) -> JSONDict:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()}
