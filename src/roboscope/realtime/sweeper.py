"""Expiries announced although nobody calls: presence devices and locks whose time ran out.

Presence and lock expiry needs no client action (scripts prune by server time, lock keys
carry a TTL), but a live stream must also *hear* of it. Every script that changes a
session's presence or lock also records, in the same step, when the session is next due,
in a sorted set per kind and shard (`keys.presence_due`, `keys.locks_due`: in the slot of
the session's keys); every API process sweeps the due sessions about once a second, reading
every shard's due sets in one pipelined round (one per node on a Redis Cluster). A
session's sweep is one script: it announces each expiry exactly once (the removal that
announces it is atomic with the announcement) and reschedules the session from what it
finds, so several processes sweeping at once send nothing twice, and a round cut short by a
failure leaves nothing to repair: the next round finds the same sessions due. A round that
cannot read every due set (a node lost, until its replica takes over) is skipped: expiries
are announced late, never twice.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Awaitable, Callable
from uuid import UUID

from roboscope.errors import RedisUnavailable
from roboscope.realtime import keys, locks, scripts
from roboscope.realtime.connection import RedisClient, guard
from roboscope.realtime.presence import PRUNE_BATCH, script_keys

log = logging.getLogger(__name__)

BATCH = 100
"""Due sessions handled per kind and round (the earliest due first, over all shards)."""


class Sweeper:
    def __init__(self, client: RedisClient, *, interval: float = 1.0) -> None:
        self._client = client
        self._guard = guard(client)
        self.interval = interval
        self._presence = scripts.register(client, "presence_sweep")
        self._lock = scripts.register(client, "lock_sweep")

    async def run(self) -> None:
        """Sweep forever, every `interval` seconds. A Redis outage only skips rounds (the
        guard logs it, once per outage); anything else is a bug, logged with its traceback."""
        while True:
            try:
                await self.sweep()
            except RedisUnavailable:
                pass
            except Exception:
                log.exception("expiry sweep failed")
            await asyncio.sleep(self.interval)

    async def sweep(self) -> int:
        """One round; answers how many due sessions it swept."""
        async with self._guard:
            seconds, micros = await self._client.time()
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        done = 0
        kinds: list[tuple[list[str], Callable[[UUID], Awaitable[None]]]] = [
            (keys.presence_due_sets(), self._sweep_presence),
            (keys.locks_due_sets(), self._sweep_lock),
        ]
        for due_keys, sweep_one in kinds:
            for session in await self._due(due_keys, now_ms):
                await sweep_one(UUID(session))
                done += 1
        return done

    async def _due(self, due_keys: list[str], now_ms: int) -> list[str]:
        """The `BATCH` sessions due first over these due sets."""
        async with self._guard, self._client.pipeline(transaction=False) as pipe:
            for due_key in due_keys:
                pipe.zrangebyscore(due_key, "-inf", now_ms, start=0, num=BATCH, withscores=True)
            replies = await pipe.execute()
        found = [(float(score), session) for reply in replies for session, score in reply]
        return [session for _, session in heapq.nsmallest(BATCH, found)]

    async def _sweep_presence(self, session_id: UUID) -> None:
        await self._presence(keys=script_keys(session_id), args=[PRUNE_BATCH])

    async def _sweep_lock(self, session_id: UUID) -> None:
        await self._lock(keys=locks.grant_keys(session_id))
