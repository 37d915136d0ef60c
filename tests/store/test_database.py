from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from weir.errors import ConfigError, StoreUnavailableError
from weir.store import Database
from weir.store.database import HEAD_REVISION, MIGRATIONS
from weir.store.schema import metadata


def test_head_revision_constant_matches_alembic() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION


def test_migrations_create_exactly_the_declared_schema(database_url: str) -> None:
    db = Database(database_url)
    db.migrate()
    assert db.revision() == HEAD_REVISION
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []
    db.migrate()  # idempotent
    assert db.revision() == HEAD_REVISION


def test_sqlite_runs_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'weir.db'}")
    db.migrate()
    with db.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_write_rolls_back_on_error(database_url: str) -> None:
    db = Database(database_url)
    db.migrate()
    with pytest.raises(RuntimeError), db.write() as conn:
        conn.execute(sa.text("UPDATE audit_head SET seq = 99"))
        raise RuntimeError("crash mid-transaction")
    with db.read() as conn:
        assert conn.execute(sa.text("SELECT seq FROM audit_head")).scalar() == 0


def _migrate(url: str) -> str | None:
    db = Database(url)
    db.migrate()
    return db.revision()


def test_concurrent_first_start_migrates_once(database_url: str) -> None:
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        assert pool.map(_migrate, [database_url] * 4) == [HEAD_REVISION] * 4


def test_unreachable_database_is_a_clear_error() -> None:
    db = Database("postgresql+psycopg://weir:secret@127.0.0.1:1/weir", timeout=2)
    with pytest.raises(StoreUnavailableError) as caught:
        db.check()
    assert "127.0.0.1:1" in caught.value.message and "WEIR_DATABASE_URL" in caught.value.message
    assert "secret" not in caught.value.message


@pytest.mark.parametrize(
    ("url", "needle"),
    [("not a url", "not a valid SQLAlchemy URL"), ("mysql://x@localhost/db", "SQLite and PostgreSQL")],
)
def test_bad_database_urls_name_the_problem(url: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        Database(url)
