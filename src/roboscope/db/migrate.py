"""Schema migrations with Alembic, configured in code so no alembic.ini has to be found.

Failures come out as the domain's errors, whatever the driver: a database that cannot be
reached (or does not exist, or refuses the credentials) is `DatabaseUnavailable`, naming it
without its password; a revision alembic does not know is `InvalidInput`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import pool
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from ..errors import DatabaseUnavailable, DowngradeRefused, InvalidInput
from ..files import private_file
from .engine import Database, describe, ensure_sqlite_directory, failure_reason, sqlite_connect_args


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "roboscope.db:migrations")
    # Passed as an attribute, not an ini option: ini values treat `%` as interpolation.
    config.attributes["database_url"] = database_url
    return config


@contextlib.contextmanager
def _reaching(database_url: str) -> Iterator[None]:
    """The driver's failures (and alembic's refusals) as the domain errors above."""
    try:
        yield
    except (DBAPIError, OSError, TimeoutError) as error:
        raise DatabaseUnavailable(describe(database_url), failure_reason(error)) from error
    except CommandError as error:
        raise InvalidInput(str(error)) from error


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to run on every start (a no-op when current).

    Two `serve` started at once on one data dir both migrate its SQLite file: a file lock
    beside it makes the second wait and then find the schema current.
    """
    with _reaching(database_url):
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
    """Undo migrations down to `revision` (an id, or "base"): their tables and columns go."""
    with _reaching(database_url), _sqlite_migration_lock(database_url):
        command.downgrade(alembic_config(database_url), revision)


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


@dataclass(frozen=True)
class Revision:
    id: str
    message: str


def revisions(database_url: str) -> list[Revision]:
    """Every revision this version knows, oldest first (the chain is linear)."""
    script = ScriptDirectory.from_config(alembic_config(database_url))
    found = [Revision(str(r.revision), str(r.doc or "")) for r in script.walk_revisions()]
    return found[::-1]


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands against the revisions of this version."""

    current: str | None  # None: never migrated (or a SQLite file not created yet)
    revisions: list[Revision]
    exists: bool = True
    """False for a SQLite file that is not there (a PostgreSQL database that does not exist
    cannot be asked: `schema_state` raises `DatabaseUnavailable` for it)."""

    @property
    def head(self) -> str | None:
        return self.revisions[-1].id if self.revisions else None

    @property
    def known(self) -> bool:
        """False when a newer version migrated it past anything this version knows."""
        return self.current is None or any(r.id == self.current for r in self.revisions)

    @property
    def is_current(self) -> bool:
        return self.current == self.head


def schema_state(database_url: str, connect_timeout: float = 10.0) -> SchemaState:
    """The database's revision (`DatabaseUnavailable` when it cannot be reached), without
    creating a SQLite file that is not there yet."""
    url = make_url(database_url)
    missing_file = (
        url.get_backend_name() == "sqlite"
        and bool(url.database)
        and url.database != ":memory:"
        and not Path(str(url.database)).exists()
    )
    if missing_file:
        return SchemaState(None, revisions(database_url), exists=False)
    with _reaching(database_url):
        current = asyncio.run(current_revision(database_url, connect_timeout))
    return SchemaState(current, revisions(database_url))


def downgrade_target(state: SchemaState, target: str) -> str:
    """The revision id (or "base") a downgrade to `target` ends at.

    `target` is "base", "-N" (N revisions down) or the exact id of a revision below the
    current one; alembic's other forms (partial ids, "+N", "head") are refused, since a
    downgrade drops data and must say exactly where it goes.
    """
    ids = [revision.id for revision in state.revisions]
    if not state.known:
        raise DowngradeRefused(
            f"the database is at revision {state.current}, which this version does not know "
            "(a newer version migrated it): run that version's `roboscope db downgrade`"
        )
    here = -1 if state.current is None else ids.index(state.current)
    if target == "base":
        return "base"
    if target.startswith("-") and target[1:].isdigit() and int(target[1:]) > 0:
        steps = int(target[1:])
        if here - steps < -1:
            position = "empty" if state.current is None else f"at {state.current}"
            raise DowngradeRefused(
                f"the database is {position}: {target} goes below base "
                f"({here + 1} applied revisions)"
            )
        return "base" if here - steps == -1 else ids[here - steps]
    if target not in ids:
        raise DowngradeRefused(
            f"unknown revision {target!r}; use -1, base or one of {', '.join(ids)} "
            "(see `roboscope db history`)"
        )
    if ids.index(target) > here:
        position = "empty" if state.current is None else f"at {state.current}"
        raise DowngradeRefused(
            f"the database is {position}; {target} is not below it "
            "(`roboscope db upgrade` goes forward)"
        )
    return target


async def current_revision(database_url: str, connect_timeout: float = 10.0) -> str | None:
    """The revision the database is at (None when it was never migrated); raises when the
    database cannot be reached within `connect_timeout` (a stalled one must not hold `serve`)."""
    is_postgres = make_url(database_url).get_backend_name() == "postgresql"
    engine = create_async_engine(
        database_url,
        poolclass=pool.NullPool,
        connect_args=(
            {"timeout": connect_timeout, "command_timeout": connect_timeout}
            if is_postgres
            else sqlite_connect_args()
        ),
    )
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()
