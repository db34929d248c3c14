"""Group commit of lock grants' fences (services/grant_fences.py): grants waiting at the same
time share a transaction, and each returns only once its fence is committed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import select

from roboscope.db import work_sessions as session_rows
from roboscope.db.engine import Database
from roboscope.db.tables import work_sessions
from roboscope.errors import ServiceUnavailable
from roboscope.services.grant_fences import GrantFences

from .conftest import Factory


async def committed_fence(database: Database, session_id: uuid.UUID) -> int | None:
    async with database.read() as conn:
        stmt = select(work_sessions.c.lock_fence).where(work_sessions.c.id == session_id)
        fence: int | None = (await conn.execute(stmt)).scalar()
        return fence


def counting_transactions(database: Database, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many transactions the database began (one entry each)."""
    begun: list[int] = []
    transaction = database.transaction

    @asynccontextmanager
    async def counted() -> AsyncIterator[Any]:
        begun.append(1)
        async with transaction() as conn:
            yield conn

    monkeypatch.setattr(database, "transaction", counted)
    return begun


async def sessions(make_session: Factory, count: int) -> list[uuid.UUID]:
    return [uuid.UUID((await make_session())["id"]) for _ in range(count)]


async def test_concurrent_grants_share_transactions_and_return_once_committed(
    database: Database, make_session: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await sessions(make_session, 12)
    begun = counting_transactions(database, monkeypatch)
    fences = GrantFences(database)
    seen_when_answered: dict[uuid.UUID, int | None] = {}

    async def grant(session_id: uuid.UUID, fence: int) -> None:
        await fences.record(session_id, fence)
        seen_when_answered[session_id] = await committed_fence(database, session_id)

    # Three grants per session, in no particular order: each row ends at its highest.
    plan = [(session_id, 1000 + n * 10 + k) for n, session_id in enumerate(ids) for k in (2, 0, 1)]
    await asyncio.gather(*(grant(session_id, fence) for session_id, fence in reversed(plan)))
    for n, session_id in enumerate(ids):
        highest = 1000 + n * 10 + 2
        assert await committed_fence(database, session_id) == highest
        # Answered after its own fence was committed (a later one of its session may be too).
        seen = seen_when_answered[session_id]
        assert seen is not None and seen >= 1000 + n * 10
    assert len(begun) < len(plan) / 4, "grants waiting together share a transaction"
    await fences.aclose()


async def test_a_session_not_in_the_database_is_no_error(database: Database) -> None:
    fences = GrantFences(database)
    await asyncio.gather(*(fences.record(uuid.uuid4(), 5) for _ in range(5)))
    await fences.aclose()


async def test_a_batch_that_fails_is_written_one_grant_at_a_time(
    database: Database, make_session: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One grant's trouble is not the others': each gets the answer it would have alone."""
    ids = await sessions(make_session, 4)
    poisoned = ids[2]
    raise_fences = session_rows.raise_lock_fences

    async def picky(conn: Any, fences: Sequence[tuple[uuid.UUID, int]]) -> None:
        if any(session_id == poisoned for session_id, _ in fences):
            raise ValueError("this one cannot be written")
        await raise_fences(conn, fences)

    monkeypatch.setattr(session_rows, "raise_lock_fences", picky)
    fences = GrantFences(database)
    outcomes = await asyncio.gather(
        *(fences.record(session_id, 77) for session_id in ids), return_exceptions=True
    )
    assert [isinstance(outcome, ValueError) for outcome in outcomes] == [
        session_id == poisoned for session_id in ids
    ]
    for session_id in ids:
        expected = None if session_id == poisoned else 77
        assert await committed_fence(database, session_id) == expected
    await fences.aclose()


async def test_an_unavailable_database_fails_every_grant_and_a_cancelled_one_leaves(
    database: Database, make_session: Factory
) -> None:
    gone = Database("postgresql+asyncpg://nobody@127.0.0.1:1/nothing", timeout=1)
    fences = GrantFences(gone)
    outcomes = await asyncio.gather(
        *(fences.record(uuid.uuid4(), 1) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(outcome, ServiceUnavailable) for outcome in outcomes), outcomes
    await fences.aclose()
    await gone.dispose()

    # A grant whose request went away does not disturb the others of its batch.
    [session_id] = await sessions(make_session, 1)
    fences = GrantFences(database)
    first = asyncio.create_task(fences.record(session_id, 10))
    second = asyncio.create_task(fences.record(session_id, 11))
    await asyncio.sleep(0)
    second.cancel()
    await first
    with pytest.raises(asyncio.CancelledError):
        await second
    await fences.aclose()
    assert await committed_fence(database, session_id) in (10, 11)


async def test_a_grant_right_after_the_last_of_a_batch_is_written_too(
    database: Database, make_session: Factory
) -> None:
    """The second grant comes while the writer of the first is ending (its waiter runs before
    the writer has quite gone): it must be written, not left waiting for a writer that left."""
    [session_id] = await sessions(make_session, 1)
    fences = GrantFences(database)

    async def one_after_another() -> None:
        for fence in range(1, 4):
            await fences.record(session_id, fence)

    await asyncio.wait_for(one_after_another(), timeout=20)
    assert await committed_fence(database, session_id) == 3
    await fences.aclose()
