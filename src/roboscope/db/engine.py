"""The database handle: one async engine, transactions, and failures mapped to domain errors.

SQLite needs two things PostgreSQL does not: write transactions start with `BEGIN IMMEDIATE`
(a deferred transaction that reads first and writes later can fail with "database is
locked" without waiting, even with a busy timeout), and foreign keys are switched on per
connection. Reads keep a plain deferred `BEGIN` so they never queue behind writers (WAL).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ..errors import Conflict, RoboscopeError, ServiceUnavailable

_READ_ONLY = "roboscope_read_only"


class InvalidValue(RoboscopeError):
    status = 422
    code = "invalid_value"


@contextmanager
def _translate_errors() -> Iterator[None]:
    """Turn driver failures into the errors clients are promised (409, 422, 503)."""
    try:
        yield
    except exc.IntegrityError as error:
        raise Conflict("the change conflicts with existing data") from error
    except exc.DataError as error:
        raise InvalidValue("a value cannot be stored") from error
    except (exc.OperationalError, exc.InterfaceError, exc.TimeoutError) as error:
        raise ServiceUnavailable("database") from error
    except exc.DBAPIError as error:
        if error.connection_invalidated:
            raise ServiceUnavailable("database") from error
        raise
    except (TimeoutError, OSError) as error:
        raise ServiceUnavailable("database") from error


class Database:
    """Owns the engine; `transaction()` for writes, `read()` for reads."""

    def __init__(self, url: str | URL, *, timeout: float = 5.0) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.engine: AsyncEngine = create_async_engine(self.url, **self._engine_options(timeout))
        if self.is_sqlite:
            _configure_sqlite(self.engine)

    def _engine_options(self, timeout: float) -> dict[str, Any]:
        if self.is_sqlite:
            ensure_sqlite_directory(self.url)
            # `timeout` is SQLite's busy timeout: how long a writer waits for another.
            return {"connect_args": {"timeout": 20}}
        return {
            "pool_pre_ping": True,
            "pool_size": 10,
            "max_overflow": 20,
            "pool_timeout": timeout,
            # Every request must finish within the clients' 30 s timeout.
            "connect_args": {"timeout": timeout, "command_timeout": 20},
        }

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        with _translate_errors():
            async with self.engine.begin() as conn:
                yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only unit of work that never takes SQLite's write lock."""
        with _translate_errors():
            async with self.engine.connect() as conn:
                if self.is_sqlite:
                    await conn.execution_options(**{_READ_ONLY: True})
                yield conn

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(5), self.read() as conn:
                await conn.execute(text("SELECT 1"))
        except (ServiceUnavailable, TimeoutError):
            return False
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()


def ensure_sqlite_directory(url: str | URL) -> None:
    """SQLite creates the file but not its folder (the data dir on a first start)."""
    url = make_url(url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so `_on_begin` decides how to BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
