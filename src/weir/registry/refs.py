"""Model references: ``churn`` (latest), ``churn/3`` (a version), ``churn@champion`` (an alias).

>>> parse_ref("churn@champion")
ModelRef(name='churn', version=None, alias='champion')
>>> parse_ref("churn/3").version
3
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from weir.errors import ValidationError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
ALIAS_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,99}$")
RESERVED_ALIASES = frozenset({"latest"})


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}/{self.version}"
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValidationError(
            f"Model name {name!r} is invalid: use 1-200 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return name


def check_alias(alias: str) -> str:
    if not isinstance(alias, str) or not ALIAS_PATTERN.match(alias):
        raise ValidationError(
            f"Alias {alias!r} is invalid: use 1-100 letters, digits, '_' or '-', starting with a letter."
        )
    if alias in RESERVED_ALIASES:
        raise ValidationError(f"Alias {alias!r} is reserved (it always means the newest version); pick another name.")
    return alias


def parse_ref(ref: str) -> ModelRef:
    """Parse ``name``, ``name/VERSION`` or ``name@ALIAS`` (``name@latest`` is the newest version)."""
    if not isinstance(ref, str) or not ref:
        raise ValidationError(f"Model reference {ref!r} is empty; use NAME, NAME/VERSION or NAME@ALIAS.")
    if "@" in ref:
        name, alias = ref.split("@", 1)
        check_name(name)
        if alias == "latest":
            return ModelRef(name)
        return ModelRef(name, alias=check_alias(alias))
    if "/" in ref:
        name, version = ref.split("/", 1)
        check_name(name)
        if not (version.isascii() and version.isdigit()) or int(version) < 1:
            raise ValidationError(f"Version {version!r} in {ref!r} must be a positive whole number, as in {name}/3.")
        return ModelRef(name, version=int(version))
    return ModelRef(check_name(ref))
