"""Optimistic concurrency and lock fencing in one statement.

`UPDATE … SET …, version = version + 1 WHERE id = :id [AND version = :v]
[AND (lock_fence IS NULL OR lock_fence <= :fence)] RETURNING …`: the checks and the write are
one atomic step on every database, so two clients holding the same version can never both
win, and a writer whose lock was taken over can never overwrite what the newer holder wrote.
No row back means "missing, stale or fenced off"; the caller tells which with `write_state`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Table, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True, slots=True)
class WriteState:
    version: int
    lock_fence: int | None


def fence_allows(table: Table, fence: int) -> ColumnElement[bool]:
    """A row accepts a fenced write unless a newer lock grant has already written it."""
    return or_(table.c.lock_fence.is_(None), table.c.lock_fence <= fence)


async def update_versioned(
    conn: AsyncConnection,
    table: Table,
    row_id: UUID,
    values: dict[str, Any],
    *,
    expected_version: int | None,
    fence: int | None = None,
) -> RowMapping | None:
    stmt = (
        update(table)
        .where(table.c.id == row_id)
        .values(**values, version=table.c.version + 1)
        .returning(*table.c)
    )
    if expected_version is not None:
        stmt = stmt.where(table.c.version == expected_version)
    if fence is not None:
        stmt = stmt.where(fence_allows(table, fence)).values(lock_fence=fence)
    return (await conn.execute(stmt)).mappings().first()


async def current_version(conn: AsyncConnection, table: Table, row_id: UUID) -> int | None:
    return (await conn.execute(select(table.c.version).where(table.c.id == row_id))).scalar()


async def write_state(conn: AsyncConnection, table: Table, row_id: UUID) -> WriteState | None:
    stmt = select(table.c.version, table.c.lock_fence).where(table.c.id == row_id)
    row = (await conn.execute(stmt)).first()
    return None if row is None else WriteState(version=row.version, lock_fence=row.lock_fence)
