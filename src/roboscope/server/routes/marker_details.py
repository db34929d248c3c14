from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter
from starlette.responses import Response

from ...services import marker_details
from ...wire import ErrorBody, MarkerDetails, MarkerDetailsPut
from ..auth import Caller
from ..deps import DB, WriteLock
from ..responses import FENCED_WRITE, no_content, wire

router = APIRouter(prefix="/markers/{marker_id}/details", tags=["marker details"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such marker, or no details yet."}
}


@router.get("", response_model=MarkerDetails, responses=_NOT_FOUND)
async def get_details(db: DB, marker_id: UUID) -> Response:
    """404 until the details have been calculated (or stored with `PUT`)."""
    return wire(await marker_details.get_details(db, marker_id))


@router.post("/calculate", response_model=MarkerDetails, responses=FENCED_WRITE)
async def calculate_details(caller: Caller, db: DB, lock: WriteLock, marker_id: UUID) -> Response:
    """Compute the details from the marker's points and store them (an idempotent upsert;
    the marker's version is unchanged). The body (the app sends `{}`) is ignored."""
    return wire(await marker_details.calculate_details(db, caller, marker_id, lock=lock))


@router.put("", response_model=MarkerDetails, responses=FENCED_WRITE)
async def put_details(
    caller: Caller, db: DB, lock: WriteLock, marker_id: UUID, body: MarkerDetailsPut
) -> Response:
    """Store the given values (admin portal); recomputed whenever the marker's points change."""
    return wire(await marker_details.put_details(db, caller, marker_id, body, lock=lock))


@router.delete("", status_code=204, responses={**_NOT_FOUND, **FENCED_WRITE})
async def delete_details(caller: Caller, db: DB, lock: WriteLock, marker_id: UUID) -> Response:
    await marker_details.delete_details(db, caller, marker_id, lock=lock)
    return no_content()
