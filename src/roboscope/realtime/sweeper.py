"""Expiries announced although nobody calls: presence devices and locks whose time ran out.

Presence and lock expiry needs no client action (scripts prune by server time, lock keys
carry a TTL), but a live stream must also *hear* of it. Heartbeats and grants record when
their session is next due in a sorted set per kind (`keys.PRESENCE_DUE`, `keys.LOCKS_DUE`);
every API process sweeps the due sessions about once a second, and the per-session sweep
scripts announce each expiry exactly once (the removal that announces it is atomic with the
announcement), so several processes sweeping at once send nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast
from uuid import UUID

from redis.asyncio import Redis
from redis.exceptions import RedisError

from roboscope.metrics import REDIS_ERRORS
from roboscope.realtime import keys, scripts
from roboscope.realtime.connection import guard, unavailable
from roboscope.realtime.presence import PRUNE_BATCH

log = logging.getLogger(__name__)

BATCH = 100
"""Due sessions handled per kind and round."""


def _text(score: bytes | str) -> str:
    """A score exactly as Redis wrote it (ZSCORE in a script compares with this text)."""
    return score.decode() if isinstance(score, bytes) else score


class Sweeper:
    def __init__(self, client: Redis, *, interval: float = 1.0) -> None:
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
            except (RedisError, OSError) as error:
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
        now_ms = seconds * 1000 + micros // 1000
        done = 0
        for due_key, sweep_one in (
            (keys.PRESENCE_DUE, self._sweep_presence),
            (keys.LOCKS_DUE, self._sweep_lock),
        ):
            async with guard():
                due = await self._client.zrangebyscore(
                    due_key,
                    "-inf",
                    now_ms,
                    start=0,
                    num=BATCH,
                    withscores=True,
                    score_cast_func=_text,
                )
            for session, score in cast(list[tuple[str, str]], due):
                next_due = await sweep_one(UUID(session))
                await self._reschedule(
                    keys=[due_key], args=[session, score, "" if next_due is None else next_due]
                )
                done += 1
        return done

    async def _sweep_presence(self, session_id: UUID) -> Any:
        return await self._presence(keys=keys.presence(session_id), args=[PRUNE_BATCH])

    async def _sweep_lock(self, session_id: UUID) -> Any:
        lock_keys = [keys.lock(session_id), keys.lock_announced(session_id)]
        return await self._lock(keys=lock_keys)
