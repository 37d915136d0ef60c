"""Storage (layer 1): the metadata database and the content-addressed artifact store."""

from __future__ import annotations

from weir.store.artifacts import ArtifactStore
from weir.store.database import Database

__all__ = ["ArtifactStore", "Database"]
