"""What only a Redis Cluster can get wrong: where a fresh client sends its first commands, and
what a command sees when the client closes its connection under it.

(Everything else the stores do runs on the cluster too: tests/conftest.py's ON_CLUSTER.)"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import pytest
import uvloop
from redis.asyncio.cluster import RedisCluster

from roboscope.errors import RedisUnavailable
from roboscope.realtime import feed
from roboscope.realtime.connection import create_redis
from roboscope.realtime.locks import LockStore

from ..waiting import until


async def _moved_replies(admin: RedisCluster) -> int:
    stats = await admin.info("errorstats", target_nodes=RedisCluster.PRIMARIES)
    return sum(
        int(node_stats.get("errorstat_MOVED", {}).get("count", 0)) for node_stats in stats.values()
    )


async def test_a_fresh_client_sends_its_first_commands_to_the_right_node(
    redis_cluster_url: str,
) -> None:
    """50 lock acquires at once, the very first commands of a new client: each goes to the
    node of its slot (redis-py alone sends commands that come before it knows the topology
    to a random primary, and closes every connection after five MOVED replies, those of the
    commands in flight included)."""
    admin = create_redis(redis_cluster_url)
    assert isinstance(admin, RedisCluster)
    fresh = create_redis(redis_cluster_url)
    try:
        await admin.execute_command("CONFIG RESETSTAT", target_nodes=RedisCluster.PRIMARIES)
        locks = LockStore(fresh)
        grants = await asyncio.gather(
            *(locks.acquire(uuid4(), ttl_ms=10_000, owner=None) for _ in range(50))
        )
        assert all(grant is not None for grant in grants)
        assert await _moved_replies(admin) == 0
    finally:
        await fresh.aclose()
        await admin.aclose()


async def _closed_under_load(url: str) -> tuple[list[BaseException], int]:
    """30 tasks asking for lock states while the client closes its connections 40 times:
    what they got other than an answer or a 503, and how many answers."""
    client = create_redis(url)
    locks = LockStore(client)
    unexpected: list[BaseException] = []
    answered = 0
    closing = asyncio.Event()

    async def ask() -> None:
        nonlocal answered
        while not closing.is_set():
            try:
                await locks.status(uuid4())
                answered += 1
            except RedisUnavailable:
                pass
            except Exception as error:
                unexpected.append(error)

    async def close_now_and_then() -> None:
        for _ in range(40):
            await asyncio.sleep(0.05)
            await client.aclose()  # what redis-py does itself at a failover
        closing.set()

    try:
        await asyncio.gather(close_now_and_then(), *(ask() for _ in range(30)))
    finally:
        await client.aclose()
    return unexpected, answered


def _on_uvloop(url: str) -> tuple[list[BaseException], int]:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_closed_under_load(url))


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
async def test_a_command_whose_connection_is_closed_under_it_gets_503(
    redis_cluster_url: str, loop: str
) -> None:
    """redis-py's cluster client closes every connection, those of the commands in flight
    included, whenever it reads the topology anew after a lost node (a failover). Such a
    command fails inside redis-py (an AttributeError on the closed writer; with uvloop, which
    `serve` runs on, also a RuntimeError on the closed transport): it must come out as "Redis
    unreachable", a 503, never as an error of ours (a 500)."""
    if loop == "uvloop":
        unexpected, answered = await asyncio.to_thread(_on_uvloop, redis_cluster_url)
    else:
        unexpected, answered = await _closed_under_load(redis_cluster_url)
    assert not unexpected, unexpected[:3]
    assert answered > 0


async def test_a_broadcast_reaches_a_listener_on_another_node(redis_cluster_url: str) -> None:
    """The revocation broadcast is a plain channel (`feed.listen(base=...)`): a PUBLISH sent
    through any node of the cluster reaches the listener, which holds its subscription on one
    primary of its own choosing."""
    sender, listener = create_redis(redis_cluster_url), create_redis(redis_cluster_url)
    assert isinstance(sender, RedisCluster)
    heard: list[dict[str, Any]] = []
    subscribed = asyncio.Event()
    task = asyncio.create_task(feed.listen(listener, heard.append, subscribed.set, base="t:b"))
    try:
        async with asyncio.timeout(10):
            await subscribed.wait()
        await sender.initialize()
        for node in sender.get_primaries():  # whichever node the sender's PUBLISH goes to
            await sender.execute_command(
                "PUBLISH", "t:b", f'{{"n":"{node.name}"}}', target_nodes=node
            )
        names = {node.name for node in sender.get_primaries()}
        await until(lambda: {message["n"] for message in heard} == names)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sender.aclose()
        await listener.aclose()
