"""The health report: the database decides whether this process can serve at all; without
Redis only presence and locks are down, so the report says "degraded" but stays 200.

Redis counts as down whenever presence and locks would get 503 from it, also while it still
answers PING (out of memory, a read-only replica), and the report says why."""

from __future__ import annotations

from redis.asyncio import Redis

from ..db.engine import Database
from ..realtime.connection import check
from ..wire import Health


async def check_health(db: Database, redis: Redis) -> Health:
    database_error = await db.check()
    redis_health = await check(redis)
    return Health(
        status="ok" if database_error is None and redis_health.up else "degraded",
        database="up" if database_error is None else "down",
        redis="up" if redis_health.up else "down",
        database_error=None if database_error is None else f"{db.description} {database_error}",
        redis_problem=redis_health.problem,
    )
