from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from starlette.responses import Response

from ...services import markers
from ...wire import ErrorBody, Marker, MarkerBulkCreate, MarkerCreate, MarkerUpdate
from ..deps import DB, WriteLock
from ..responses import FENCED_WRITE, no_content, wire

router = APIRouter(prefix="/markers", tags=["markers"])


@router.get("", response_model=list[Marker])
async def list_markers(db: DB, work_session_id: UUID | None = None) -> Response:
    """Every marker, or those of one work session (`[]` for an unknown id)."""
    return wire(await markers.list_markers(db, work_session_id=work_session_id))


@router.post("", response_model=Marker, status_code=201, responses=FENCED_WRITE)
async def create_marker(db: DB, lock: WriteLock, body: MarkerCreate) -> Response:
    return wire(await markers.create_marker(db, body, lock=lock), status_code=201)


@router.post("/bulk", response_model=list[Marker], status_code=201, responses=FENCED_WRITE)
async def create_markers(db: DB, lock: WriteLock, body: MarkerBulkCreate) -> Response:
    """All or nothing; the answer lists the created markers in request order."""
    return wire(await markers.create_markers(db, body.markers, lock=lock), status_code=201)


@router.get("/{marker_id}", response_model=Marker)
async def get_marker(db: DB, marker_id: UUID) -> Response:
    return wire(await markers.get_marker(db, marker_id))


@router.patch(
    "/{marker_id}",
    response_model=Marker,
    responses={409: {"model": ErrorBody, "description": "`version` is stale."}, **FENCED_WRITE},
)
async def update_marker(db: DB, lock: WriteLock, marker_id: UUID, body: MarkerUpdate) -> Response:
    return wire(await markers.update_marker(db, marker_id, body, lock=lock))


@router.delete("/{marker_id}", status_code=204, responses=FENCED_WRITE)
async def delete_marker(db: DB, lock: WriteLock, marker_id: UUID) -> Response:
    await markers.delete_marker(db, marker_id, lock=lock)
    return no_content()
