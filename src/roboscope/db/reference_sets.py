"""Reference set rows, versioned like markers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import reference_sets
from .versioned import current_version, update_versioned


async def insert_reference_set(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(insert(reference_sets).values(**values))


async def get_reference_set(conn: AsyncConnection, set_id: UUID) -> RowMapping | None:
    stmt = select(reference_sets).where(reference_sets.c.id == set_id)
    return (await conn.execute(stmt)).mappings().first()


async def list_reference_sets(conn: AsyncConnection, space_id: UUID) -> Sequence[RowMapping]:
    stmt = (
        select(reference_sets)
        .where(reference_sets.c.space_id == space_id)
        .order_by(reference_sets.c.id)
    )
    return (await conn.execute(stmt)).mappings().all()


async def update_reference_set(
    conn: AsyncConnection,
    set_id: UUID,
    values: dict[str, Any],
    *,
    expected_version: int | None,
) -> RowMapping | None:
    return await update_versioned(
        conn, reference_sets, set_id, values, expected_version=expected_version
    )


async def reference_set_version(conn: AsyncConnection, set_id: UUID) -> int | None:
    return await current_version(conn, reference_sets, set_id)


async def delete_reference_set(conn: AsyncConnection, set_id: UUID) -> bool:
    stmt = delete(reference_sets).where(reference_sets.c.id == set_id)
    return (await conn.execute(stmt)).rowcount > 0


async def delete_reference_sets_of_space(conn: AsyncConnection, space_id: UUID) -> int:
    stmt = delete(reference_sets).where(reference_sets.c.space_id == space_id)
    return (await conn.execute(stmt)).rowcount
