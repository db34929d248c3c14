"""The live channel of one Redis database: pub/sub channels are server-wide, yet two
deployments (or two parallel test runs) on different databases of one Redis server never
hear each other's wake-ups or announcements."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import uuid4

from roboscope.realtime import EmbeddedRedis, PresenceStore, create_redis, feed
from roboscope.realtime.connection import RedisClient

from ..waiting import until


def subscribed(client: RedisClient) -> Callable[[], Awaitable[bool]]:
    """Whether a listener's SUBSCRIBE has reached Redis (it is sent before its reply)."""

    async def check() -> bool:
        ((_, count),) = await client.pubsub_numsub(feed.live_channels(client)[0])
        return int(count) > 0

    return check


async def test_each_database_has_its_own_live_channel(embedded_redis: EmbeddedRedis) -> None:
    clients = {db: create_redis(f"{embedded_redis.url}?db={db}") for db in (1, 2)}
    heard: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    listeners = [
        asyncio.create_task(feed.listen(clients[db], heard[db].append, lambda: None))
        for db in clients
    ]
    try:
        for client in clients.values():
            await until(subscribed(client))
        # A wake-up from an API process, and an announcement made by a script, on database 1.
        await feed.wake(clients[1], [uuid4()])
        await PresenceStore(clients[1]).heartbeat(
            uuid4(), "ann", device_id="ipad", display_name=None, meta=None, ttl_ms=60_000
        )
        # Redis delivers in order: once database 2's own message arrives, anything
        # published on database 1 before it would have arrived there too.
        await feed.publish(clients[2], feed.live_channels(clients[2])[0], {"last": 2})
        await feed.publish(clients[1], feed.live_channels(clients[1])[0], {"last": 1})
        await until(lambda: {"last": 2} in heard[2] and {"last": 1} in heard[1])
        assert heard[2] == [{"last": 2}]
        assert [
            message.get("e", "changed" if "changed" in message else message) for message in heard[1]
        ] == [
            "changed",
            "presence.joined",
            {"last": 1},
        ]
    finally:
        for listener in listeners:
            listener.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
        for client in clients.values():
            await client.aclose()
