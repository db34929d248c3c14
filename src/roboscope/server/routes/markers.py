from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from starlette.responses import Response

from ...services import markers
from ...wire import ErrorBody, Marker, MarkerBulkCreate, MarkerCreate, MarkerUpdate
from ..auth import Caller
from ..deps import DB, WriteLock
from ..lists import list_response
from ..params import IdempotencyKey, MaxListItems, Paging, answered
from ..responses import FENCED_WRITE, no_content, wire

router = APIRouter(prefix="/markers", tags=["markers"])


@router.get(
    "",
    response_model=list[Marker],
    responses={422: {"model": ErrorBody, "description": "`list_too_large`: page (or filter)."}},
)
async def list_markers(
    request: Request,
    db: DB,
    max_items: MaxListItems,
    paging: Paging,
    work_session_id: UUID | None = None,
) -> Response:
    """Every marker, or those of one work session (`[]` for an unknown id). Without `limit`,
    more than ROBOSCOPE_MAX_LIST_ITEMS markers get `422 list_too_large`."""
    found = await markers.list_markers(
        db, work_session_id=work_session_id, paging=paging, max_items=max_items
    )
    return list_response(request, found)


@router.post("", response_model=Marker, status_code=201, responses=FENCED_WRITE)
async def create_marker(
    caller: Caller, db: DB, lock: WriteLock, once: IdempotencyKey, body: MarkerCreate
) -> Response:
    return answered(await markers.create_marker(db, caller, body, lock=lock, once=once))


@router.post("/bulk", response_model=list[Marker], status_code=201, responses=FENCED_WRITE)
async def create_markers(
    caller: Caller, db: DB, lock: WriteLock, once: IdempotencyKey, body: MarkerBulkCreate
) -> Response:
    """All or nothing; the answer lists the created markers in request order."""
    return answered(await markers.create_markers(db, caller, body.markers, lock=lock, once=once))


@router.get("/{marker_id}", response_model=Marker)
async def get_marker(db: DB, marker_id: UUID) -> Response:
    return wire(await markers.get_marker(db, marker_id))


@router.patch(
    "/{marker_id}",
    response_model=Marker,
    responses={409: {"model": ErrorBody, "description": "`version` is stale."}, **FENCED_WRITE},
)
async def update_marker(
    caller: Caller, db: DB, lock: WriteLock, marker_id: UUID, body: MarkerUpdate
) -> Response:
    return wire(await markers.update_marker(db, caller, marker_id, body, lock=lock))


@router.delete("/{marker_id}", status_code=204, responses=FENCED_WRITE)
async def delete_marker(caller: Caller, db: DB, lock: WriteLock, marker_id: UUID) -> Response:
    await markers.delete_marker(db, caller, marker_id, lock=lock)
    return no_content()
