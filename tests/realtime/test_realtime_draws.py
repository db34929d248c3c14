"""A request's draw on its rate budget taken by its operation's own script (draws.py,
lua/drawn.lua): one call that runs the operation only when the budget allows it, on the
same budget as a draw of its own (rate_take.lua)."""

from __future__ import annotations

from uuid import uuid4

import pytest
from redis.asyncio import Redis

from roboscope.realtime import keys
from roboscope.realtime.draws import BudgetSpent, Draw
from roboscope.realtime.locks import LockGrant, LockStore
from roboscope.realtime.presence import PresenceStore
from roboscope.realtime.rate_limits import Rate, RateStore

SLOW = Rate(per_second=0.01, burst=2)  # two at once, then one more in 100 s


def draw(rates: RateStore, caller: str) -> Draw:
    return rates.draw("heartbeats", caller, SLOW)


async def test_a_heartbeat_draws_in_its_own_call_and_stores_nothing_when_refused(
    redis_client: Redis,
) -> None:
    presence, rates = PresenceStore(redis_client), RateStore(redis_client)
    assert rates.folds
    session, caller = uuid4(), f"addr:{uuid4()}"
    for device in ("a", "b"):
        drawn = draw(rates, caller)
        beat = await presence.heartbeat(
            session, "ann", device_id=device, display_name=None, meta=None, ttl_ms=60_000,
            draw=drawn,
        )  # fmt: skip
        assert drawn.state == "taken" and beat.device_count == (1 if device == "a" else 2)
    refused = draw(rates, caller)
    with pytest.raises(BudgetSpent) as spent:
        await presence.heartbeat(
            session, "ann", device_id="c", display_name=None, meta=None, ttl_ms=60_000,
            draw=refused,
        )  # fmt: skip
    assert refused.state == "refused" and spent.value.wait_ms > 0
    assert (await presence.snapshot(session)).members[0].devices == ["a", "b"]
    # The same budget as a draw of its own: spent there too.
    assert await rates.take("heartbeats", caller, SLOW) > 0
    assert await redis_client.exists(keys.rate_budget("heartbeats", caller))


async def test_lock_operations_draw_in_their_own_call(redis_client: Redis) -> None:
    """The operation sees its own KEYS and ARGV only (acquire's optional owner included)."""
    locks, rates = LockStore(redis_client), RateStore(redis_client)
    session, caller = uuid4(), f"token:{uuid4()}"
    await rates.take("heartbeats", caller, SLOW)  # one of two spent apart
    grant = await locks.acquire(session, ttl_ms=30_000, owner="ann", draw=draw(rates, caller))
    assert isinstance(grant, LockGrant) and grant.owner == "ann"
    status = await locks.status(session)
    assert status is not None and status.owner == "ann"
    with pytest.raises(BudgetSpent):
        await locks.release(session, grant.token, draw=draw(rates, caller))
    assert await locks.status(session) is not None  # still held: the release did not run
    other = uuid4()
    with pytest.raises(BudgetSpent):
        await locks.acquire(other, ttl_ms=30_000, owner=None, draw=draw(rates, caller))
    assert await locks.status(other) is None
    released = draw(rates, f"token:{uuid4()}")
    assert await locks.release(session, grant.token, draw=released)
    assert released.state == "taken" and await locks.status(session) is None
