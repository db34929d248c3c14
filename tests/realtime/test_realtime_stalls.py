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

from .busy import admin, busy, private_redis

__all__ = ["private_redis"]  # the fixture

CALLERS = 5

Outcome = LockGrant | LockState | ServiceUnavailable | None


async def _acquire(locks: LockStore, session: UUID) -> Outcome:
    try:
        return await locks.acquire(session, ttl_ms=3_600_000, owner="ann")
    except ServiceUnavailable as error:
        return error


BUSY_MS = 3000


@pytest.mark.parametrize("threshold_ms", [None, 2500], ids=["runs-late", "refused-busy"])
async def test_stalled_acquires_leave_no_ghost_lock(
    private_redis: EmbeddedRedis, threshold_ms: int | None
) -> None:
    """A 3 s stall. With Redis's busy threshold (5 s), Redis answers a little after the 2 s
    command timeout, and then runs what it was sent, also on connections the client has
    given up. With the threshold lowered to 2.5 s (past the timeout, before the loop ends:
    the default in a 6 s stall does the same at twice the wait), Redis refuses every command
    with BUSY from then until the loop ends."""
    if threshold_ms is not None:
        async with admin(private_redis.url) as redis:
            await redis.config_set("lua-time-limit", str(threshold_ms))
    client = create_redis(private_redis.url)  # the default 2 s command timeout
    locks = LockStore(client)
    sessions = [uuid4() for _ in range(CALLERS)]
    try:
        # Load the script and open one pooled connection per caller, as in a running server.
        warm = await asyncio.gather(*(_acquire(locks, uuid4()) for _ in sessions))
        assert all(isinstance(grant, LockGrant) for grant in warm)
        async with busy(private_redis.url, BUSY_MS):
            outcomes = await asyncio.gather(*(_acquire(locks, s) for s in sessions))
        # The stall was the one named (the loop ran before the acquires, and Redis refused
        # them with BUSY or ran them late): else this proves nothing.
        assert any(isinstance(outcome, ServiceUnavailable) for outcome in outcomes), outcomes
        async with admin(private_redis.url) as redis:
            refused = "errorstat_BUSY" in await redis.info("errorstats")
        assert refused == (threshold_ms is not None)
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
