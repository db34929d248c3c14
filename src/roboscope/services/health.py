"""The health report: the database decides whether this process can serve at all."""

from __future__ import annotations

from ..db.engine import Database
from ..wire import Health


async def check_health(db: Database) -> Health:
    database_up = await db.ping()
    return Health(
        status="ok" if database_up else "degraded", database="up" if database_up else "down"
    )
