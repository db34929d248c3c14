"""What only a Redis Cluster can get wrong: where a fresh client sends its first commands.

(Everything else the stores do runs on the cluster too: tests/conftest.py's ON_CLUSTER.)"""

from __future__ import annotations

import asyncio
from uuid import uuid4

from redis.asyncio.cluster import RedisCluster

from roboscope.realtime.connection import create_redis
from roboscope.realtime.locks import LockStore


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
