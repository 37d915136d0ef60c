"""API tokens with scopes. Only the SHA-256 of a token is stored; the token itself is shown once.

Scopes: ``predict`` (inference), ``read`` (the control plane's GET routes), ``deploy`` (change
deployments and aliases; includes ``read``) and ``admin`` (everything, including tokens).

>>> import tempfile, weir
>>> ws = weir.connect(home=tempfile.mkdtemp())
>>> token, secret = ws.tokens.create("ci", ["predict"])
>>> secret.startswith("weir_"), token.scopes
(True, ('predict',))
>>> ws.tokens.table().lookup(secret).allows("predict"), ws.tokens.table().lookup(secret).allows("deploy")
(True, False)
>>> ws.tokens.revoke("ci").revoked_at is not None
True
>>> ws.tokens.table().lookup(secret) is None
True
>>> ws.close()
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from weir.errors import ConflictError, NotFoundError, ValidationError
from weir.registry.models import ModelRegistry
from weir.registry.refs import NAME_PATTERN
from weir.store import Database
from weir.store.schema import api_tokens
from weir.types import JSONDict

SCOPES = ("predict", "read", "deploy", "admin")
_IMPLIES = {"admin": set(SCOPES), "deploy": {"deploy", "read"}, "read": {"read"}, "predict": {"predict"}}
PREFIX = "weir_"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Token:
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    created_by: str
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def allows(self, scope: str) -> bool:
        return any(scope in _IMPLIES[s] for s in self.scopes)

    def active(self, now: datetime | None = None) -> bool:
        now = now or datetime.now(UTC)
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def to_dict(self) -> JSONDict:
        return {
            "name": self.name,
            "scopes": list(self.scopes),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "active": self.active(),
        }


class TokenTable:
    """An in-memory snapshot of the active tokens by digest: what a server checks on each request.

    ``issued`` tells whether any token was ever created: with ``auth = auto``, revoking the last
    token must not switch authentication off.
    """

    def __init__(self, by_digest: dict[str, Token], *, issued: bool = False) -> None:
        self.by_digest = by_digest
        self.issued = issued or bool(by_digest)

    def __len__(self) -> int:
        return len(self.by_digest)

    def lookup(self, secret: str) -> Token | None:
        token = self.by_digest.get(digest(secret))
        return token if token is not None and token.active() else None


class Tokens:
    """Create, list and revoke API tokens (each change is audited; the secret never is)."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    @property
    def db(self) -> Database:
        return self.registry.db

    def create(
        self,
        name: str,
        scopes: Iterable[str],
        *,
        expires_in: timedelta | None = None,
        actor: str | None = None,
    ) -> tuple[Token, str]:
        """A new token and its secret (shown once: only its SHA-256 is stored)."""
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise ValidationError(f"Token name {name!r} is invalid: use 1-200 letters, digits, '.', '_' or '-'.")
        wanted = tuple(dict.fromkeys(scopes))
        unknown = [s for s in wanted if s not in SCOPES]
        if not wanted or unknown:
            raise ValidationError(
                f"Token scopes {list(wanted)!r} are invalid; choose one or more of {', '.join(SCOPES)}.",
                field="scopes",
            )
        if expires_in is not None and expires_in <= timedelta(0):
            raise ValidationError(f"expires_in must be positive, not {expires_in}.", field="expires_in")
        actor = actor or self.registry.actor
        secret = PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        token = Token(name, wanted, now, actor, now + expires_in if expires_in else None)
        with self.db.write() as conn:
            if conn.execute(sa.select(api_tokens.c.id).where(api_tokens.c.name == name)).first():
                raise ConflictError(f"A token named {name!r} exists; revoke it or pick another name.")
            conn.execute(
                api_tokens.insert().values(
                    name=name,
                    digest=digest(secret),
                    scopes=list(wanted),
                    created_at=now,
                    created_by=actor,
                    expires_at=token.expires_at,
                )
            )
            self.registry.audit.append(
                conn, actor=actor, action="token.create", entity=f"token:{name}", after=token.to_dict()
            )
        return token, secret

    def list_tokens(self) -> list[Token]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(api_tokens).order_by(api_tokens.c.name)).all()
        return [_token(r) for r in rows]

    def revoke(self, name: str, *, actor: str | None = None) -> Token:
        actor = actor or self.registry.actor
        now = datetime.now(UTC)
        with self.db.write() as conn:
            row = conn.execute(sa.select(api_tokens).where(api_tokens.c.name == name)).first()
            if row is None:
                raise NotFoundError(f"No token named {name!r}; `weir tokens list` shows them.")
            if row.revoked_at is None:
                conn.execute(api_tokens.update().where(api_tokens.c.name == name).values(revoked_at=now))
                self.registry.audit.append(conn, actor=actor, action="token.revoke", entity=f"token:{name}")
            row = conn.execute(sa.select(api_tokens).where(api_tokens.c.name == name)).one()
        return _token(row)

    def cached(self, max_age: float = 1.0) -> Callable[[], TokenTable]:
        """A function returning the token table, re-read when the database changed (checked at most every
        ``max_age`` seconds): a server answers from memory and sees a revocation within ``max_age``."""
        state: dict[str, Any] = {"checked": -math.inf, "stamp": None, "table": TokenTable({})}
        lock = threading.Lock()

        def current() -> TokenTable:
            now = time.monotonic()
            if now - state["checked"] >= max_age:
                with lock:
                    if now - state["checked"] >= max_age:
                        stamp = self.db.change_stamp()
                        if stamp != state["stamp"]:
                            state["table"], state["stamp"] = self.table(), stamp
                        state["checked"] = now
            table: TokenTable = state["table"]
            return table

        return current

    def table(self) -> TokenTable:
        """The active tokens, for a server to check requests against without a query each."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(api_tokens).where(api_tokens.c.revoked_at.is_(None))).all()
            issued = conn.execute(sa.select(sa.func.count()).select_from(api_tokens)).scalar_one() > 0
        return TokenTable({r.digest: _token(r) for r in rows}, issued=issued)


def _token(row: sa.Row[object]) -> Token:
    r = row._mapping
    return Token(r["name"], tuple(r["scopes"]), r["created_at"], r["created_by"], r["expires_at"], r["revoked_at"])
