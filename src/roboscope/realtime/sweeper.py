"""Expiries announced although nobody calls: presence devices and locks whose time ran out.

Presence and lock expiry needs no client action (scripts prune by server time, lock keys
carry a TTL), but a live stream must also *hear* of it. Heartbeats and grants record when
their session is next due in a sorted set per kind and shard (`keys.presence_due`,
`keys.locks_due`: in the slot of the session's keys); every API process sweeps the due
sessions about once a second, reading every shard's due sets in one pipelined round (one per
node on a Redis Cluster), and the per-session sweep scripts announce each expiry exactly
once (the removal that announces it is atomic with the announcement), so several processes
sweeping at once send nothing twice. A round that cannot read every due set (a node lost,
until its replica takes over) is skipped: expiries are announced late, never twice.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from roboscope.metrics import REDIS_ERRORS
from roboscope.realtime import keys, scripts
from roboscope.realtime.connection import (
    REDIS_FAILURES,
    RedisClient,
    RedisUnavailable,
    guard,
    unavailable,
)
from roboscope.realtime.presence import PRUNE_BATCH

log = logging.getLogger(__name__)

BATCH = 100
"""Due sessions handled per kind and round (the earliest due first, over all shards)."""


def _text(score: bytes | str) -> str:
    """A score exactly as Redis wrote it (ZSCORE in a script compares with this text)."""
    return score.decode() if isinstance(score, bytes) else score


class Sweeper:
    def __init__(self, client: RedisClient, *, interval: float = 1.0) -> None:
        self._client = client
        self.interval = interval
        self._presence = scripts.register(client, "presence_sweep")
        self._lock = scripts.register(client, "lock_sweep")
        self._reschedule = scripts.register(client, "due_reschedule")

    async def run(self) -> None:
        """Sweep forever, every `interval` seconds; a Redis outage only skips rounds."""
        while True:
            try:
                await self.sweep()
            except RedisUnavailable as error:  # counted where it was raised
                log.warning("expiry sweep skipped: %s", error.reason)
            except REDIS_FAILURES as error:
                if unavailable(error) is None:
                    raise
                REDIS_ERRORS.inc()
                log.warning("expiry sweep skipped: %s", error)
            except Exception:
                log.exception("expiry sweep failed")
            await asyncio.sleep(self.interval)

    async def sweep(self) -> int:
        """One round; answers how many due sessions it looked at."""
        async with guard():
            seconds, micros = await self._client.time()
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        done = 0
        kinds: list[tuple[list[str], Callable[[UUID], Awaitable[Any]]]] = [
            (keys.presence_due_sets(), self._sweep_presence),
            (keys.locks_due_sets(), self._sweep_lock),
        ]
        for due_keys, sweep_one in kinds:
            for due_key, session, score in await self._due(due_keys, now_ms):
                next_due = await sweep_one(UUID(session))
                await self._reschedule(
                    keys=[due_key], args=[session, score, "" if next_due is None else next_due]
                )
                done += 1
        return done

    async def _due(self, due_keys: list[str], now_ms: int) -> list[tuple[str, str, str]]:
        """(due set, session, score as Redis wrote it) of the `BATCH` sessions due first."""
        async with guard(), self._client.pipeline(transaction=False) as pipe:
            for due_key in due_keys:
                pipe.zrangebyscore(
                    due_key,
                    "-inf",
                    now_ms,
                    start=0,
                    num=BATCH,
                    withscores=True,
                    score_cast_func=_text,
                )
            replies = await pipe.execute()
        found = [
            (float(score), due_key, session, score)
            for due_key, reply in zip(due_keys, replies, strict=True)
            for session, score in reply
        ]
        return [entry[1:] for entry in heapq.nsmallest(BATCH, found)]

    async def _sweep_presence(self, session_id: UUID) -> Any:
        return await self._presence(keys=keys.presence(session_id), args=[PRUNE_BATCH])

    async def _sweep_lock(self, session_id: UUID) -> Any:
        lock_keys = [keys.lock(session_id), keys.lock_announced(session_id)]
        return await self._lock(keys=lock_keys)
