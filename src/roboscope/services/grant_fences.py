"""Lock grants' fences, written to their sessions' rows with group commit.

A lock grant is answered only once its fence is committed in its work session's row
(services/locks.py says why). One transaction per grant made the database the limit of lock
cycles: on SQLite write transactions run one at a time, each a few hops to the database's
thread and back (the tail of concurrent acquires was seconds long); on PostgreSQL each was
a connection checkout and three round trips. Here the grants waiting at the same moment
share one transaction: the first grant is written at once, and those that arrive while it is
being written go together in the next one, as soon as it is done. A grant alone waits for
nobody; under load each transaction carries many. Every grant is still answered only after
the transaction holding its fence committed.

Rows are written in session id order (`raise_lock_fences`), the order of every transaction
that locks several session rows, so a batch never waits for a transaction that waits for
it. A grant still waits for a fenced write of its session that holds the row (PostgreSQL) or
the write lock (SQLite) until that commits, and so do the grants that share its batch. On
PostgreSQL a few batches are written at once (`POSTGRES_BATCHES`), so a row held long holds
up only the grants of one batch; SQLite writes one transaction at a time anyway.

A batch the database cannot take (unavailable: 503) fails every grant in it, each of which is
then undone by its request (services/locks.py). A batch that fails for another reason is
written again one grant at a time, so that each grant gets the answer it would have had alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from uuid import UUID

from ..db import work_sessions as session_rows
from ..db.engine import Database
from ..errors import ServiceUnavailable

POSTGRES_BATCHES = 4
"""Batches written at once on PostgreSQL (connections of the pool in use for fences)."""

_Grant = tuple[UUID, int, "asyncio.Future[None]"]


class GrantFences:
    """This process's writer of grant fences; `record` is the one call."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._batches_at_once = 1 if db.is_sqlite else POSTGRES_BATCHES
        self._pending: list[_Grant] = []
        self._writing = 0  # writers at work: counted by themselves, see `_write_pending`
        self._writers: set[asyncio.Task[None]] = set()

    async def record(self, session_id: UUID, fence: int) -> None:
        """Return once `fence` is committed as `session_id`'s newest fence (unless the row
        holds a newer one, or there is no such session); raise what the write raised. A
        caller cancelled meanwhile leaves the write to go on (raising a fence is harmless)."""
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((session_id, fence, written))
        if self._writing < self._batches_at_once:
            self._writing += 1
            writer = asyncio.create_task(self._write_pending())
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)
        await written

    async def _write_pending(self) -> None:
        """Write batches until none is pending. A writer stops counting itself in the same
        step as it finds nothing pending (no `await` between): a grant that comes after
        that starts a writer of its own, never waits for one that is leaving. (The task's
        done callbacks run later, after the waiters it woke, which may record again.)"""
        try:
            while self._pending:
                batch = sorted(self._pending, key=lambda grant: (grant[0], grant[1]))
                self._pending = []
                await self._write(batch)
        finally:
            self._writing -= 1

    async def _write(self, batch: Sequence[_Grant]) -> None:
        try:
            async with self._db.transaction() as conn:
                await session_rows.raise_lock_fences(conn, [(s, fence) for s, fence, _ in batch])
        except ServiceUnavailable as error:
            _settle(batch, error)
        except Exception as error:
            if len(batch) == 1:
                _settle(batch, error)
                return
            for grant in batch:  # each alone: one grant's trouble is not the others'
                await self._write([grant])
        except BaseException:  # cancelled (the server stops): so are the grants waiting
            for _, _, written in batch:
                written.cancel()
            raise
        else:
            _settle(batch, None)

    async def aclose(self) -> None:
        """Stop writing (at shutdown); grants still waiting are cancelled."""
        for writer in list(self._writers):
            writer.cancel()
        await asyncio.gather(*self._writers, return_exceptions=True)
        for _, _, written in self._pending:
            written.cancel()
        self._pending = []


def _settle(batch: Sequence[_Grant], error: BaseException | None) -> None:
    for _, _, written in batch:
        if written.done():  # its request went away meanwhile
            continue
        if error is None:
            written.set_result(None)
        else:
            written.set_exception(error)
