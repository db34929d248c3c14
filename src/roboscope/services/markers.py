"""Markers: created singly or in bulk (all or nothing), versioned like work sessions.

Marker writes never touch their work session's version: the app edits markers while other
devices hold the session's version for their own session edits.

Every marker answer embeds its details (or `null`). A PATCH that moves any corner recalculates
existing details in the same transaction; the marker's version moves only with the PATCH.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from ..db import marker_details as details_rows
from ..db import markers as rows
from ..db import work_sessions as session_rows
from ..db.engine import Database
from ..errors import InvalidReference, LockRejected, NotFound
from ..ids import new_id
from ..wire import Marker, MarkerCreate, MarkerDetails, MarkerUpdate
from . import changes, listed_markers
from .access import Identity
from .clock import utcnow
from .conditional_writes import refused_write
from .idempotency import Answer, Once, write_once
from .locks import Fence, LockToken, enforce_fence, fence_of_marker
from .marker_details import CORNERS, details_of, recalculate
from .paging import WHOLE_LIST, EncodedPage, ListTooLarge, PageRequest


def _not_found(marker_id: UUID) -> NotFound:
    return NotFound(f"marker {marker_id} does not exist")


def _marker(row: dict[str, Any], details: MarkerDetails | dict[str, Any] | None) -> Marker:
    return Marker.model_validate({**row, "details": details})


async def _session_fence(lock: LockToken | None, session_ids: set[UUID]) -> Fence | None:
    """With `X-Lock-Token`, every marker must belong to the one session the token locks."""
    if lock is None:
        return None
    if len(session_ids) != 1:
        raise LockRejected("an X-Lock-Token write must stay within one work session")
    return await lock.fence_for(next(iter(session_ids)))


async def create_markers(
    db: Database,
    caller: Identity,
    bodies: list[MarkerCreate],
    *,
    lock: LockToken | None = None,
    once: Once | None = None,
    bulk: bool = True,
) -> Answer:
    """Create every marker or none; the answer keeps the request's order (a list for a bulk
    create, the one marker otherwise). With `once`, a repeated key replays the first answer."""

    async def write(conn: AsyncConnection) -> list[Marker] | Marker:
        # The lock is checked here, after a repeated Idempotency-Key has been answered: a
        # retry whose first attempt was created must learn so even if its lock expired since.
        # (Redis is asked inside the transaction, unlike other fenced writes: a retry must
        # get its replay first. The fence itself is enforced on the session row below.)
        fence = await _session_fence(lock, {body.work_session_id for body in bodies})
        now = utcnow()
        values: list[dict[str, Any]] = [
            {
                "id": new_id(),
                **body.model_dump(),
                "version": 0,
                "created_at": now,
                "updated_at": now,
            }
            for body in bodies
        ]
        await enforce_fence(conn, fence)
        wanted = {body.work_session_id for body in bodies}
        missing = wanted - await session_rows.existing_work_session_ids(conn, wanted)
        if missing:
            index = next(i for i, body in enumerate(bodies) if body.work_session_id in missing)
            raise InvalidReference(
                f"work session {bodies[index].work_session_id} does not exist", index=index
            )
        created = [Marker.model_validate(row) for row in values]
        for row, marker in zip(values, created, strict=True):
            row.update(listed_markers.columns_of(marker))
        await rows.insert_markers(conn, values)
        await changes.record(conn, "created", "marker", created, by=caller)
        return created if bulk else created[0]

    return await write_once(db, once, write)


async def create_marker(
    db: Database,
    caller: Identity,
    body: MarkerCreate,
    *,
    lock: LockToken | None = None,
    once: Once | None = None,
) -> Answer:
    return await create_markers(db, caller, [body], lock=lock, once=once, bulk=False)


def _require_bounded(state: rows.ListState, max_items: int, work_session_id: UUID | None) -> None:
    """A list asked for without `limit` is answered whole only up to `max_items` markers
    (unfiltered, it once answered 148k markers, 80 MB, in 17 s; one session, 12k markers in
    4.3 MB): past that, `list_too_large` says how to page instead."""
    if not state.more_than:
        return
    if work_session_id is None:
        what, way_out = "markers", "filter with work_session_id, or page"
    else:
        what, way_out = f"markers in work session {work_session_id}", "page"
    raise ListTooLarge(
        f"more than {max_items} {what}: {way_out} with limit (at most {max_items}) and the "
        'cursor of each Link rel="next" header',
        max_items=max_items,
    )


async def _list_state(
    conn: AsyncConnection, paging: PageRequest, max_items: int, work_session_id: UUID | None
) -> rows.ListState:
    """The change log cursor (read in the list's snapshot: a client streams the session's
    changes after it and misses or repeats none), the session's existence and the cap's
    probe (only without `limit`), in one statement."""
    more_than = max_items if paging.limit is None else None
    return await rows.list_state(
        conn, work_session_id=work_session_id, after=paging.after, more_than=more_than
    )


async def list_markers(
    db: Database,
    *,
    work_session_id: UUID | None,
    paging: PageRequest = WHOLE_LIST,
    max_items: int,
) -> EncodedPage:
    """Every marker, or one session's (`[]` for an unknown one), within the list cap
    (`_require_bounded`)."""
    async with db.snapshot() as conn:
        state = await _list_state(conn, paging, max_items, work_session_id)
        _require_bounded(state, max_items, work_session_id)
        return await listed_markers.encoded_page(conn, state.cursor, paging, work_session_id)


async def list_markers_of_session(
    db: Database, session_id: UUID, *, paging: PageRequest = WHOLE_LIST, max_items: int
) -> EncodedPage:
    """`GET /work-sessions/{id}/markers`: like the filtered list, but 404 for an unknown
    session (the path names the session as a resource)."""
    async with db.snapshot() as conn:
        state = await _list_state(conn, paging, max_items, session_id)
        if not state.session_exists:
            raise NotFound(f"work session {session_id} does not exist")
        _require_bounded(state, max_items, session_id)
        return await listed_markers.encoded_page(conn, state.cursor, paging, session_id)


async def get_marker(db: Database, marker_id: UUID) -> Marker:
    async with db.read() as conn:
        found = await rows.get_marker_with_details(conn, marker_id)
    if found is None:
        raise _not_found(marker_id)
    return _marker(*found)


async def update_marker(
    db: Database,
    caller: Identity,
    marker_id: UUID,
    patch: MarkerUpdate,
    *,
    lock: LockToken | None = None,
) -> Marker:
    fence = await fence_of_marker(db, lock, marker_id)
    edits = patch.changes()
    async with db.transaction() as conn:
        await enforce_fence(conn, fence)
        row = await rows.update_marker(
            conn, marker_id, {**edits, "updated_at": utcnow()}, expected_version=patch.version
        )
        if row is None:
            raise refused_write("marker", marker_id, await rows.marker_version(conn, marker_id))
        session_id = row["work_session_id"]
        if edits.keys() & set(CORNERS):
            details = await recalculate(conn, row)
            if details is not None:
                await changes.record(
                    conn, "updated", "details", [details], work_session_id=session_id, by=caller
                )
        else:
            details = details_of(await details_rows.get_details(conn, marker_id))
        marker = _marker(dict(row), details)
        await listed_markers.store_marker(conn, marker)
        await changes.record(conn, "updated", "marker", [marker], by=caller)
    return marker


async def delete_marker(
    db: Database, caller: Identity, marker_id: UUID, *, lock: LockToken | None = None
) -> None:
    """Deletes the marker with its details."""
    fence = await fence_of_marker(db, lock, marker_id)
    async with db.transaction() as conn:
        await enforce_fence(conn, fence)
        session_id = await rows.marker_session_id(conn, marker_id)
        if session_id is None:
            raise _not_found(marker_id)
        # Details first (they reference the marker).
        await details_rows.delete_details(conn, marker_id)
        await rows.delete_marker(conn, marker_id)
        gone = changes.tombstone(id=marker_id, work_session_id=session_id)
        await changes.record(conn, "deleted", "marker", [gone], by=caller)
