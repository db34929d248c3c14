"""Work session rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, case, delete, func, insert, or_, select, update
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
    after: UUID | None = None,
    limit: int | None = None,
) -> Sequence[RowMapping]:
    stmt = select(work_sessions).order_by(work_sessions.c.id).limit(limit)
    if after is not None:
        stmt = stmt.where(work_sessions.c.id > after)
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
    stamp_started: datetime | None = None,
    stamp_completed: datetime | None = None,
) -> RowMapping | None:
    """`stamp_started` sets `started_at` unless the row already has one; `stamp_completed`
    sets `completed_at` unless the row is already `done` with one. Both are decided on the
    row as it is when the UPDATE runs (SET reads old values), so the one statement stays
    atomic."""
    values = dict(values)
    if stamp_started is not None:
        values["started_at"] = func.coalesce(work_sessions.c.started_at, stamp_started)
    if stamp_completed is not None:
        already_done = (work_sessions.c.status == "done") & work_sessions.c.completed_at.is_not(
            None
        )
        values["completed_at"] = case(
            (already_done, work_sessions.c.completed_at), else_=stamp_completed
        )
    return await update_versioned(
        conn, work_sessions, session_id, values, expected_version=expected_version
    )


async def work_session_version(conn: AsyncConnection, session_id: UUID) -> int | None:
    return await current_version(conn, work_sessions, session_id)


async def lock_work_sessions(conn: AsyncConnection, ids: Sequence[UUID]) -> None:
    """Lock the sessions' rows until commit (PostgreSQL; SQLite's write transaction holds the
    whole database), so that a delete takes them before their contents, as fenced writes do."""
    stmt = (
        select(work_sessions.c.id)
        .where(work_sessions.c.id.in_(ids))
        .order_by(work_sessions.c.id)
        .with_for_update()
    )
    await conn.execute(stmt)


async def raise_lock_fence(conn: AsyncConnection, session_id: UUID, fence: int) -> bool:
    """Record `fence` as the session's newest lock fence unless a newer one is recorded.

    One UPDATE by primary key. False when no row took it: the session is missing, or a newer
    fence is recorded. The updated row stays locked until commit (on SQLite the transaction
    holds the database's write lock anyway), which queues every other fence raise of the
    session (fenced writes, lock grants) behind this transaction.
    """
    stmt = (
        update(work_sessions)
        .where(
            work_sessions.c.id == session_id,
            or_(work_sessions.c.lock_fence.is_(None), work_sessions.c.lock_fence <= fence),
        )
        .values(lock_fence=fence)
    )
    return (await conn.execute(stmt)).rowcount > 0


_RAISE_FENCES = (
    update(work_sessions)
    .where(
        work_sessions.c.id == bindparam("session_id"),
        or_(
            work_sessions.c.lock_fence.is_(None),
            work_sessions.c.lock_fence <= bindparam("fence"),
        ),
    )
    .values(lock_fence=bindparam("fence"))
)


async def raise_lock_fences(conn: AsyncConnection, fences: Sequence[tuple[UUID, int]]) -> None:
    """`raise_lock_fence` for several sessions in one statement executed for each (one round
    trip on PostgreSQL, one call into SQLite), in the order given: rows are locked in that
    order, so callers give them in session id order, the order every transaction that
    locks several session rows takes them in (`lock_work_sessions`), and none can wait for
    another's."""
    await conn.execute(
        _RAISE_FENCES, [{"session_id": session_id, "fence": fence} for session_id, fence in fences]
    )


async def work_session_exists(conn: AsyncConnection, session_id: UUID) -> bool:
    stmt = select(work_sessions.c.id).where(work_sessions.c.id == session_id)
    return (await conn.execute(stmt)).first() is not None


async def delete_work_sessions(conn: AsyncConnection, ids: Sequence[UUID]) -> int:
    result = await conn.execute(delete(work_sessions).where(work_sessions.c.id.in_(ids)))
    return result.rowcount
