"""The database handle: one async engine, transactions, and failures mapped to domain errors.

SQLite needs three things PostgreSQL does not: write transactions start with `BEGIN IMMEDIATE`
(a deferred transaction that reads first and writes later can fail with "database is
locked" without waiting, even with a busy timeout), foreign keys are switched on per
connection, and a connection rolls back before it closes (`SqliteConnection`: a cancelled
write must not keep the file's write lock). Reads keep a plain deferred `BEGIN` so they never
queue behind writers (WAL).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
import struct
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar
from uuid import UUID

import pydantic_core
from sqlalchemy import event, exc, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from .. import metrics
from ..errors import Conflict, DatabaseUnavailable, InvalidValue, ServiceUnavailable
from ..files import private_dir, private_file

_READ_ONLY = "roboscope_read_only"
_T = TypeVar("_T")

AFTER_COMMIT = "roboscope.after_commit"
"""Key in `AsyncConnection.info`: the set of work session ids a write transaction changed,
handed to the database's `CommitListener` once the transaction committed."""


class CommitListener(Protocol):
    """Who hears that write transactions committed: in a server, the live hub
    (`services.live.LiveHub`), which wakes the streams of the work sessions that changed;
    attached for the app's lifetime with `Database.heard_by` (server/state.py)."""

    def committed(self, session_ids: set[UUID], /) -> None:
        """Called after a successful commit with what the transaction noted under
        AFTER_COMMIT; never for a rollback, never for a transaction that noted nothing."""


# SQLSTATE classes that mean "this database cannot serve now", not "this request is wrong":
# connection exceptions, authorization, a missing database, resources, operator intervention
# (which includes 57014, a statement cancelled by statement_timeout).
_UNAVAILABLE_SQLSTATES = ("08", "28", "3D", "53", "57")
_REASONS = {
    "3D000": "does not exist",
    "28P01": "refuses the credentials",
    "28000": "refuses the credentials",
    "53300": "has too many connections",
    "57P03": "is starting up or shutting down",
    "57014": "did not finish a statement in time",
}


def _sqlstate(error: BaseException) -> str | None:
    seen: BaseException | None = error
    for _ in range(5):
        if seen is None:
            return None
        code = getattr(seen, "sqlstate", None)
        if isinstance(code, str):
            return code
        seen = getattr(seen, "orig", None) or seen.__cause__ or seen.__context__
    return None


def failure_reason(error: BaseException) -> str:
    """A short, password-free reason for a database failure."""
    code = _sqlstate(error)
    if code is not None:
        return _REASONS.get(code, f"SQLSTATE {code}")
    if isinstance(error, TimeoutError | exc.TimeoutError):
        return "does not answer"
    chain: BaseException | None = error
    while chain is not None:
        if isinstance(chain, ConnectionRefusedError):
            return "refuses connections"
        if isinstance(chain, TimeoutError):
            return "does not answer"
        if isinstance(chain, OSError) and chain.strerror:
            return chain.strerror.lower()
        if isinstance(chain, ConnectionError) and str(chain):
            # asyncpg's own, e.g. `PostgreSQL server at "db:5432" rejected SSL upgrade`
            return str(chain).splitlines()[0][:160]
        chain = chain.__cause__ or chain.__context__
    if isinstance(error, exc.DBAPIError) and error.orig is not None:
        return str(error.orig).splitlines()[0][:120] or error.orig.__class__.__name__
    return error.__class__.__name__


def describe(url: str | URL) -> str:
    """`name on host:port` for PostgreSQL, the file for SQLite: what an operator recognizes."""
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    if not url.host and url.query.get("host"):  # several hosts: ?host=a:5432&host=b:5432
        hosts = url.query["host"]
        return f"{url.database} on {','.join([hosts] if isinstance(hosts, str) else hosts)}"
    return f"{url.database} on {url.host or 'localhost'}:{url.port or 5432}"


