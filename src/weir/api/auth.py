"""Bearer tokens and scopes on every route.

Every route declares the scope it needs: control-plane routes through ``dependencies=[scope(...)]``,
inference routes through :func:`scoped`; ``PUBLIC`` marks the few that need none (health probes).
A test walks the application's routes and fails on any that declares nothing.

With ``auth = auto`` (the default) a token is required as soon as one has been created (revoking
them all does not switch it off again); ``on`` always
requires one, ``off`` never does. The acting user recorded in the audit log is the token's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import Depends, Request

from weir.errors import AuthenticationError, PermissionDeniedError
from weir.registry.tokens import SCOPES, TokenTable

PUBLIC = "public"


class Auth:
    """Checks a request's ``Authorization: Bearer …`` header against the current token table."""

    def __init__(self, mode: str, tokens: Callable[[], TokenTable], default_actor: str) -> None:
        self.mode = mode
        self.tokens = tokens
        self.default_actor = default_actor

    def required(self) -> bool:
        return self.mode == "on" or (self.mode == "auto" and self.tokens().issued)

    def check(self, headers: Mapping[str, str], scope: str) -> str:
        """The acting user's name, or raise 401/403 naming what is missing."""
        if scope == PUBLIC or not self.required():
            return self.default_actor
        header = headers.get("authorization", "")
        kind, _, secret = header.partition(" ")
        if kind.lower() != "bearer" or not secret:
            raise AuthenticationError(
                "This server requires an API token: send 'Authorization: Bearer <token>' "
                "(create one with `weir tokens create NAME --scope predict`)."
            )
        token = self.tokens().lookup(secret.strip())
        if token is None:
            raise AuthenticationError("The API token is unknown, revoked or expired.")
        if not token.allows(scope):
            raise PermissionDeniedError(
                f"Token {token.name!r} has scopes {', '.join(token.scopes)}; this needs {scope!r}.",
                needed=scope,
            )
        return token.name


class Guard:
    """A FastAPI dependency that enforces one scope and records the actor on ``request.state``."""

    def __init__(self, scope: str) -> None:
        if scope not in (*SCOPES, PUBLIC):
            raise ValueError(f"unknown scope {scope!r}")
        self.scope = scope

    def __call__(self, request: Request) -> str:
        auth: Auth = request.app.state.auth
        actor = auth.check(request.headers, self.scope)
        request.state.actor = actor
        return actor


def scope(name: str) -> Any:
    """``dependencies=[scope("read")]`` on a control-plane route."""
    return Depends(Guard(name))


def scoped(name: str, endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Mark an inference route's endpoint function with the scope it checks."""
    if name not in (*SCOPES, PUBLIC):
        raise ValueError(f"unknown scope {name!r}")
    endpoint.weir_scope = name  # type: ignore[attr-defined]
    return endpoint


def declared_scope(route: Any) -> str | None:
    """The scope a route declares, or ``None`` (which a test turns into a failure)."""
    for dependency in getattr(getattr(route, "dependant", None), "dependencies", ()):
        if isinstance(dependency.call, Guard):
            return dependency.call.scope
    return getattr(getattr(route, "endpoint", None), "weir_scope", None)
