from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from starlette.responses import Response

from ...services import markers, work_sessions
from ...wire import (
    ErrorBody,
    Marker,
    SessionType,
    WorkSession,
    WorkSessionCreate,
    WorkSessionStatus,
    WorkSessionUpdate,
)
from ..deps import DB, WriteLock
from ..responses import FENCED_WRITE, no_content, wire

router = APIRouter(prefix="/work-sessions", tags=["work sessions"])


@router.get("", response_model=list[WorkSession])
async def list_work_sessions(
    db: DB,
    space_id: UUID | None = None,
    status: WorkSessionStatus | None = None,
    session_type: SessionType | None = None,
) -> Response:
    return wire(
        await work_sessions.list_work_sessions(
            db, space_id=space_id, status=status, session_type=session_type
        )
    )


@router.post("", response_model=WorkSession, status_code=201)
async def create_work_session(db: DB, body: WorkSessionCreate) -> Response:
    """`status` defaults to `draft`; the new session has version 0."""
    return wire(await work_sessions.create_work_session(db, body), status_code=201)


@router.get("/{session_id}", response_model=WorkSession)
async def get_work_session(db: DB, session_id: UUID) -> Response:
    return wire(await work_sessions.get_work_session(db, session_id))


@router.get("/{session_id}/markers", response_model=list[Marker])
async def list_work_session_markers(db: DB, session_id: UUID) -> Response:
    """The session's markers, as `GET /markers?work_session_id=`; 404 if the session does not
    exist (the filtered list answers `[]` instead)."""
    return wire(await markers.list_markers_of_session(db, session_id))


@router.patch(
    "/{session_id}",
    response_model=WorkSession,
    responses={409: {"model": ErrorBody, "description": "`version` is stale."}, **FENCED_WRITE},
)
async def update_work_session(
    db: DB, lock: WriteLock, session_id: UUID, body: WorkSessionUpdate
) -> Response:
    """With `version`, applied only if it is the stored version (else 409 with
    `current_version`); every successful update adds 1 to the version."""
    return wire(await work_sessions.update_work_session(db, session_id, body, lock=lock))


@router.delete("/{session_id}", status_code=204, responses=FENCED_WRITE)
async def delete_work_session(db: DB, lock: WriteLock, session_id: UUID) -> Response:
    """Deletes the session with its markers, their details, and its anchors, in one
    transaction."""
    await work_sessions.delete_work_session(db, session_id, lock=lock)
    return no_content()
