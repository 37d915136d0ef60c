"""The dashboard: server-rendered pages at ``/ui`` over the same components the REST API serves.

Every asset ships in the package (no CDN, no Node). Viewing needs the ``read`` scope and actions the
``deploy`` scope (with ``auth`` on, a browser signs in once at ``/ui/login`` with an API token, kept in
an HttpOnly, SameSite=Strict cookie); every form carries a double-submit CSRF token; every action lands
in the audit log with the user.
"""

from __future__ import annotations

from weir.ui.app import create_ui

__all__ = ["create_ui"]
