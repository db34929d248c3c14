"""Laser guides: at most one per space, created or replaced whole by `PUT`.

Writing a guide never changes its space's `updated_at` (that would make every device
re-download the space's ML model).
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from ..db import laser_guides as rows
from ..db import spaces as space_rows
from ..db.engine import Database
from ..errors import NotFound
from ..ids import new_id
from ..wire import LaserGuide, LaserGuidePut
from . import changes
from .access import Identity, require
from .clock import utcnow


async def _missing(conn: AsyncConnection, space_id: UUID) -> NotFound:
    """Which 404: the space itself, or only its guide."""
    if not await space_rows.space_exists(conn, space_id):
        return NotFound(f"space {space_id} does not exist")
    return NotFound(f"space {space_id} has no laser guide")


async def get_laser_guide(db: Database, space_id: UUID) -> LaserGuide:
    async with db.read() as conn:
        row = await rows.get_laser_guide(conn, space_id)
        if row is None:
            raise await _missing(conn, space_id)
    return LaserGuide.model_validate(dict(row))


async def put_laser_guide(
    db: Database, caller: Identity, space_id: UUID, body: LaserGuidePut
) -> tuple[LaserGuide, bool]:
    """The stored guide, and whether this call created it (a replacement keeps the id).
    Admin only: a guide is the space's set-up, created or replaced as a whole."""
    require(caller, "admin")
    now = utcnow()
    values = {
        "id": new_id(),
        "space_id": space_id,
        **body.model_dump(),
        "created_at": now,
        "updated_at": now,
    }
    async with db.transaction() as conn:
        if not await space_rows.space_exists(conn, space_id):
            raise NotFound(f"space {space_id} does not exist")
        row = await rows.put_laser_guide(conn, values)
        guide = LaserGuide.model_validate(dict(row))
        created = row["id"] == values["id"]
        await changes.record(
            conn, "created" if created else "updated", "laser_guide", [guide], by=caller
        )
    return guide, created


async def delete_laser_guide(db: Database, caller: Identity, space_id: UUID) -> None:
    require(caller, "admin")
    async with db.transaction() as conn:
        row = await rows.get_laser_guide(conn, space_id)
        if row is None or not await rows.delete_laser_guide(conn, space_id):
            raise await _missing(conn, space_id)
        gone = changes.tombstone(id=row["id"], space_id=space_id)
        await changes.record(conn, "deleted", "laser_guide", [gone], by=caller)
