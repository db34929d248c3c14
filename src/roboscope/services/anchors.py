"""Anchors: one world position per (work session, run, local z).

`upsert_anchor` is one `INSERT … ON CONFLICT DO UPDATE` on that unique key, so concurrent
calls for one key all answer the same anchor (its id, the latest position): never a
duplicate, never a 409. `local_z` is compared exactly, as a double.
"""

from __future__ import annotations

from uuid import UUID

from ..db import anchors as rows
from ..db import work_sessions as session_rows
from ..db.engine import Database
from ..errors import InvalidReference, NotFound
from ..ids import new_id
from ..wire import Anchor, AnchorUpdate, AnchorUpsert
from .clock import utcnow


def _not_found(anchor_id: UUID) -> NotFound:
    return NotFound(f"anchor {anchor_id} does not exist")


async def upsert_anchor(db: Database, body: AnchorUpsert) -> tuple[Anchor, bool]:
    """The stored anchor, and whether this call created it."""
    now = utcnow()
    values = {"id": new_id(), **body.model_dump(), "created_at": now, "updated_at": now}
    async with db.transaction() as conn:
        if await session_rows.get_work_session(conn, body.session_id) is None:
            raise InvalidReference(f"work session {body.session_id} does not exist")
        row = await rows.upsert_anchor(conn, values)
    return Anchor.model_validate(dict(row)), row["id"] == values["id"]


async def list_anchors(db: Database, *, session_id: UUID | None) -> list[Anchor]:
    async with db.read() as conn:
        found = await rows.list_anchors(conn, session_id=session_id)
    return [Anchor.model_validate(dict(row)) for row in found]


async def get_anchor(db: Database, anchor_id: UUID) -> Anchor:
    async with db.read() as conn:
        row = await rows.get_anchor(conn, anchor_id)
    if row is None:
        raise _not_found(anchor_id)
    return Anchor.model_validate(dict(row))


async def update_anchor(db: Database, anchor_id: UUID, patch: AnchorUpdate) -> Anchor:
    async with db.transaction() as conn:
        if patch.world_position is None:
            row = await rows.get_anchor(conn, anchor_id)
        else:
            values = {"world_position": patch.world_position, "updated_at": utcnow()}
            row = await rows.update_anchor(conn, anchor_id, values)
    if row is None:
        raise _not_found(anchor_id)
    return Anchor.model_validate(dict(row))


async def delete_anchor(db: Database, anchor_id: UUID) -> None:
    async with db.transaction() as conn:
        if not await rows.delete_anchor(conn, anchor_id):
            raise _not_found(anchor_id)
