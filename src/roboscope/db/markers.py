"""Marker rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import markers
from .versioned import current_version, update_versioned


async def insert_markers(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(markers), list(rows))


async def get_marker(conn: AsyncConnection, marker_id: UUID) -> RowMapping | None:
    stmt = select(markers).where(markers.c.id == marker_id)
    return (await conn.execute(stmt)).mappings().first()


async def list_markers(
    conn: AsyncConnection, *, work_session_id: UUID | None
) -> Sequence[RowMapping]:
    stmt = select(markers).order_by(markers.c.id)
    if work_session_id is not None:
        stmt = stmt.where(markers.c.work_session_id == work_session_id)
    return (await conn.execute(stmt)).mappings().all()


async def update_marker(
    conn: AsyncConnection,
    marker_id: UUID,
    values: dict[str, Any],
    *,
    expected_version: int | None,
) -> RowMapping | None:
    return await update_versioned(
        conn, markers, marker_id, values, expected_version=expected_version
    )


async def marker_version(conn: AsyncConnection, marker_id: UUID) -> int | None:
    return await current_version(conn, markers, marker_id)


async def delete_marker(conn: AsyncConnection, marker_id: UUID) -> bool:
    result = await conn.execute(delete(markers).where(markers.c.id == marker_id))
    return result.rowcount > 0


async def delete_markers_of_sessions(conn: AsyncConnection, session_ids: Sequence[UUID]) -> int:
    result = await conn.execute(delete(markers).where(markers.c.work_session_id.in_(session_ids)))
    return result.rowcount