def describe_failure(url: str | URL, error: BaseException) -> str:
    return DatabaseUnavailable(describe(url), failure_reason(error)).problem


def _stalled(error: BaseException) -> bool:
    """The connection may be stuck mid-conversation: only a reset is safe."""
    if isinstance(error, exc.DBAPIError):
        return error.connection_invalidated or isinstance(error, exc.InterfaceError)
    return isinstance(error, TimeoutError | OSError | asyncio.CancelledError)


async def _guarded(conn: AsyncConnection, step: Awaitable[_T]) -> _T:
    try:
        return await step
    except BaseException as error:
        if _stalled(error):
            await _reset(conn, error)
        raise


async def _reset(conn: AsyncConnection, error: BaseException) -> None:
    """Forget a stuck connection (the pool's invalidate event resets its socket)."""
    with contextlib.suppress(Exception):
        await conn.invalidate(error if isinstance(error, Exception) else None)


# What a socket call raises on a connection the peer already closed: OSError (EBADF) with
# asyncio; with uvloop, which `roboscope serve` runs on, ValueError ("negative file
# descriptor"), as its socket object is rebuilt from a file descriptor that is gone.
_CLOSED_SOCKET_ERRORS = (OSError, ValueError)


def _asyncpg_socket(driver_connection: Any) -> socket.socket | None:
    """The connection's TCP socket, or None once it is closed (a reset by the server)."""
    transport = getattr(driver_connection, "_transport", None)  # asyncpg's
    if transport is None or transport.is_closing():
        return None
    with contextlib.suppress(*_CLOSED_SOCKET_ERRORS):
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            return sock  # type: ignore[no-any-return]
    return None


def _keepalive_on_connect(engine: AsyncEngine, idle_seconds: float) -> None:
    """TCP keepalives on each new connection, so an idle pooled connection to a vanished
    server is found dead in seconds (asyncpg has no option for it)."""
    idle = max(1, int(idle_seconds))

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(_dbapi: Any, record: Any) -> None:
        sock = _asyncpg_socket(record.driver_connection)
        if sock is None:
            return
        with contextlib.suppress(*_CLOSED_SOCKET_ERRORS, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)


def _reset_socket_on_invalidate(engine: AsyncEngine) -> None:
    """An invalidated connection is closed with a TCP reset (SO_LINGER 0), whoever
    invalidated it: a plain close lets the kernel go on delivering what it had sent, so a
    COMMIT held by a partitioned network would be applied after the client got 503.
    A connection the server reset is closed already: nothing is left to discard (and this
    hook runs inside SQLAlchemy's error handling, so it must never raise)."""

    @event.listens_for(engine.sync_engine, "invalidate")
    def _on_invalidate(_dbapi: Any, record: Any, _error: BaseException | None) -> None:
        sock = _asyncpg_socket(record.driver_connection)
        if sock is not None:
            with contextlib.suppress(*_CLOSED_SOCKET_ERRORS):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _is_unavailable(error: BaseException) -> bool:
    code = _sqlstate(error)
    return code is not None and code.startswith(_UNAVAILABLE_SQLSTATES)


