"""Counts of what Redis holds now, for the metrics scrape: present users and held locks.

The sweepers' due sets name every session with presence or a lock (an entry stays until the
session's last device or its lock is gone and announced), so the census reads them and asks
each of those sessions what is live: one pipelined round trip per `BATCH` sessions, run only
when a scrape comes.
"""

from __future__ import annotations

from typing import cast
from uuid import UUID

from redis.asyncio import Redis

from roboscope.metrics import Census
from roboscope.realtime import keys
from roboscope.realtime.connection import guard

BATCH = 500


async def take(client: Redis) -> Census:
    """Raises `RedisUnavailable` when Redis cannot answer."""
    async with guard(client):
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
    return Census(presence_sessions=sessions, presence_members=members, locks_held=locks)


async def _members(client: Redis, due_sets: list[str]) -> list[str]:
    sessions: list[str] = []
    for due_key in due_sets:
        sessions += cast(list[str], await client.zrange(due_key, 0, -1))
    return sessions
