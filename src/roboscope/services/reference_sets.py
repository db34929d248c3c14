"""Reference sets: named lists of reference markers per space, versioned like markers.

Embedded markers without an id get one. Writing a set never changes its space's
`updated_at`.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ..db import reference_sets as rows
from ..db import spaces as space_rows
from ..db.engine import Database
from ..errors import NotFound, VersionConflict
from ..ids import new_id
from ..wire import ReferenceMarkerInput, ReferenceSet, ReferenceSetCreate, ReferenceSetUpdate
from . import changes
from .access import Identity, require
from .clock import utcnow


def _not_found(set_id: UUID) -> NotFound:
    return NotFound(f"reference set {set_id} does not exist")


def _space_not_found(space_id: UUID) -> NotFound:
    return NotFound(f"space {space_id} does not exist")


def _stored_markers(markers: list[ReferenceMarkerInput]) -> list[dict[str, Any]]:
    """As JSON for storage, each with an id (the given one, else a new one)."""
    return [
        {**marker.model_dump(mode="json"), "id": str(marker.id or new_id())} for marker in markers
    ]


async def create_reference_set(
    db: Database, caller: Identity, space_id: UUID, body: ReferenceSetCreate
) -> ReferenceSet:
    """Admin only (editing a set's markers is a write)."""
    require(caller, "admin")
    now = utcnow()
    values = {
        "id": new_id(),
        "space_id": space_id,
        "name": body.name,
        "description": body.description,
        "markers": _stored_markers(body.markers),
        "version": 0,
        "created_at": now,
        "updated_at": now,
    }
    async with db.transaction() as conn:
        if not await space_rows.space_exists(conn, space_id):
            raise _space_not_found(space_id)
        await rows.insert_reference_set(conn, values)
        created = ReferenceSet.model_validate(values)
        await changes.record(conn, "created", "reference_set", [created], by=caller)
    return created


async def list_reference_sets(db: Database, space_id: UUID) -> list[ReferenceSet]:
    """`[]` when the space has none; 404 when the space does not exist."""
    async with db.read() as conn:
        if not await space_rows.space_exists(conn, space_id):
            raise _space_not_found(space_id)
        found = await rows.list_reference_sets(conn, space_id)
    return [ReferenceSet.model_validate(dict(row)) for row in found]


async def get_reference_set(db: Database, set_id: UUID) -> ReferenceSet:
    async with db.read() as conn:
        row = await rows.get_reference_set(conn, set_id)
    if row is None:
        raise _not_found(set_id)
    return ReferenceSet.model_validate(dict(row))


async def update_reference_set(
    db: Database, caller: Identity, set_id: UUID, patch: ReferenceSetUpdate
) -> ReferenceSet:
    edits = patch.changes()
    if patch.markers is not None:
        edits["markers"] = _stored_markers(patch.markers)
    async with db.transaction() as conn:
        row = await rows.update_reference_set(
            conn, set_id, {**edits, "updated_at": utcnow()}, expected_version=patch.version
        )
        if row is None:
            current = await rows.reference_set_version(conn, set_id)
            if current is None:
                raise _not_found(set_id)
            raise VersionConflict("reference set", current)
        updated = ReferenceSet.model_validate(dict(row))
        await changes.record(conn, "updated", "reference_set", [updated], by=caller)
    return updated


async def delete_reference_set(db: Database, caller: Identity, set_id: UUID) -> None:
    require(caller, "admin")
    async with db.transaction() as conn:
        row = await rows.get_reference_set(conn, set_id)
        if row is None or not await rows.delete_reference_set(conn, set_id):
            raise _not_found(set_id)
        gone = changes.tombstone(id=set_id, space_id=row["space_id"])
        await changes.record(conn, "deleted", "reference_set", [gone], by=caller)
