"""Features as code: entities, feature views and feature services.

>>> from datetime import timedelta
>>> driver = Entity("driver", join_keys={"driver_id": "int64"})
>>> stats = FeatureView(
...     "driver_stats", entities=[driver], source=ParquetSource("driver_stats.parquet"),
...     event_time="event_timestamp", fields={"conv_rate": "float64", "trips": "int64"},
...     ttl=timedelta(days=2))
>>> stats.refs()
['driver_stats:conv_rate', 'driver_stats:trips']
>>> FeatureService("churn", features=[stats]).to_spec()["features"]
['driver_stats:conv_rate', 'driver_stats:trips']
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson

from weir.errors import ValidationError
from weir.features.dtypes import check_dtype
from weir.features.sources import CsvSource, ParquetSource, Source, SqlSource, source_from_spec
from weir.types import JSONDict

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
RESERVED_PREFIX = "__"

__all__ = ["CsvSource", "Entity", "FeatureService", "FeatureView", "ParquetSource", "SqlSource"]


def check_identifier(name: Any, *, what: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or name.startswith(RESERVED_PREFIX):
        raise ValidationError(
            f"{what} name {name!r} is not valid: use letters, digits and underscores, starting with a letter "
            "(names starting with '__' are reserved)."
        )
    return name


def _typed(columns: Mapping[str, str], *, what: str) -> dict[str, str]:
    if not isinstance(columns, Mapping) or not columns:
        raise ValidationError(f"{what} needs at least one column, as a mapping of name to type.")
    return {
        check_identifier(name, what=f"{what} column"): check_dtype(dtype, where=f"{what} column {name!r}")
        for name, dtype in columns.items()
    }


def digest(spec: JSONDict) -> str:
    return hashlib.sha256(orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True)
class Entity:
    """What features describe (a driver, a customer): a name and its join keys with their types."""

    name: str
    join_keys: Mapping[str, str]
    description: str = ""
    kind = "entity"

    def __post_init__(self) -> None:
        check_identifier(self.name, what="Entity")
        keys = _typed(self.join_keys, what=f"Entity {self.name!r} join key")
        for key, dtype in keys.items():
            if dtype not in ("int32", "int64", "string"):
                raise ValidationError(f"Entity {self.name!r} join key {key!r} is {dtype}; use int32, int64 or string.")
        object.__setattr__(self, "join_keys", keys)

    def to_spec(self) -> JSONDict:
        return {"join_keys": dict(self.join_keys), "description": self.description}

    @classmethod
    def from_spec(cls, name: str, spec: JSONDict) -> Entity:
        return cls(name, join_keys=spec["join_keys"], description=spec.get("description", ""))


@dataclass(frozen=True)
class FeatureView:
    """Typed features of one or more entities, read from a source with an event-time column.

    A row is valid from its ``event_time`` on; ``ttl`` bounds how old it may be when joined or served
    (``timedelta(0)``: unbounded). ``created_time`` breaks ties between rows with equal event times
    (the later created wins). ``online=False`` keeps the view out of the online store.
    """

    name: str
    entities: Sequence[Entity]
    source: Source
    event_time: str
    fields: Mapping[str, str]
    created_time: str | None = None
    ttl: timedelta = timedelta(0)
    online: bool = True
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    kind = "view"

    def __post_init__(self) -> None:
        check_identifier(self.name, what="FeatureView")
        where = f"FeatureView {self.name!r}"
        if isinstance(self.entities, Entity):
            object.__setattr__(self, "entities", (self.entities,))
        if not self.entities or not all(isinstance(e, Entity) for e in self.entities):
            raise ValidationError(f"{where} needs entities=[Entity(...), ...].")
        object.__setattr__(self, "entities", tuple(self.entities))
        if not isinstance(self.source, ParquetSource | CsvSource | SqlSource):
            raise ValidationError(f"{where} source must be a ParquetSource, CsvSource or SqlSource.")
        fields = _typed(self.fields, what=f"{where} field")
        keys = self.join_keys()
        for name in fields:
            if name in keys:
                raise ValidationError(f"{where} field {name!r} is also a join key; remove it from fields.")
        object.__setattr__(self, "fields", fields)
        check_identifier(self.event_time, what=f"{where} event_time")
        if self.created_time is not None:
            check_identifier(self.created_time, what=f"{where} created_time")
        if not isinstance(self.ttl, timedelta) or self.ttl < timedelta(0):
            raise ValidationError(f"{where} ttl must be a non-negative timedelta (timedelta(0) for unbounded).")
        object.__setattr__(self, "tags", {str(k): str(v) for k, v in dict(self.tags).items()})

    def join_keys(self) -> dict[str, str]:
        keys: dict[str, str] = {}
        for entity in self.entities:
            for key, dtype in entity.join_keys.items():
                if keys.setdefault(key, dtype) != dtype:
                    raise ValidationError(
                        f"FeatureView {self.name!r}: join key {key!r} has two types ({keys[key]}, {dtype})."
                    )
        return keys

    def refs(self) -> list[str]:
        return [f"{self.name}:{f}" for f in self.fields]

    def to_spec(self) -> JSONDict:
        return {
            "entities": [e.name for e in self.entities],
            "join_keys": self.join_keys(),
            "source": self.source.to_spec(),
            "event_time": self.event_time,
            "created_time": self.created_time,
            "fields": dict(self.fields),
            "ttl_seconds": self.ttl.total_seconds(),
            "online": self.online,
            "description": self.description,
            "tags": dict(self.tags),
        }

    @classmethod
    def from_spec(cls, name: str, spec: JSONDict, entities: Mapping[str, Entity]) -> FeatureView:
        return cls(
            name,
            entities=[entities[e] for e in spec["entities"]],
            source=source_from_spec(spec["source"]),
            event_time=spec["event_time"],
            created_time=spec.get("created_time"),
            fields=spec["fields"],
            ttl=timedelta(seconds=spec.get("ttl_seconds", 0)),
            online=spec.get("online", True),
            description=spec.get("description", ""),
            tags=spec.get("tags", {}),
        )


@dataclass(frozen=True)
class FeatureService:
    """The named set of features a model consumes: whole views, or ``"view:feature"`` references."""

    name: str
    features: Sequence[FeatureView | str]
    description: str = ""
    kind = "service"

    def __post_init__(self) -> None:
        check_identifier(self.name, what="FeatureService")
        if isinstance(self.features, FeatureView | str) or not self.features:
            raise ValidationError(f"FeatureService {self.name!r} needs features=[view or 'view:feature', ...].")
        object.__setattr__(self, "features", tuple(self.features))
        refs = self.refs()
        if len(set(refs)) != len(refs):
            raise ValidationError(f"FeatureService {self.name!r} lists a feature twice.")

    def refs(self) -> list[str]:
        refs: list[str] = []
        for item in self.features:
            if isinstance(item, FeatureView):
                refs.extend(item.refs())
            else:
                refs.append(":".join(parse_ref(item)))
        return refs

    def to_spec(self) -> JSONDict:
        return {"features": self.refs(), "description": self.description}

    @classmethod
    def from_spec(cls, name: str, spec: JSONDict) -> FeatureService:
        return cls(name, features=list(spec["features"]), description=spec.get("description", ""))


Definition = Entity | FeatureView | FeatureService


def parse_ref(ref: Any) -> tuple[str, str]:
    """``"view:feature"`` → ``("view", "feature")``."""
    if isinstance(ref, str) and ref.count(":") == 1:
        view, feature = ref.split(":")
        if _NAME.match(view) and _NAME.match(feature):
            return view, feature
    raise ValidationError(f"Feature reference {ref!r} is not 'view:feature' (for example 'driver_stats:conv_rate').")


def group_refs(refs: Iterable[str]) -> dict[str, list[str]]:
    """Feature references grouped by view, in first-seen order."""
    grouped: dict[str, list[str]] = {}
    for ref in refs:
        view, feature = parse_ref(ref)
        grouped.setdefault(view, []).append(feature)
    return grouped
