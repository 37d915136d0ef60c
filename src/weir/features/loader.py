"""Read definitions from a Python file (``weir features apply PATH``).

The file is run as a module (it is the user's own code, as with ``feast apply``); every
:class:`Entity`, :class:`FeatureView` and :class:`FeatureService` bound to a module-level name is
collected. Relative file-source paths are anchored at the file's folder.
"""

from __future__ import annotations

import runpy
from dataclasses import replace
from pathlib import Path

from weir.errors import ValidationError
from weir.features.definitions import Definition, Entity, FeatureService, FeatureView


def load_definitions(path: str | Path) -> list[Definition]:
    """The definitions a Python file declares, entities first, then views, then services."""
    file = Path(path)
    if file.is_dir():
        files = sorted(p for p in file.glob("*.py") if not p.name.startswith("_"))
    elif file.is_file():
        files = [file]
    else:
        raise ValidationError(f"Definitions file {str(path)!r} does not exist.")
    found: dict[tuple[str, str], Definition] = {}
    for one in files:
        try:
            namespace = runpy.run_path(str(one), run_name=f"weir_definitions_{one.stem}")
        except Exception as exc:  # the user's file: report any failure with its location
            raise ValidationError(f"Definitions file {str(one)!r} failed to run: {type(exc).__name__}: {exc}") from exc
        for value in namespace.values():
            if isinstance(value, Entity | FeatureView | FeatureService):
                if isinstance(value, FeatureView):
                    value = replace(value, source=value.source.resolved(one.parent.resolve()))
                key = (value.kind, value.name)
                if key in found and found[key] != value:
                    raise ValidationError(f"{value.kind} {value.name!r} is defined twice, differently, in {path}.")
                found[key] = value
    if not found:
        raise ValidationError(f"{str(path)!r} defines no Entity, FeatureView or FeatureService.")
    order = {"entity": 0, "view": 1, "service": 2}
    return sorted(found.values(), key=lambda d: (order[d.kind], d.name))
