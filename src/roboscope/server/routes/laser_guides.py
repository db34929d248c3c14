from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter
from starlette.responses import Response

from ...services import laser_guides
from ...wire import ErrorBody, LaserGuide, LaserGuidePut
from ..auth import Caller
from ..deps import DB
from ..responses import no_content, wire

router = APIRouter(prefix="/spaces/{space_id}/laser-guide", tags=["laser guides"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such space, or it has no guide."}
}


@router.get("", response_model=LaserGuide, responses=_NOT_FOUND)
async def get_laser_guide(db: DB, space_id: UUID) -> Response:
    """404 when the space has no laser guide (the message tells whether the space exists)."""
    return wire(await laser_guides.get_laser_guide(db, space_id))


@router.put(
    "",
    response_model=LaserGuide,
    responses={
        201: {"model": LaserGuide, "description": "The guide was created."},
        404: {"model": ErrorBody, "description": "No such space."},
    },
)
async def put_laser_guide(caller: Caller, db: DB, space_id: UUID, body: LaserGuidePut) -> Response:
    """Create (201) or replace (200) the space's guide; the space's `updated_at` is kept.
    Admin scope (when auth is on)."""
    guide, created = await laser_guides.put_laser_guide(db, caller, space_id, body)
    return wire(guide, status_code=201 if created else 200)


@router.delete("", status_code=204, responses=_NOT_FOUND)
async def delete_laser_guide(caller: Caller, db: DB, space_id: UUID) -> Response:
    """Admin scope (when auth is on)."""
    await laser_guides.delete_laser_guide(db, caller, space_id)
    return no_content()
