"""The health reports.

`check_health` (`/health`): the database decides whether this process can serve at all;
without Redis only presence and locks are down, so the report says "degraded" but stays 200.
Redis counts as down whenever presence and locks would get 503 from it, also while it still
answers PING (out of memory, a read-only replica), and the report says why.

`check_readiness` (`/health/ready`): stricter, for orchestrators and load balancers: ready
only when the database and Redis both serve and the schema is the one this code needs.
"""

from __future__ import annotations

import asyncio

from .. import __version__
from ..db.engine import Database
from ..db.migrate import code_revision, database_revision
from ..errors import ServiceUnavailable
from ..realtime.connection import RedisClient
from ..realtime.topology import check
from ..wire import Health, Readiness
from ..wire.health import MigrationState, RedisServer

SCHEMA_CHECK_SECONDS = 5.0


async def check_health(db: Database, redis: RedisClient) -> Health:
    database_error = await db.check()
    redis_health = await check(redis)
    return Health(
        status="ok" if database_error is None and redis_health.up else "degraded",
        version=__version__,
        database="up" if database_error is None else "down",
        redis="up" if redis_health.up else "down",
        database_error=None if database_error is None else f"{db.description} {database_error}",
        redis_problem=redis_health.problem,
    )


async def check_readiness(db: Database, redis: RedisClient) -> Readiness:
    database_error, redis_health = await asyncio.gather(db.check(), check(redis))
    problems = []
    migrations: MigrationState = "unknown"
    if database_error is not None:
        problems.append(f"database {db.description} {database_error}")
    else:
        migrations, problem = await _migrations(db)
        if problem is not None:
            problems.append(problem)
    if not redis_health.up:
        problems.append(f"redis {redis_health.problem or 'is down'}")
    return Readiness(
        status="not_ready" if problems else "ready",
        version=__version__,
        database="down" if database_error is not None else "up",
        redis="up" if redis_health.up else "down",
        migrations=migrations,
        problems=problems,
        redis_kind=redis_health.kind,
        redis_nodes=[
            RedisServer(address=node.address, role=node.role) for node in redis_health.nodes
        ],
    )


async def _migrations(db: Database) -> tuple[MigrationState, str | None]:
    needed = code_revision()
    try:
        async with asyncio.timeout(SCHEMA_CHECK_SECONDS):
            found = await database_revision(db)
    except (ServiceUnavailable, TimeoutError):
        return "unknown", "the database schema could not be read"
    if found == needed:
        return "current", None
    return "behind", (
        f"the database schema is at {found or 'no revision'}, this server needs {needed}: "
        "run `roboscope db upgrade`"
    )
