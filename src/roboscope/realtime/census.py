"""Counts of what Redis holds now, for the metrics scrape: present users and held locks, and
the servers Redis is made of.

The sweepers' due sets name every session with presence or a lock (an entry stays until the
session's last device or its lock is gone and announced), so the census reads them (every
shard's, in one pipelined round: one per node on a Redis Cluster) and asks each of those
sessions what is live: one pipelined round trip per `BATCH` sessions, run only when a
scrape comes.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from roboscope.metrics import Census
from roboscope.realtime import keys
from roboscope.realtime.connection import RedisClient, guard, kind_of
from roboscope.realtime.topology import topology

BATCH = 500


async def take(client: RedisClient) -> Census:
    """Raises `RedisUnavailable` when Redis cannot answer."""
    async with guard(client):
        nodes = await topology(client)
        seconds, micros = await client.time()
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        present_sessions = await _members(client, keys.presence_due_sets())
        locked_sessions = await _members(client, keys.locks_due_sets())
        sessions = members = 0
        for start in range(0, len(present_sessions), BATCH):
            async with client.pipeline(transaction=False) as pipe:
                for session in present_sessions[start : start + BATCH]:
                    pipe.zcount(keys.presence_present(UUID(session)), f"({now_ms}", "+inf")
                counts = await pipe.execute()
            sessions += sum(1 for count in counts if int(count) > 0)
            members += sum(int(count) for count in counts)
        locks = 0
        for start in range(0, len(locked_sessions), BATCH):
            async with client.pipeline(transaction=False) as pipe:
                for session in locked_sessions[start : start + BATCH]:
                    pipe.exists(keys.lock(UUID(session)))
                locks += sum(int(found) for found in await pipe.execute())
    return Census(
        presence_sessions=sessions,
        presence_members=members,
        locks_held=locks,
        redis_kind=kind_of(client),
        redis_nodes=tuple((node.address, node.role) for node in nodes),
    )


async def _members(client: RedisClient, due_keys: list[str]) -> list[str]:
    async with client.pipeline(transaction=False) as pipe:
        for due_key in due_keys:
            pipe.zrange(due_key, 0, -1)
        replies: list[Any] = await pipe.execute()
    return [session for reply in replies for session in reply]
