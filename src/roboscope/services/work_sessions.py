"""Work sessions: versioned with optimistic concurrency; deleting one deletes its contents."""

from __future__ import annotations

from uuid import UUID

from ..db import spaces as space_rows
from ..db import work_sessions as rows
from ..db.engine import Database
from ..errors import InvalidReference, NotFound
from ..ids import new_id
from ..wire import SessionType, WorkSession, WorkSessionCreate, WorkSessionStatus, WorkSessionUpdate
from .cascade import delete_work_sessions_with_contents
from .clock import utcnow
from .conditional_writes import refused_write
from .locks import LockToken, enforce_fence, fence_of


def _not_found(session_id: UUID) -> NotFound:
    return NotFound(f"work session {session_id} does not exist")


async def create_work_session(db: Database, body: WorkSessionCreate) -> WorkSession:
    now = utcnow()
    values = {
        "id": new_id(),
        **body.model_dump(),
        "version": 0,
        "created_at": now,
        "updated_at": now,
    }
    async with db.transaction() as conn:
        if not await space_rows.space_exists(conn, body.space_id):
            raise InvalidReference(f"space {body.space_id} does not exist")
        await rows.insert_work_session(conn, values)
    return WorkSession.model_validate(values)


async def list_work_sessions(
    db: Database,
    *,
    space_id: UUID | None,
    status: WorkSessionStatus | None,
    session_type: SessionType | None,
) -> list[WorkSession]:
    async with db.read() as conn:
        found = await rows.list_work_sessions(
            conn, space_id=space_id, status=status, session_type=session_type
        )
    return [WorkSession.model_validate(dict(row)) for row in found]


async def get_work_session(db: Database, session_id: UUID) -> WorkSession:
    async with db.read() as conn:
        row = await rows.get_work_session(conn, session_id)
    if row is None:
        raise _not_found(session_id)
    return WorkSession.model_validate(dict(row))


async def update_work_session(
    db: Database, session_id: UUID, patch: WorkSessionUpdate, *, lock: LockToken | None = None
) -> WorkSession:
    fence = await fence_of(lock, session_id)
    changes = patch.changes()
    async with db.transaction() as conn:
        await enforce_fence(conn, fence)
        if "space_id" in changes and not await space_rows.space_exists(conn, changes["space_id"]):
            raise InvalidReference(f"space {changes['space_id']} does not exist")
        row = await rows.update_work_session(
            conn,
            session_id,
            {**changes, "updated_at": utcnow()},
            expected_version=patch.version,
        )
        if row is None:
            version = await rows.work_session_version(conn, session_id)
            raise refused_write("work session", session_id, version)
    return WorkSession.model_validate(dict(row))


async def delete_work_session(
    db: Database, session_id: UUID, *, lock: LockToken | None = None
) -> None:
    fence = await fence_of(lock, session_id)
    async with db.transaction() as conn:
        await enforce_fence(conn, fence)
        if not await rows.work_session_exists(conn, session_id):
            raise _not_found(session_id)
        await delete_work_sessions_with_contents(conn, [session_id])
