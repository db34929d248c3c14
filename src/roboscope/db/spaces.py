"""Space rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import spaces


async def insert_space(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(insert(spaces).values(**values))


async def get_space(
    conn: AsyncConnection, space_id: UUID, *, for_update: bool = False
) -> RowMapping | None:
    stmt = select(spaces).where(spaces.c.id == space_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await conn.execute(stmt)).mappings().first()


async def list_spaces(
    conn: AsyncConnection,
    *,
    key: str | None,
    include_inactive: bool,
    after: UUID | None = None,
    limit: int | None = None,
) -> Sequence[RowMapping]:
    stmt = select(spaces).order_by(spaces.c.id).limit(limit)
    if after is not None:
        stmt = stmt.where(spaces.c.id > after)
    if key is not None:
        stmt = stmt.where(spaces.c.key == key)
    if not include_inactive:
        stmt = stmt.where(spaces.c.is_active.is_(True))
    return (await conn.execute(stmt)).mappings().all()


async def space_exists(conn: AsyncConnection, space_id: UUID) -> bool:
    stmt = select(spaces.c.id).where(spaces.c.id == space_id)
    return (await conn.execute(stmt)).first() is not None


async def update_space(
    conn: AsyncConnection, space_id: UUID, values: dict[str, Any]
) -> RowMapping | None:
    stmt = update(spaces).where(spaces.c.id == space_id).values(**values).returning(*spaces.c)
    return (await conn.execute(stmt)).mappings().first()


async def delete_space(conn: AsyncConnection, space_id: UUID) -> bool:
    result = await conn.execute(delete(spaces).where(spaces.c.id == space_id))
    return result.rowcount > 0
