"""Expiries announced although nobody calls: the sweeper over the due sets, on real Redis
(embedded 6.2 and external 7), with two sweepers at once announcing each expiry once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import pytest
from redis.asyncio import Redis

from roboscope.realtime import LockStore, PresenceStore, create_redis, feed, keys
from roboscope.realtime.sweeper import Sweeper


@pytest.fixture
async def heard(redis_client: Redis) -> AsyncIterator[list[dict[str, Any]]]:
    """Every announcement on the live channels while the test runs, as an API process's
    listener hears it."""
    messages: list[dict[str, Any]] = []
    subscribed = asyncio.Event()
    task = asyncio.create_task(feed.listen(redis_client, messages.append, subscribed.set))
    async with asyncio.timeout(10):
        await subscribed.wait()
    yield messages
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _two_sweeps(redis_url: str) -> None:
    """Two processes' sweepers at once, each on its own connections."""
    clients = [create_redis(redis_url), create_redis(redis_url)]
    try:
        await asyncio.gather(*(Sweeper(client).sweep() for client in clients))
    finally:
        for client in clients:
            await client.aclose()


async def _settle(heard: list[dict[str, Any]], count: int) -> None:
    for _ in range(100):  # bounded: 5 s
        if len(heard) >= count:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # a duplicate would arrive by now


async def test_a_lock_that_expires_is_announced_once(
    redis_client: Redis, redis_url: str, heard: list[dict[str, Any]]
) -> None:
    session = uuid4()
    grant = await LockStore(redis_client).acquire(session, ttl_ms=100, owner="ann")
    assert grant is not None
    await asyncio.sleep(0.3)
    for _ in range(3):
        await _two_sweeps(redis_url)
    await _settle(heard, 2)
    assert [(m["e"], m.get("o"), int(m["f"])) for m in heard] == [
        ("lock.acquired", "ann", grant.fence),
        ("lock.expired", "ann", grant.fence),
    ]
    assert (
        await redis_client.zscore(keys.locks_due(session), str(session)) is None
    )  # nothing left due


async def test_a_released_lock_is_not_announced_as_expired(
    redis_client: Redis, redis_url: str, heard: list[dict[str, Any]]
) -> None:
    session = uuid4()
    locks = LockStore(redis_client)
    grant = await locks.acquire(session, ttl_ms=100, owner=None)
    assert grant is not None and await locks.release(session, grant.token)
    await asyncio.sleep(0.3)
    await _two_sweeps(redis_url)
    await _settle(heard, 2)
    assert [m["e"] for m in heard] == ["lock.acquired", "lock.released"]
    assert await redis_client.zscore(keys.locks_due(session), str(session)) is None


async def test_a_device_that_stops_beating_is_announced_once(
    redis_client: Redis, redis_url: str, heard: list[dict[str, Any]]
) -> None:
    session = uuid4()
    presence = PresenceStore(redis_client)
    for device, ttl_ms in (("ipad", 100), ("phone", 60_000)):
        beat = dict(device_id=device, display_name=None, meta=None, ttl_ms=ttl_ms)
        await presence.heartbeat(session, "ann", **beat)  # type: ignore[arg-type]
    await asyncio.sleep(0.3)
    for _ in range(3):
        await _two_sweeps(redis_url)
    await _settle(heard, 3)
    assert [(m["e"], m["d"], m.get("r")) for m in heard] == [
        ("presence.joined", "ipad", None),
        ("presence.joined", "phone", None),
        ("presence.left", "ipad", "expired"),
    ]
    # The phone is still present: the session stays due for its expiry, not before.
    due = await redis_client.zscore(keys.presence_due(session), str(session))
    assert (
        due is not None
        and due > (await presence.snapshot(session)).members[0].last_seen.timestamp() * 1000
    )
