"""Redis stalling past the command timeout (a Lua busy loop on a private Redis): whatever the
answer, an acquire leaves the lock either the caller's (its token returned) or free."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

import pytest

from roboscope.errors import ServiceUnavailable
from roboscope.realtime.connection import create_redis
from roboscope.realtime.embedded import EmbeddedRedis
from roboscope.realtime.locks import LockGrant, LockState, LockStore

from .busy import busy, private_redis

__all__ = ["private_redis"]  # the fixture

CALLERS = 5

Outcome = LockGrant | LockState | ServiceUnavailable | None


async def _acquire(locks: LockStore, session: UUID) -> Outcome:
    try:
        return await locks.acquire(session, ttl_ms=3_600_000, owner="ann")
    except ServiceUnavailable as error:
        return error


@pytest.mark.parametrize("busy_ms", [3000, 6000])
async def test_stalled_acquires_leave_no_ghost_lock(
    private_redis: EmbeddedRedis, busy_ms: int
) -> None:
    """3 s: Redis answers a little after the 2 s command timeout, and then runs what it was
    sent, also on connections the client has given up. 6 s: past its busy threshold (5 s)
    Redis refuses every command with BUSY until the loop ends."""
    client = create_redis(private_redis.url)  # the default 2 s command timeout
    locks = LockStore(client)
    sessions = [uuid4() for _ in range(CALLERS)]
    try:
        # Load the script and open one pooled connection per caller, as in a running server.
        warm = await asyncio.gather(*(_acquire(locks, uuid4()) for _ in sessions))
        assert all(isinstance(grant, LockGrant) for grant in warm)
        async with busy(private_redis.url, busy_ms):
            outcomes = await asyncio.gather(*(_acquire(locks, s) for s in sessions))
        # Redis answers again: each lock is its caller's, or free.
        for session, outcome in zip(sessions, outcomes, strict=True):
            state = await locks.status(session)
            if isinstance(outcome, LockGrant):
                assert state is not None and state.fence == outcome.fence
                assert await locks.fence_of(session, outcome.token) == outcome.fence
            else:
                assert state is None, f"lock held by {state} after the answer {outcome!r}"
                assert isinstance(
                    await locks.acquire(session, ttl_ms=1_000, owner="bob"), LockGrant
                )
    finally:
        await client.aclose()
