from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from starlette.responses import Response

from ...services import anchors
from ...wire import Anchor, AnchorUpdate, AnchorUpsert, ErrorBody
from ..auth import Caller
from ..deps import DB, WriteLock
from ..responses import FENCED_WRITE, no_content, wire

router = APIRouter(prefix="/anchors", tags=["anchors"])


@router.get("", response_model=list[Anchor])
async def list_anchors(db: DB, session_id: UUID | None = None) -> Response:
    """The anchors of one work session (`[]` for an unknown id), or every anchor without
    `session_id`."""
    return wire(await anchors.list_anchors(db, session_id=session_id))


@router.post(
    "",
    response_model=Anchor,
    status_code=201,
    responses={
        200: {"model": Anchor, "description": "The anchor of this key existed; it was moved."},
        422: {"model": ErrorBody, "description": "Invalid body, or no such work session."},
        **FENCED_WRITE,
    },
)
async def upsert_anchor(caller: Caller, db: DB, lock: WriteLock, body: AnchorUpsert) -> Response:
    """Upsert on (session_id, run, local_z), `local_z` matched exactly: 201 with a new anchor,
    or 200 with the existing anchor (same id) at the new `world_position`. Never a 409."""
    anchor, created = await anchors.upsert_anchor(db, caller, body, lock=lock)
    return wire(anchor, status_code=201 if created else 200)


@router.get("/{anchor_id}", response_model=Anchor)
async def get_anchor(db: DB, anchor_id: UUID) -> Response:
    return wire(await anchors.get_anchor(db, anchor_id))


@router.patch("/{anchor_id}", response_model=Anchor, responses=FENCED_WRITE)
async def update_anchor(
    caller: Caller, db: DB, lock: WriteLock, anchor_id: UUID, body: AnchorUpdate
) -> Response:
    """Moves the anchor to `world_position`."""
    return wire(await anchors.update_anchor(db, caller, anchor_id, body, lock=lock))


@router.delete("/{anchor_id}", status_code=204, responses=FENCED_WRITE)
async def delete_anchor(caller: Caller, db: DB, lock: WriteLock, anchor_id: UUID) -> Response:
    await anchors.delete_anchor(db, caller, anchor_id, lock=lock)
    return no_content()
