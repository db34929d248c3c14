"""Markers: created singly or in bulk (all or nothing), versioned like work sessions.

Marker writes never touch their work session's version: the app edits markers while other
devices hold the session's version for their own session edits.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ..db import markers as rows
from ..db import work_sessions as session_rows
from ..db.engine import Database
from ..errors import InvalidReference, NotFound, VersionConflict
from ..ids import new_id
from ..wire import Marker, MarkerCreate, MarkerUpdate
from .clock import utcnow


def _not_found(marker_id: UUID) -> NotFound:
    return NotFound(f"marker {marker_id} does not exist")


async def create_markers(db: Database, bodies: list[MarkerCreate]) -> list[Marker]:
    """Create every marker or none; the answer keeps the request's order."""
    now = utcnow()
    values: list[dict[str, Any]] = [
        {"id": new_id(), **body.model_dump(), "version": 0, "created_at": now, "updated_at": now}
        for body in bodies
    ]
    async with db.transaction() as conn:
        wanted = {body.work_session_id for body in bodies}
        missing = wanted - await session_rows.existing_work_session_ids(conn, wanted)
        if missing:
            index = next(i for i, body in enumerate(bodies) if body.work_session_id in missing)
            raise InvalidReference(
                f"work session {bodies[index].work_session_id} does not exist", index=index
            )
        await rows.insert_markers(conn, values)
    return [Marker.model_validate(row) for row in values]


async def create_marker(db: Database, body: MarkerCreate) -> Marker:
    (marker,) = await create_markers(db, [body])
    return marker


async def list_markers(db: Database, *, work_session_id: UUID | None) -> list[Marker]:
    async with db.read() as conn:
        found = await rows.list_markers(conn, work_session_id=work_session_id)
    return [Marker.model_validate(dict(row)) for row in found]


async def get_marker(db: Database, marker_id: UUID) -> Marker:
    async with db.read() as conn:
        row = await rows.get_marker(conn, marker_id)
    if row is None:
        raise _not_found(marker_id)
    return Marker.model_validate(dict(row))


async def update_marker(db: Database, marker_id: UUID, patch: MarkerUpdate) -> Marker:
    async with db.transaction() as conn:
        row = await rows.update_marker(
            conn,
            marker_id,
            {**patch.changes(), "updated_at": utcnow()},
            expected_version=patch.version,
        )
        if row is None:
            current = await rows.marker_version(conn, marker_id)
            if current is None:
                raise _not_found(marker_id)
            raise VersionConflict("marker", current)
    return Marker.model_validate(dict(row))


async def delete_marker(db: Database, marker_id: UUID) -> None:
    async with db.transaction() as conn:
        if not await rows.delete_marker(conn, marker_id):
            raise _not_found(marker_id)
