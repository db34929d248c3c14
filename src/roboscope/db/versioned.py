"""Optimistic concurrency in one statement.

`UPDATE … SET …, version = version + 1 WHERE id = :id [AND version = :v] RETURNING …`: the
check and the write are one atomic step on every database, so two clients holding the same
version can never both win. No row back means "missing or stale"; the caller tells which with
`current_version`. (Lock fencing is a separate statement on the work session's row, run first
in the same transaction: see `work_sessions.raise_lock_fence`.)
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Table, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection


async def update_versioned(
    conn: AsyncConnection,
    table: Table,
    row_id: UUID,
    values: dict[str, Any],
    *,
    expected_version: int | None,
) -> RowMapping | None:
    stmt = (
        update(table)
        .where(table.c.id == row_id)
        .values(**values, version=table.c.version + 1)
        .returning(*table.c)
    )
    if expected_version is not None:
        stmt = stmt.where(table.c.version == expected_version)
    return (await conn.execute(stmt)).mappings().first()


async def current_version(conn: AsyncConnection, table: Table, row_id: UUID) -> int | None:
    return (await conn.execute(select(table.c.version).where(table.c.id == row_id))).scalar()
