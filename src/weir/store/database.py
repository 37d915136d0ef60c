"""The metadata database: engine set-up, write transactions, migrations.

SQLite (the embedded default) runs in WAL mode with ``synchronous=FULL``, so a committed
transaction survives a power cut, and write transactions start with ``BEGIN IMMEDIATE`` so that
concurrent writers queue instead of failing. On PostgreSQL every write transaction first locks
the single ``audit_head`` row: writes are serialised (the audit log is a single hash chain) and
can never deadlock on each other.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from weir.errors import ConfigError, StoreUnavailableError
from weir.store.schema import audit_head

logger = logging.getLogger(__name__)

HEAD_REVISION = "0007"
"""The newest migration; a test checks it matches Alembic's head."""

MIGRATIONS = Path(__file__).with_name("migrations")


class Database:
    """One metadata database. ``read()`` and ``write()`` hand out connections in a transaction.

    >>> db = Database("sqlite://")
    >>> db.migrate()
    >>> with db.read() as conn:
    ...     conn.execute(sa.text("select count(*) from models")).scalar_one()
    0
    """

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise ConfigError(
                f"database_url {url!r} is not a valid SQLAlchemy URL; use sqlite:///path/weir.db "
                "or postgresql+psycopg://user:password@host:5432/db."
            ) from exc
        self.redacted_url = parsed.render_as_string(hide_password=True)
        self.dialect = parsed.get_backend_name()
        if self.dialect not in {"sqlite", "postgresql"}:
            raise ConfigError(
                f"database_url {self.redacted_url!r}: weir supports SQLite and PostgreSQL, not {self.dialect!r}."
            )
        self.sqlite_path: Path | None = None
        if self.dialect == "sqlite" and parsed.database not in (None, "", ":memory:"):
            self.sqlite_path = Path(parsed.database)
            self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine = self._create_engine(url)
        except (NoSuchModuleError, ModuleNotFoundError) as exc:
            raise ConfigError(
                f"No driver for {self.redacted_url!r}: {exc}. For PostgreSQL install "
                "'weir[postgres]' and use postgresql+psycopg://."
            ) from exc

    def _create_engine(self, url: str) -> Engine:
        if self.dialect == "sqlite":
            kwargs: dict[str, Any] = {"connect_args": {"timeout": self.timeout}}
            if self.sqlite_path is None:  # in-memory: one shared connection
                kwargs["poolclass"] = sa.pool.StaticPool
                kwargs["connect_args"]["check_same_thread"] = False
            engine = sa.create_engine(url, **kwargs)
            timeout_ms = int(self.timeout * 1000)

            @sa.event.listens_for(engine, "connect")
            def _on_connect(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
                cursor = dbapi_conn.cursor()
                if self.sqlite_path is not None:
                    cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=FULL")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute(f"PRAGMA busy_timeout={timeout_ms}")
                cursor.close()

            @sa.event.listens_for(engine, "begin")
            def _on_begin(conn: Connection) -> None:
                immediate = conn.get_execution_options().get("weir_write", False)
                conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

            return engine
        return sa.create_engine(
            url,
            pool_pre_ping=True,
            connect_args={"connect_timeout": max(1, int(self.timeout))},
        )

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a read transaction (rolled back on exit)."""
        with self._guard(), self.engine.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a serialised write transaction, committed on success."""
        with self._guard(), self.engine.connect() as conn:
            conn = conn.execution_options(weir_write=True)
            with conn.begin():
                if self.dialect == "postgresql":
                    conn.execute(sa.select(audit_head.c.seq).where(audit_head.c.id == 1).with_for_update())
                yield conn

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise StoreUnavailableError(
                f"The metadata database at {self.redacted_url} did not answer: {reason}. "
                "Check that it is running and that WEIR_DATABASE_URL is right."
            ) from exc

    def check(self) -> None:
        """Raise :class:`StoreUnavailableError` unless the database answers."""
        with self.read() as conn:
            conn.execute(sa.text("SELECT 1"))

    def change_stamp(self) -> int:
        """A number that grows with every committed write (the audit log's head): cheap to poll."""
        with self.read() as conn:
            return int(conn.execute(sa.select(audit_head.c.seq).where(audit_head.c.id == 1)).scalar_one())

    def revision(self) -> str | None:
        with self.read() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    def migrate(self) -> None:
        """Bring the schema to the newest revision (a no-op when it is there already)."""
        if self.revision() == HEAD_REVISION:
            return
        with self._migration_lock(), self._guard(), self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_lock(7411)"))
                conn.commit()
            try:
                from alembic import command
                from alembic.config import Config

                config = Config()
                config.set_main_option("script_location", str(MIGRATIONS))
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
                conn.commit()
            finally:
                if self.dialect == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_unlock(7411)"))
                    conn.commit()
        logger.info("database %s migrated to revision %s", self.redacted_url, HEAD_REVISION)

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        if self.sqlite_path is None:
            yield
            return
        lock_path = self.sqlite_path.with_name(self.sqlite_path.name + ".migrate-lock")
        with lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def dispose(self) -> None:
        self.engine.dispose()
