"""Schema migrations with Alembic, configured in code so no alembic.ini has to be found."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import pool
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from ..files import private_file
from .engine import Database, ensure_sqlite_directory


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "roboscope.db:migrations")
    # Passed as an attribute, not an ini option: ini values treat `%` as interpolation.
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to run on every start (a no-op when current).

    Two `serve` started at once on one data dir both migrate its SQLite file: a file lock
    beside it makes the second wait and then find the schema current.
    """
    ensure_sqlite_directory(database_url)
    with _sqlite_migration_lock(database_url):
        command.upgrade(alembic_config(database_url), revision)


@contextlib.contextmanager
def _sqlite_migration_lock(database_url: str) -> Iterator[None]:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        yield
        return
    lock = private_file(Path(f"{url.database}.migrate-lock"))
    with open(lock, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def head_revision(database_url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


@functools.cache
def code_revision() -> str | None:
    """The newest revision this code knows (read once: the scripts ship with the package)."""
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


async def database_revision(db: Database) -> str | None:
    """The revision the database is at, over the app's own pool (a readiness probe every few
    seconds must not open connections of its own); raises `ServiceUnavailable` when down."""
    async with db.read() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


async def current_revision(database_url: str, connect_timeout: float = 10.0) -> str | None:
    """The revision the database is at (None when it was never migrated); raises when the
    database cannot be reached within `connect_timeout` (a stalled one must not hold `serve`)."""
    is_postgres = make_url(database_url).get_backend_name() == "postgresql"
    engine = create_async_engine(
        database_url,
        poolclass=pool.NullPool,
        connect_args=(
            {"timeout": connect_timeout, "command_timeout": connect_timeout} if is_postgres else {}
        ),
    )
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


def schema_is_current(database_url: str) -> bool:
    return asyncio.run(current_revision(database_url)) == head_revision(database_url)
