"""Marker details: computed from a marker's corners, stored one per marker.

`footprint` is the one place the computation lives. Calculating is an idempotent upsert (the
app calls it twice at once for one marker) and never touches the marker's version; when a
marker's points change, `recalculate` refreshes existing details in the same transaction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from ..db import marker_details as rows
from ..db import markers as marker_rows
from ..db.engine import Database
from ..errors import NotFound, UncomputableDetails
from ..wire import MarkerDetails, MarkerDetailsPut
from . import changes, listed_markers
from .access import Identity
from .clock import utcnow
from .locks import LockToken, enforce_fence, fence_of_marker

CORNERS = ("p1", "p2", "p3", "p4")
COMPUTED = (
    "center_location_long",
    "center_location_cross",
    "x_negative",
    "x_positive",
    "z_positive",
    "z_negative",
    "long_size",
    "cross_size",
)


def footprint(corners: Sequence[Sequence[float]]) -> dict[str, float]:
    """The details of a marker with these corners (p1 to p4), in its session's frame.

    x is index 0 (across), z is index 2 (along); y (height) plays no part. The center is the
    mean of the corners; the edges are the signed extremes; the sizes are their spans.
    """
    # float(): PostgreSQL's JSONB hands huge whole numbers (1e308) back as Python ints.
    xs = [float(point[0]) for point in corners]
    zs = [float(point[2]) for point in corners]
    # Dividing before adding cannot overflow, and dividing by 4 is exact in binary.
    count = len(corners)
    values = {
        "center_location_long": sum(z / count for z in zs),
        "center_location_cross": sum(x / count for x in xs),
        "x_negative": min(xs),
        "x_positive": max(xs),
        "z_positive": max(zs),
        "z_negative": min(zs),
        "long_size": max(zs) - min(zs),
        "cross_size": max(xs) - min(xs),
    }
    if not all(math.isfinite(value) for value in values.values()):
        raise UncomputableDetails("the marker's points are too far apart to compute details")
    return values


def _computed(marker: Mapping[Any, Any]) -> dict[str, float]:
    return footprint([marker[name] for name in CORNERS])


def details_of(row: Mapping[Any, Any] | None) -> MarkerDetails | None:
    return None if row is None else MarkerDetails.model_validate(dict(row))


def _marker_missing(marker_id: UUID) -> NotFound:
    return NotFound(f"marker {marker_id} does not exist")


async def recalculate(conn: AsyncConnection, marker: Mapping[Any, Any]) -> MarkerDetails | None:
    """Refresh the marker's details from its (new) points, if it has any; inside the caller's
    transaction. `custom_props` and `created_at` are kept."""
    values = {**_computed(marker), "updated_at": utcnow()}
    row = await rows.update_details(conn, marker["id"], values)
    if row is None:
        return None
    details = MarkerDetails.model_validate(dict(row))
    await listed_markers.store_details(conn, details, row["updated_at"])
    return details


async def get_details(db: Database, marker_id: UUID) -> MarkerDetails:
    """404 until calculated (the app then asks for a calculation)."""
    async with db.read() as conn:
        row = await rows.get_details(conn, marker_id)
        if row is None:
            if await marker_rows.get_marker(conn, marker_id) is None:
                raise _marker_missing(marker_id)
            raise NotFound(f"marker {marker_id} has no details yet; calculate them first")
    return MarkerDetails.model_validate(dict(row))


async def calculate_details(
    db: Database, caller: Identity, marker_id: UUID, *, lock: LockToken | None = None
) -> MarkerDetails:
    """Compute and store; a concurrent call for the same marker updates the same row."""
    fence = await fence_of_marker(db, lock, marker_id)
    now = utcnow()
    async with db.transaction() as conn:
        await enforce_fence(conn, fence)
        # FOR SHARE: a concurrent point edit waits, then recalculates from its own points.
        marker = await marker_rows.get_marker(conn, marker_id, for_share=True)
        if marker is None:
            raise _marker_missing(marker_id)
        values = {
            "marker_id": marker_id,
            **_computed(marker),
            "custom_props": {},
            "created_at": now,
            "updated_at": now,
        }
        row = await rows.upsert_details(conn, values, update=[*COMPUTED, "updated_at"])
        return await _recorded(conn, caller, row, marker["work_session_id"])


async def put_details(
    db: Database,
    caller: Identity,
    marker_id: UUID,
    body: MarkerDetailsPut,
    *,
    lock: LockToken | None = None,
) -> MarkerDetails:
    """Store the given values as the marker's details (created or replaced)."""
    fence = await fence_of_marker(db, lock, marker_id)
    now = utcnow()
    values = {"marker_id": marker_id, **body.model_dump(), "created_at": now, "updated_at": now}
    async with db.transaction() as conn:
        await enforce_fence(conn, fence)
        marker = await marker_rows.get_marker(conn, marker_id, for_share=True)
        if marker is None:
            raise _marker_missing(marker_id)
        row = await rows.upsert_details(
            conn, values, update=[*COMPUTED, "custom_props", "updated_at"]
        )
        return await _recorded(conn, caller, row, marker["work_session_id"])


async def _recorded(
    conn: AsyncConnection, caller: Identity, row: Mapping[Any, Any], session_id: UUID
) -> MarkerDetails:
    """The upserted details, recorded in the change log: created when the upsert inserted
    (both timestamps are this write's), updated otherwise."""
    details = MarkerDetails.model_validate(dict(row))
    await listed_markers.store_details(conn, details, row["updated_at"])
    op: changes.Op = "created" if row["created_at"] == row["updated_at"] else "updated"
    await changes.record(conn, op, "details", [details], work_session_id=session_id, by=caller)
    return details


async def delete_details(
    db: Database, caller: Identity, marker_id: UUID, *, lock: LockToken | None = None
) -> None:
    fence = await fence_of_marker(db, lock, marker_id)
    async with db.transaction() as conn:
        await enforce_fence(conn, fence)
        session_id = await marker_rows.marker_session_id(conn, marker_id)
        if session_id is None:
            raise _marker_missing(marker_id)
        if not await rows.delete_details(conn, marker_id):
            raise NotFound(f"marker {marker_id} has no details")
        gone = changes.tombstone(marker_id=marker_id)
        await changes.record(
            conn, "deleted", "details", [gone], work_session_id=session_id, by=caller
        )
