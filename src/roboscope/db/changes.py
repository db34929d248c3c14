"""Change log rows: appended in the writer's transaction, read by cursor."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.selectable import ScalarSelect

from .tables import change_counter, changes, work_sessions

_COUNTER_ID = 1


async def append(conn: AsyncConnection, records: Sequence[dict[str, Any]]) -> list[int]:
    """Give `records` the next cursors and insert them; answers the cursors.

    Bumping the counter row locks it until the transaction ends, so transactions that
    append commit in cursor order. Callers append last, just before commit, to hold that
    lock as briefly as possible.
    """
    if not records:
        return []
    stmt = (
        update(change_counter)
        .where(change_counter.c.id == _COUNTER_ID)
        .values(last_cursor=change_counter.c.last_cursor + len(records))
        .returning(change_counter.c.last_cursor)
    )
    last = (await conn.execute(stmt)).scalar_one()
    first = last - len(records) + 1
    cursors = list(range(first, last + 1))
    await conn.execute(
        insert(changes),
        [{**record, "cursor": cursor} for record, cursor in zip(records, cursors, strict=True)],
    )
    return cursors


async def fill_space_ids(conn: AsyncConnection, records: Sequence[dict[str, Any]]) -> None:
    """Records of entities inside a work session get the session's space (one query)."""
    wanted = {r["work_session_id"] for r in records if r["space_id"] is None}
    wanted.discard(None)
    if not wanted:
        return
    stmt = select(work_sessions.c.id, work_sessions.c.space_id).where(
        work_sessions.c.id.in_(wanted)
    )
    space_of = dict((await conn.execute(stmt)).all())
    for record in records:
        if record["space_id"] is None:
            record["space_id"] = space_of.get(record["work_session_id"])


_SESSION_AND_COUNTER = select(
    select(work_sessions.c.id).where(work_sessions.c.id == bindparam("session_id")).exists(),
    change_counter.c.last_cursor,
    change_counter.c.purged_through,
).where(change_counter.c.id == _COUNTER_ID)
"""Built once: a statement made per call costs more than executing it (SQLAlchemy's cache
key is memoized on the statement object)."""


async def session_and_counter(conn: AsyncConnection, session_id: UUID) -> tuple[bool, int, int]:
    """(whether the work session exists, `counter()`), in one statement: all that opening
    the session's live stream reads (one statement sees one state of the database)."""
    result = await conn.execute(_SESSION_AND_COUNTER, {"session_id": session_id})
    found, last, purged = result.one()
    return bool(found), int(last), int(purged)


def last_cursor() -> ScalarSelect[int]:
    """The last cursor committed, as an expression: a read that needs it beside other values
    gets them all in one statement (the marker lists' `db.markers.list_state`)."""
    stmt = select(change_counter.c.last_cursor).where(change_counter.c.id == _COUNTER_ID)
    return stmt.scalar_subquery()


async def counter(conn: AsyncConnection) -> tuple[int, int]:
    """(the last cursor committed, the newest cursor removed by retention)."""
    stmt = select(change_counter.c.last_cursor, change_counter.c.purged_through).where(
        change_counter.c.id == _COUNTER_ID
    )
    last, purged = (await conn.execute(stmt)).one()
    return int(last), int(purged)


async def list_changes(
    conn: AsyncConnection,
    *,
    after: int,
    limit: int,
    work_session_id: UUID | None = None,
    space_id: UUID | None = None,
    entity: str | None = None,
    entity_id: UUID | None = None,
) -> Sequence[RowMapping]:
    stmt = select(changes).where(changes.c.cursor > after).order_by(changes.c.cursor).limit(limit)
    if work_session_id is not None:
        stmt = stmt.where(changes.c.work_session_id == work_session_id)
    if space_id is not None:
        stmt = stmt.where(changes.c.space_id == space_id)
    if entity is not None:
        stmt = stmt.where(changes.c.entity == entity)
    if entity_id is not None:
        stmt = stmt.where(changes.c.entity_id == entity_id)
    return (await conn.execute(stmt)).mappings().all()


async def sessions_changed_after(conn: AsyncConnection, after: int) -> set[UUID]:
    """The work sessions with changes after `after`."""
    stmt = (
        select(changes.c.work_session_id)
        .where(changes.c.cursor > after, changes.c.work_session_id.is_not(None))
        .distinct()
    )
    return set((await conn.execute(stmt)).scalars())


async def purge(conn: AsyncConnection, *, older_than: datetime, keep_last: int, batch: int) -> int:
    """Remove up to `batch` of the oldest changes that are older than `older_than` or beyond
    the newest `keep_last`, and raise `purged_through` past them. Answers how many went.

    Only a prefix of the log goes: a hole in the middle would hide changes from a reader
    whose cursor is before it without the 410 that tells it to reload.
    """
    last, _ = await counter(conn)
    by_count = last - keep_last
    expired = (changes.c.cursor <= by_count) | (changes.c.created_at < older_than)
    oldest = select(changes.c.cursor, expired).order_by(changes.c.cursor).limit(batch)
    through = 0
    for cursor, is_expired in (await conn.execute(oldest)).all():
        if not is_expired:
            break
        through = int(cursor)
    if not through:
        return 0
    removed = await conn.execute(delete(changes).where(changes.c.cursor <= through))
    await conn.execute(
        update(change_counter)
        .where(change_counter.c.id == _COUNTER_ID, change_counter.c.purged_through < through)
        .values(purged_through=through)
    )
    return int(removed.rowcount or 0)
