"""The REST control plane (layer 5): FastAPI routes over the registry, one error shape on the wire."""

from __future__ import annotations

from weir.api.app import create_app

__all__ = ["create_app"]
