"""The health report: the database decides whether this process can serve at all; without
Redis only presence and locks are down, so the report says "degraded" but stays 200."""

from __future__ import annotations

from redis.asyncio import Redis

from ..db.engine import Database
from ..realtime import ping
from ..wire import Health


async def check_health(db: Database, redis: Redis) -> Health:
    database_error = await db.check()
    redis_up = await ping(redis)
    return Health(
        status="ok" if database_error is None and redis_up else "degraded",
        database="up" if database_error is None else "down",
        redis="up" if redis_up else "down",
        database_error=None if database_error is None else f"{db.description} {database_error}",
    )
