from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from starlette.responses import Response

from ...services import spaces
from ...wire import Space, SpaceCreate, SpaceUpdate
from ..auth import Caller
from ..deps import DB
from ..lists import list_response
from ..params import IdempotencyKey, Paging, answered
from ..responses import no_content, wire

router = APIRouter(prefix="/spaces", tags=["spaces"])


@router.get("", response_model=list[Space])
async def list_spaces(
    request: Request,
    db: DB,
    paging: Paging,
    key: str | None = None,
    include_inactive: bool = False,
) -> Response:
    """Active spaces, unless `include_inactive=true`; `key` filters on the space key."""
    found = await spaces.list_spaces(db, key=key, include_inactive=include_inactive, paging=paging)
    return list_response(request, found)


@router.post("", response_model=Space, status_code=201)
async def create_space(caller: Caller, db: DB, once: IdempotencyKey, body: SpaceCreate) -> Response:
    """Admin scope (when auth is on)."""
    return answered(await spaces.create_space(db, caller, body, once=once))


@router.get("/{space_id}", response_model=Space)
async def get_space(db: DB, space_id: UUID) -> Response:
    return wire(await spaces.get_space(db, space_id))


@router.patch("/{space_id}", response_model=Space)
async def update_space(caller: Caller, db: DB, space_id: UUID, body: SpaceUpdate) -> Response:
    """Absent fields stay unchanged; `updated_at` moves only when a value really changes."""
    return wire(await spaces.update_space(db, caller, space_id, body))


@router.delete("/{space_id}", status_code=204)
async def delete_space(caller: Caller, db: DB, space_id: UUID) -> Response:
    """Deletes the space with its work sessions and everything in them; admin scope."""
    await spaces.delete_space(db, caller, space_id)
    return no_content()
