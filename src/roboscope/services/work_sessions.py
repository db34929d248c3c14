"""Work sessions: versioned with optimistic concurrency; deleting one deletes its contents.

The server stamps `started_at` when a session first becomes `active` and `completed_at` when
it becomes `done`, unless the request sends that field itself (its value, even `null`, wins).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from ..db import spaces as space_rows
from ..db import work_sessions as rows
from ..db.engine import Database
from ..errors import InvalidReference, NotFound
from ..ids import new_id
from ..wire import SessionType, WorkSession, WorkSessionCreate, WorkSessionStatus, WorkSessionUpdate
from . import changes
from .access import Identity
from .cascade import delete_work_sessions_with_contents
from .clock import utcnow
from .conditional_writes import refused_write
from .idempotency import Answer, Once, write_once
from .locks import LockToken, enforce_fence, fence_of
from .paging import WHOLE_LIST, Page, PageRequest, page


def _not_found(session_id: UUID) -> NotFound:
    return NotFound(f"work session {session_id} does not exist")


def _listed(row: Mapping[str, Any]) -> WorkSession:
    return WorkSession.model_validate(dict(row))


def _row_id(row: Mapping[str, Any]) -> UUID:
    row_id: UUID = row["id"]
    return row_id


def _stamps(
    status: WorkSessionStatus | None, sent: set[str], now: datetime
) -> tuple[datetime | None, datetime | None]:
    """(started, completed): the times to stamp for a write that sets `status`."""
    started = now if status is WorkSessionStatus.active and "started_at" not in sent else None
    completed = now if status is WorkSessionStatus.done and "completed_at" not in sent else None
    return started, completed


async def create_work_session(
    db: Database, caller: Identity, body: WorkSessionCreate, *, once: Once | None = None
) -> Answer:
    """With `once`, a repeated `Idempotency-Key` replays the first answer."""
    now = utcnow()
    values = {
        "id": new_id(),
        **body.model_dump(),
        "version": 0,
        "created_at": now,
        "updated_at": now,
    }
    started, completed = _stamps(body.status, body.model_fields_set, now)
    if started is not None:
        values["started_at"] = started
    if completed is not None:
        values["completed_at"] = completed

    async def write(conn: AsyncConnection) -> WorkSession:
        if not await space_rows.space_exists(conn, body.space_id):
            raise InvalidReference(f"space {body.space_id} does not exist")
        await rows.insert_work_session(conn, values)
        session = WorkSession.model_validate(values)
        await changes.record(conn, "created", "work_session", [session], by=caller)
        return session

    return await write_once(db, once, write)


async def list_work_sessions(
    db: Database,
    *,
    space_id: UUID | None,
    status: WorkSessionStatus | None,
    session_type: SessionType | None,
    paging: PageRequest = WHOLE_LIST,
) -> Page[WorkSession]:
    async with db.read() as conn:
        found = await rows.list_work_sessions(
            conn,
            space_id=space_id,
            status=status,
            session_type=session_type,
            after=paging.after,
            limit=paging.fetch,
        )
    return page(found, paging, _listed, _row_id)


async def get_work_session(db: Database, session_id: UUID) -> tuple[WorkSession, int]:
    """The session, and the change log cursor it is as of (read in one snapshot)."""
    async with db.snapshot() as conn:
        cursor = await changes.current_cursor(conn)
        row = await rows.get_work_session(conn, session_id)
    if row is None:
        raise _not_found(session_id)
    return WorkSession.model_validate(dict(row)), cursor


async def update_work_session(
    db: Database,
    caller: Identity,
    session_id: UUID,
    patch: WorkSessionUpdate,
    *,
    lock: LockToken | None = None,
) -> WorkSession:
    fence = await fence_of(lock, session_id)
    edits = patch.changes()
    now = utcnow()
    started, completed = _stamps(patch.status, patch.model_fields_set, now)
    async with db.transaction() as conn:
        await enforce_fence(conn, fence)
        if "space_id" in edits and not await space_rows.space_exists(conn, edits["space_id"]):
            raise InvalidReference(f"space {edits['space_id']} does not exist")
        row = await rows.update_work_session(
            conn,
            session_id,
            {**edits, "updated_at": now},
            expected_version=patch.version,
            stamp_started=started,
            stamp_completed=completed,
        )
        if row is None:
            version = await rows.work_session_version(conn, session_id)
            raise refused_write("work session", session_id, version)
        session = WorkSession.model_validate(dict(row))
        await changes.record(conn, "updated", "work_session", [session], by=caller)
    return session


async def delete_work_session(
    db: Database, caller: Identity, session_id: UUID, *, lock: LockToken | None = None
) -> None:
    fence = await fence_of(lock, session_id)
    async with db.transaction() as conn:
        await enforce_fence(conn, fence)
        row = await rows.get_work_session(conn, session_id)
        if row is None:
            raise _not_found(session_id)
        await delete_work_sessions_with_contents(conn, [session_id])
        gone = changes.tombstone(id=session_id, space_id=row["space_id"])
        await changes.record(conn, "deleted", "work_session", [gone], by=caller)
