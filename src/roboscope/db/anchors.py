"""Anchor rows: unique on (session_id, run, local_z), the key of the upsert."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import delete, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import anchors
from .upsert import upsert

KEY = ("session_id", "run", "local_z")


async def upsert_anchor(conn: AsyncConnection, values: dict[str, Any]) -> RowMapping:
    """Insert the anchor, or move the existing anchor of the same key (keeping its id)."""
    return await upsert(conn, anchors, values, key=KEY, update=["world_position", "updated_at"])


async def get_anchor(conn: AsyncConnection, anchor_id: UUID) -> RowMapping | None:
    stmt = select(anchors).where(anchors.c.id == anchor_id)
    return (await conn.execute(stmt)).mappings().first()


async def anchor_session_id(conn: AsyncConnection, anchor_id: UUID) -> UUID | None:
    """The anchor's work session (whose lock fences writes of the anchor)."""
    stmt = select(anchors.c.session_id).where(anchors.c.id == anchor_id)
    return (await conn.execute(stmt)).scalar()


async def list_anchors(conn: AsyncConnection, *, session_id: UUID | None) -> Sequence[RowMapping]:
    stmt = select(anchors).order_by(anchors.c.id)
    if session_id is not None:
        stmt = stmt.where(anchors.c.session_id == session_id)
    return (await conn.execute(stmt)).mappings().all()


async def update_anchor(
    conn: AsyncConnection, anchor_id: UUID, values: dict[str, Any]
) -> RowMapping | None:
    stmt = update(anchors).where(anchors.c.id == anchor_id).values(**values).returning(*anchors.c)
    return (await conn.execute(stmt)).mappings().first()


async def delete_anchor(conn: AsyncConnection, anchor_id: UUID) -> bool:
    return (await conn.execute(delete(anchors).where(anchors.c.id == anchor_id))).rowcount > 0


async def delete_anchors_of_sessions(conn: AsyncConnection, session_ids: Sequence[UUID]) -> int:
    stmt = delete(anchors).where(anchors.c.session_id.in_(session_ids))
    return (await conn.execute(stmt)).rowcount
