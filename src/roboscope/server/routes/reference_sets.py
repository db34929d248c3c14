from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from starlette.responses import Response

from ...services import reference_sets
from ...wire import ErrorBody, ReferenceSet, ReferenceSetCreate, ReferenceSetUpdate
from ..auth import Caller
from ..deps import DB
from ..responses import no_content, wire

router = APIRouter(tags=["reference sets"])


@router.get("/spaces/{space_id}/reference-sets", response_model=list[ReferenceSet])
async def list_reference_sets(db: DB, space_id: UUID) -> Response:
    """The space's reference sets, `[]` when none; 404 when the space does not exist."""
    return wire(await reference_sets.list_reference_sets(db, space_id))


@router.post("/spaces/{space_id}/reference-sets", response_model=ReferenceSet, status_code=201)
async def create_reference_set(
    caller: Caller, db: DB, space_id: UUID, body: ReferenceSetCreate
) -> Response:
    """Embedded markers without an `id` get one; the new set has version 0. Admin scope
    (when auth is on)."""
    created = await reference_sets.create_reference_set(db, caller, space_id, body)
    return wire(created, status_code=201)


@router.get("/reference-sets/{set_id}", response_model=ReferenceSet)
async def get_reference_set(db: DB, set_id: UUID) -> Response:
    return wire(await reference_sets.get_reference_set(db, set_id))


@router.patch(
    "/reference-sets/{set_id}",
    response_model=ReferenceSet,
    responses={409: {"model": ErrorBody, "description": "`version` is stale."}},
)
async def update_reference_set(
    caller: Caller, db: DB, set_id: UUID, body: ReferenceSetUpdate
) -> Response:
    """With `version`, applied only if it is the stored version (else 409 with
    `current_version`); `markers` replaces the whole list."""
    return wire(await reference_sets.update_reference_set(db, caller, set_id, body))


@router.delete("/reference-sets/{set_id}", status_code=204)
async def delete_reference_set(caller: Caller, db: DB, set_id: UUID) -> Response:
    """Admin scope (when auth is on)."""
    await reference_sets.delete_reference_set(db, caller, set_id)
    return no_content()
