"""Work session rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import work_sessions
from .versioned import current_version, update_versioned


async def insert_work_session(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(insert(work_sessions).values(**values))


async def get_work_session(conn: AsyncConnection, session_id: UUID) -> RowMapping | None:
    stmt = select(work_sessions).where(work_sessions.c.id == session_id)
    return (await conn.execute(stmt)).mappings().first()


async def list_work_sessions(
    conn: AsyncConnection,
    *,
    space_id: UUID | None,
    status: str | None,
    session_type: str | None,
) -> Sequence[RowMapping]:
    stmt = select(work_sessions).order_by(work_sessions.c.id)
    if space_id is not None:
        stmt = stmt.where(work_sessions.c.space_id == space_id)
    if status is not None:
        stmt = stmt.where(work_sessions.c.status == status)
    if session_type is not None:
        stmt = stmt.where(work_sessions.c.session_type == session_type)
    return (await conn.execute(stmt)).mappings().all()


async def existing_work_session_ids(conn: AsyncConnection, ids: set[UUID]) -> set[UUID]:
    stmt = select(work_sessions.c.id).where(work_sessions.c.id.in_(ids))
    return set((await conn.execute(stmt)).scalars())


async def work_session_ids_of_space(conn: AsyncConnection, space_id: UUID) -> list[UUID]:
    stmt = select(work_sessions.c.id).where(work_sessions.c.space_id == space_id)
    return list((await conn.execute(stmt)).scalars())


async def update_work_session(
    conn: AsyncConnection,
    session_id: UUID,
    values: dict[str, Any],
    *,
    expected_version: int | None,
) -> RowMapping | None:
    return await update_versioned(
        conn, work_sessions, session_id, values, expected_version=expected_version
    )


async def work_session_version(conn: AsyncConnection, session_id: UUID) -> int | None:
    return await current_version(conn, work_sessions, session_id)


async def delete_work_sessions(conn: AsyncConnection, ids: Sequence[UUID]) -> int:
    result = await conn.execute(delete(work_sessions).where(work_sessions.c.id.in_(ids)))
    return result.rowcount
