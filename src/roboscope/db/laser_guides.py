"""Laser guide rows: at most one per space (unique `space_id`)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import laser_guides
from .upsert import upsert


async def get_laser_guide(conn: AsyncConnection, space_id: UUID) -> RowMapping | None:
    stmt = select(laser_guides).where(laser_guides.c.space_id == space_id)
    return (await conn.execute(stmt)).mappings().first()


async def put_laser_guide(conn: AsyncConnection, values: dict[str, Any]) -> RowMapping:
    """Create the space's guide, or replace its content (keeping its id and `created_at`)."""
    return await upsert(
        conn, laser_guides, values, key=["space_id"], update=["grid", "meta", "updated_at"]
    )


async def delete_laser_guide(conn: AsyncConnection, space_id: UUID) -> bool:
    stmt = delete(laser_guides).where(laser_guides.c.space_id == space_id)
    return (await conn.execute(stmt)).rowcount > 0