class Database:
    """Owns the engine; `transaction()` for writes, `read()` for reads.

    Commits are heard by at most one `CommitListener`, attached with `heard_by` (not at
    construction: the listener, the live hub, reads through this database itself).
    """

    def __init__(self, url: str | URL, *, timeout: float = 5.0) -> None:
        self.url = make_url(url)
        self.description = describe(self.url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self._writers = asyncio.Lock() if self.is_sqlite else None
        self._listener: CommitListener | None = None
        self.engine: AsyncEngine = create_async_engine(self.url, **self._engine_options(timeout))
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        else:
            _keepalive_on_connect(self.engine, timeout)
            _reset_socket_on_invalidate(self.engine)

    def _engine_options(self, timeout: float) -> dict[str, Any]:
        if self.is_sqlite:
            ensure_sqlite_directory(self.url)
            return {"connect_args": sqlite_connect_args(), "json_deserializer": read_json}
        budget_ms = str(int(timeout * 1000))
        return {
            "json_deserializer": read_json,
            "pool_pre_ping": True,
            "pool_size": 10,
            "max_overflow": 20,
            "pool_timeout": timeout,
            "connect_args": {
                # A database that stops answering costs a request about `timeout`, far
                # below the clients' 30 s: the connect, each statement (client side) ...
                "timeout": timeout,
                "command_timeout": timeout,
                # ... and, on the server, a statement or an abandoned transaction, so a
                # transaction this side gave up on is rolled back there and its locks freed.
                "server_settings": {
                    "statement_timeout": budget_ms,
                    "idle_in_transaction_session_timeout": budget_ms,
                    "tcp_keepalives_idle": str(max(1, int(timeout))),
                    "tcp_keepalives_interval": "1",
                    "tcp_keepalives_count": "3",
                },
            },
        }

    @property
    def listener(self) -> CommitListener | None:
        """Who hears this database's commits now (None: nobody, e.g. an admin command)."""
        return self._listener

    @contextmanager
    def heard_by(self, listener: CommitListener) -> Iterator[None]:
        """`listener` hears every commit while the block runs, and nothing after it: the app
        state attaches its live hub here for the hub's lifetime. One listener at a time."""
        if self._listener is not None:
            raise RuntimeError("this database's commits are heard by another listener already")
        self._listener = listener
        try:
            yield
        finally:
            self._listener = None

    @asynccontextmanager
    async def _writer_turn(self) -> AsyncIterator[None]:
        """SQLite runs one write transaction at a time; its writers in this process take
        turns here, in order, instead of polling the file lock with the busy handler (which
        backs off in sleeps of up to 100 ms and made the tail of concurrent writes seconds
        long). Writers of other processes still meet at the file lock."""
        if self._writers is None:
            yield
            return
        async with self._writers:
            yield

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed when the block ends, rolled back if it raises.

        A connection that stalls (a statement or the COMMIT times out, the task is
        cancelled) is reset, not rolled back: a ROLLBACK would wait on the same dead network,
        and a plain close lets the kernel deliver a held COMMIT once the network heals, after
        the client was told 503. The reset discards it; the server's
        idle_in_transaction_session_timeout then rolls the transaction back. On SQLite the
        reset closes the connection, which rolls back first (`SqliteConnection`).

        What the block left in `conn.info` under `AFTER_COMMIT` goes to the `listener` once
        the commit succeeded (and is dropped otherwise).
        """
        with self._translate_errors():
            async with self._writer_turn(), self.engine.connect() as conn:
                # Held from the start: `conn.info` itself raises once a failed statement has
                # invalidated the connection (a client-side timeout), before the reset below.
                info = conn.info
                info.pop(AFTER_COMMIT, None)
                transaction = await _guarded(conn, conn.begin())
                try:
                    yield conn
                except BaseException as error:
                    info.pop(AFTER_COMMIT, None)
                    if _stalled(error):
                        await _reset(conn, error)
                    elif transaction.is_active:
                        await _guarded(conn, transaction.rollback())
                    raise
                notes = info.pop(AFTER_COMMIT, None)
                await _guarded(conn, transaction.commit())
        if notes and self._listener is not None:
            self._listener.committed(notes)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncConnection]:
        """A read whose statements all see one snapshot of the database (PostgreSQL's
        REPEATABLE READ; SQLite's WAL read transaction does that already), so a cursor and
        the rows read after it agree exactly."""
        with self._translate_errors():
            async with self.engine.connect() as conn:
                if self.is_sqlite:
                    await conn.execution_options(**{_READ_ONLY: True})
                else:
                    await conn.execution_options(isolation_level="REPEATABLE READ")
                try:
                    async with conn.begin():
                        yield conn
                except BaseException as error:
                    if _stalled(error):  # returning it to the pool would wait on it again
                        await _reset(conn, error)
                    raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only unit of work that never takes SQLite's write lock."""
        with self._translate_errors():
            async with self.engine.connect() as conn:
                if self.is_sqlite:
                    await conn.execution_options(**{_READ_ONLY: True})
                try:
                    yield conn
                except BaseException as error:
                    if _stalled(error):  # returning it to the pool would wait on it again
                        await _reset(conn, error)
                    raise

    async def check(self) -> str | None:
        """None when the database answers, else why not (for /health)."""
        try:
            async with asyncio.timeout(5), self.read() as conn:
                await conn.execute(text("SELECT 1"))
        except DatabaseUnavailable as error:
            return error.reason
        except (ServiceUnavailable, TimeoutError):
            return "does not answer"
        return None

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        """Turn driver failures into the errors clients are promised (409, 422, 503)."""
        try:
            yield
        except exc.IntegrityError as error:
            raise Conflict("the change conflicts with existing data") from error
        except exc.DataError as error:
            raise InvalidValue("a value cannot be stored") from error
        except (exc.OperationalError, exc.InterfaceError, exc.TimeoutError) as error:
            raise self._unavailable(error) from error
        except exc.DBAPIError as error:
            if error.connection_invalidated or _is_unavailable(error):
                raise self._unavailable(error) from error
            raise
        except (TimeoutError, OSError) as error:
            raise self._unavailable(error) from error

    def _unavailable(self, error: BaseException) -> DatabaseUnavailable:
        metrics.DATABASE_ERRORS.inc()
        return DatabaseUnavailable(self.description, failure_reason(error))

    async def dispose(self) -> None:
        await self.engine.dispose()


def read_json(text: str) -> Any:
    """The JSON columns as read (SQLite's text, PostgreSQL's JSONB): pydantic-core's parser,
    several times faster than `json.loads` for the many small values a marker list reads
    (its points, `meta`, `calibrated_data`, ...), with the same values for what we store
    (`json.dumps` wrote it; every string was checked storable on its way in). Object keys are
    cached: the same few recur in every row."""
    return pydantic_core.from_json(text, cache_strings="keys")


SQLITE_BUSY_TIMEOUT_SECONDS = 20.0
"""How long a connection waits for another's write lock on a SQLite file before "database
is locked". Every connection to the file waits alike, whichever process opens it: the
server's, and the admin commands' (`roboscope tokens`, `db`) run beside a serving server."""


class SqliteConnection(sqlite3.Connection):
    """Every SQLite connection rolls back its open transaction when it is closed.

    Closing alone does not always end it: SQLite closes a connection whose statement is still
    referenced only as a "zombie", which keeps its transaction, and with it the write lock of
    a `BEGIN IMMEDIATE`, until that statement is freed. A write cancelled while its statement
    runs in aiosqlite's thread leaves exactly that: SQLAlchemy invalidates and closes the
    connection, and the statement's cursor lives on in the cancelled task's traceback until
    the garbage collector frees it, maybe never. Meanwhile every other writer of the file
    (this process's next transaction too) waited SQLITE_BUSY_TIMEOUT_SECONDS and failed with
    "database is locked". A rollback is local to the file: it never waits on a network.
    """

    def close(self) -> None:
        if self.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.rollback()
        super().close()


def sqlite_connect_args() -> dict[str, Any]:
    """The driver options of every SQLite connection (app, migrations, schema checks)."""
    return {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "factory": SqliteConnection}


def ensure_sqlite_directory(url: str | URL) -> None:
    """SQLite creates the file but not its folder (the data dir on a first start); both are
    made private here (folder 0700, file 0600: SQLite gives its WAL the file's mode)."""
    url = make_url(url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        path = Path(url.database)
        private_dir(path.parent)
        private_file(path)
        for suffix in ("-wal", "-shm"):
            if Path(f"{path}{suffix}").exists():
                private_file(Path(f"{path}{suffix}"))


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
