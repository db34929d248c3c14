"""A write transaction on SQLite that is cancelled mid-statement must not leave the file locked.

A cancel (a stopping app's background task, a request whose client went away) that lands
while a statement runs in aiosqlite's thread makes SQLAlchemy invalidate the connection and
close it. That cursor is still referenced (by the cancelled task's traceback), and SQLite then
only makes the connection a "zombie" that keeps its transaction, and the write lock of its
`BEGIN IMMEDIATE`, until the garbage collector frees the cursor: every other writer of the file
waited its busy timeout and failed with "database is locked" (CI once, in the `database`
fixture, after a short-lived test app's change-log retention pass was cancelled at its stop).
The garbage collector is off during the test: the lock must go without it.
"""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from roboscope.db.engine import Database


@pytest.fixture
def no_garbage_collection() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def write_lock_is_free(path: Path) -> bool:
    """Whether another connection can take the file's write lock now, without waiting."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return False
    finally:
        other.close()


def count_rows(path: Path) -> int:
    other = sqlite3.connect(path)
    try:
        (count,) = other.execute("SELECT count(*) FROM t").fetchone()
        return int(count)
    finally:
        other.close()


@pytest.mark.usefixtures("no_garbage_collection")
async def test_a_write_cancelled_mid_statement_leaves_the_file_unlocked(tmp_path: Path) -> None:
    path = tmp_path / "cancel.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    running, release = threading.Event(), threading.Event()

    def stall() -> int:
        """A statement that runs in the driver's thread until the test lets it end."""
        running.set()
        release.wait(30)
        return 1

    @event.listens_for(db.engine.sync_engine, "connect")
    def _with_stall(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("stall", 0, stall)

    try:
        async with db.transaction() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))

        async def write() -> None:
            async with db.transaction() as conn:
                await conn.execute(text("INSERT INTO t VALUES (1)"))
                await conn.execute(text("SELECT stall()"))

        writing = asyncio.ensure_future(write())
        try:
            assert await asyncio.to_thread(running.wait, 30)
            writing.cancel()
        finally:
            release.set()
        with pytest.raises(asyncio.CancelledError):
            await writing

        assert write_lock_is_free(path)
        assert count_rows(path) == 0  # the cancelled write was rolled back, not committed
        async with db.transaction() as conn:  # and the database takes writes again
            await conn.execute(text("INSERT INTO t VALUES (2)"))
        assert count_rows(path) == 1
    finally:
        release.set()
        await db.dispose()
