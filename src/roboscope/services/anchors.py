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
from . import changes
from .access import Identity
from .clock import utcnow
from .locks import Fence, LockToken, enforce_fence, fence_of


def _not_found(anchor_id: UUID) -> NotFound:
    return NotFound(f"anchor {anchor_id} does not exist")


async def _anchor_fence(db: Database, lock: LockToken | None, anchor_id: UUID) -> Fence | None:
    """`fence_of` for a write of an existing anchor: the lock of the anchor's session."""
    if lock is None:
        return None
    async with db.read() as conn:
        session_id = await rows.anchor_session_id(conn, anchor_id)
    if session_id is None:
        raise _not_found(anchor_id)
    return await lock.fence_for(session_id)


async def upsert_anchor(
    db: Database, caller: Identity, body: AnchorUpsert, *, lock: LockToken | None = None
) -> tuple[Anchor, bool]:
    """The stored anchor, and whether this call created it."""
    fence = await fence_of(lock, body.session_id)
    now = utcnow()
    values = {"id": new_id(), **body.model_dump(), "created_at": now, "updated_at": now}
    async with db.transaction() as conn:
        await enforce_fence(conn, fence)
        if await session_rows.get_work_session(conn, body.session_id) is None:
            raise InvalidReference(f"work session {body.session_id} does not exist")
        row = await rows.upsert_anchor(conn, values)
        anchor = Anchor.model_validate(dict(row))
        created = row["id"] == values["id"]
        await changes.record(
            conn, "created" if created else "updated", "anchor", [anchor], by=caller
        )
    return anchor, created


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


async def update_anchor(
    db: Database,
    caller: Identity,
    anchor_id: UUID,
    patch: AnchorUpdate,
    *,
    lock: LockToken | None = None,
) -> Anchor:
    fence = await _anchor_fence(db, lock, anchor_id)
    async with db.transaction() as conn:
        await enforce_fence(conn, fence)
        if patch.world_position is None:
            row = await rows.get_anchor(conn, anchor_id)
        else:
            values = {"world_position": patch.world_position, "updated_at": utcnow()}
            row = await rows.update_anchor(conn, anchor_id, values)
            if row is not None:
                await changes.record(
                    conn, "updated", "anchor", [Anchor.model_validate(dict(row))], by=caller
                )
    if row is None:
        raise _not_found(anchor_id)
    return Anchor.model_validate(dict(row))


async def delete_anchor(
    db: Database, caller: Identity, anchor_id: UUID, *, lock: LockToken | None = None
) -> None:
    fence = await _anchor_fence(db, lock, anchor_id)
    async with db.transaction() as conn:
        await enforce_fence(conn, fence)
        row = await rows.get_anchor(conn, anchor_id)
        if row is None or not await rows.delete_anchor(conn, anchor_id):
            raise _not_found(anchor_id)
        gone = changes.tombstone(id=anchor_id, session_id=row["session_id"])
        await changes.record(conn, "deleted", "anchor", [gone], by=caller)
