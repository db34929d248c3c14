"""Expiries announced although nobody calls: presence devices and locks whose time ran out.

Presence and lock expiry needs no client action (scripts prune by server time, lock keys
carry a TTL), but a live stream must also *hear* of it. Every script that changes a
session's presence or lock also records, in the same step, when the session is next due,
in a sorted set per kind (`keys.presence_due`, `keys.locks_due`); every API process sweeps the
due sessions about once a second. A session's sweep is one script: it announces each expiry
exactly once (the removal that announces it is atomic with the announcement) and reschedules
the session from what it finds, so several processes sweeping at once send nothing twice,
and a round cut short by a failure leaves nothing to repair: the next round finds the same
sessions due.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import cast
from uuid import UUID

from redis.asyncio import Redis

from roboscope.realtime import keys, locks, scripts
from roboscope.realtime.connection import RedisUnavailable, guard
from roboscope.realtime.presence import PRUNE_BATCH, script_keys

log = logging.getLogger(__name__)

BATCH = 100
"""Due sessions handled per due set and round."""


class Sweeper:
    def __init__(self, client: Redis, *, interval: float = 1.0) -> None:
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
        now_ms = seconds * 1000 + micros // 1000
        done = 0
        for due_sets, sweep_one in (
            (keys.presence_due_sets(), self._sweep_presence),
            (keys.locks_due_sets(), self._sweep_lock),
        ):
            for due_key in due_sets:
                done += await self._sweep_due(due_key, now_ms, sweep_one)
        return done

    async def _sweep_due(
        self, due_key: str, now_ms: int, sweep_one: Callable[[UUID], Awaitable[None]]
    ) -> int:
        async with self._guard:
            due = await self._client.zrangebyscore(due_key, "-inf", now_ms, start=0, num=BATCH)
        for session in cast(list[str], due):
            await sweep_one(UUID(session))
        return len(due)

    async def _sweep_presence(self, session_id: UUID) -> None:
        await self._presence(keys=script_keys(session_id), args=[PRUNE_BATCH])

    async def _sweep_lock(self, session_id: UUID) -> None:
        await self._lock(keys=locks.grant_keys(session_id))
