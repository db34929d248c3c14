"""Marker details rows: one per marker, keyed by the marker's id."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import marker_details, markers
from .upsert import upsert


async def get_details(conn: AsyncConnection, marker_id: UUID) -> RowMapping | None:
    stmt = select(marker_details).where(marker_details.c.marker_id == marker_id)
    return (await conn.execute(stmt)).mappings().first()


async def upsert_details(
    conn: AsyncConnection, values: dict[str, Any], *, update: Iterable[str]
) -> RowMapping:
    """Create the marker's details from `values`, or overwrite the `update` columns of the
    existing row: one statement, so concurrent callers never collide on the key."""
    return await upsert(conn, marker_details, values, key=["marker_id"], update=update)


async def update_details(
    conn: AsyncConnection, marker_id: UUID, values: dict[str, Any]
) -> RowMapping | None:
    """Overwrite existing details; `None` when the marker has none."""
    stmt = (
        update(marker_details)
        .where(marker_details.c.marker_id == marker_id)
        .values(**values)
        .returning(*marker_details.c)
    )
    return (await conn.execute(stmt)).mappings().first()


async def set_listed(
    conn: AsyncConnection, marker_id: UUID, listed: str, updated_at: datetime
) -> None:
    """The details' text, made from them as they were at `updated_at` (this write's)."""
    stmt = update(marker_details).where(marker_details.c.marker_id == marker_id)
    await conn.execute(stmt.values(listed=listed, listed_at=updated_at))


async def fill_listed(conn: AsyncConnection, filled: Sequence[tuple[UUID, datetime, str]]) -> None:
    """Store (marker id, updated_at, text) where the details are still those of that
    `updated_at` (every write of details moves it)."""
    if not filled:
        return
    stmt = (
        update(marker_details)
        .where(
            marker_details.c.marker_id == bindparam("of_marker"),
            marker_details.c.updated_at == bindparam("at"),
        )
        .values(listed=bindparam("text"), listed_at=bindparam("at"))
    )
    rows = [{"of_marker": i, "at": at, "text": text} for i, at, text in filled]
    await conn.execute(stmt, rows)


async def delete_details(conn: AsyncConnection, marker_id: UUID) -> bool:
    stmt = delete(marker_details).where(marker_details.c.marker_id == marker_id)
    return (await conn.execute(stmt)).rowcount > 0


async def delete_details_of_sessions(conn: AsyncConnection, session_ids: Sequence[UUID]) -> int:
    of_sessions = select(markers.c.id).where(markers.c.work_session_id.in_(session_ids))
    stmt = delete(marker_details).where(marker_details.c.marker_id.in_(of_sessions))
    return (await conn.execute(stmt)).rowcount
