from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
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
from ...wire.changes import CURSOR_HEADER
from ..auth import Caller
from ..deps import DB, WriteLock
from ..lists import list_response
from ..params import IdempotencyKey, MaxListItems, Paging, answered
from ..responses import FENCED_WRITE, no_content, wire

router = APIRouter(prefix="/work-sessions", tags=["work sessions"])


@router.get("", response_model=list[WorkSession])
async def list_work_sessions(
    request: Request,
    db: DB,
    paging: Paging,
    space_id: UUID | None = None,
    status: WorkSessionStatus | None = None,
    session_type: SessionType | None = None,
) -> Response:
    found = await work_sessions.list_work_sessions(
        db, space_id=space_id, status=status, session_type=session_type, paging=paging
    )
    return list_response(request, found)


@router.post("", response_model=WorkSession, status_code=201)
async def create_work_session(
    caller: Caller, db: DB, once: IdempotencyKey, body: WorkSessionCreate
) -> Response:
    """`status` defaults to `draft`; the new session has version 0. `started_at` is stamped
    when it is created `active`, `completed_at` when created `done`, unless sent."""
    return answered(await work_sessions.create_work_session(db, caller, body, once=once))


@router.get("/{session_id}", response_model=WorkSession)
async def get_work_session(db: DB, session_id: UUID) -> Response:
    """`X-Roboscope-Cursor`: the change log cursor to stream the session's changes after."""
    session, cursor = await work_sessions.get_work_session(db, session_id)
    return wire(session, headers={CURSOR_HEADER: str(cursor)})


@router.get(
    "/{session_id}/markers",
    response_model=list[Marker],
    responses={422: {"model": ErrorBody, "description": "`list_too_large`: page instead."}},
)
async def list_work_session_markers(
    request: Request, db: DB, max_items: MaxListItems, paging: Paging, session_id: UUID
) -> Response:
    """The session's markers, as `GET /markers?work_session_id=`; 404 if the session does not
    exist (the filtered list answers `[]` instead). Without `limit`, more than
    ROBOSCOPE_MAX_LIST_ITEMS markers get `422 list_too_large`."""
    found = await markers.list_markers_of_session(
        db, session_id, paging=paging, max_items=max_items
    )
    return list_response(request, found)


@router.patch(
    "/{session_id}",
    response_model=WorkSession,
    responses={409: {"model": ErrorBody, "description": "`version` is stale."}, **FENCED_WRITE},
)
async def update_work_session(
    caller: Caller, db: DB, lock: WriteLock, session_id: UUID, body: WorkSessionUpdate
) -> Response:
    """With `version`, applied only if it is the stored version (else 409 with
    `current_version`); every successful update adds 1 to the version. Setting `status` to
    `active` stamps `started_at` if the session has none; to `done`, `completed_at` (unless
    the session is already done); a value sent in the same PATCH wins."""
    return wire(await work_sessions.update_work_session(db, caller, session_id, body, lock=lock))


@router.delete("/{session_id}", status_code=204, responses=FENCED_WRITE)
async def delete_work_session(
    caller: Caller, db: DB, lock: WriteLock, session_id: UUID
) -> Response:
    """Deletes the session with its markers, their details, and its anchors, in one
    transaction."""
    await work_sessions.delete_work_session(db, caller, session_id, lock=lock)
    return no_content()
