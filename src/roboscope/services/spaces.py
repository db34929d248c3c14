"""Spaces: create, list, edit, delete (deleting a space deletes everything in it: its work
sessions with their contents, its laser guide and its reference sets)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..db import laser_guides as guide_rows
from ..db import reference_sets as reference_set_rows
from ..db import spaces as rows
from ..db import work_sessions as session_rows
from ..db.engine import Database
from ..errors import Conflict, NotFound
from ..ids import new_id
from ..wire import Space, SpaceCreate, SpaceUpdate
from . import changes
from .access import Identity, require
from .cascade import delete_work_sessions_with_contents
from .clock import utcnow
from .idempotency import Answer, Once, write_once
from .paging import WHOLE_LIST, Page, PageRequest, page


def _not_found(space_id: UUID) -> NotFound:
    return NotFound(f"space {space_id} does not exist")


@contextmanager
def _naming_duplicate(key: str | None) -> Iterator[None]:
    """Besides its fresh id, a space's only unique value is its key: a conflict on a write
    that sets one is a duplicate key, and the 409 says which."""
    try:
        yield
    except Conflict as error:
        if key is None or not isinstance(error.__cause__, IntegrityError):
            raise
        raise Conflict(f"a space with key {key!r} already exists", key=key) from error


async def create_space(
    db: Database, caller: Identity, body: SpaceCreate, *, once: Once | None = None
) -> Answer:
    """With `once`, a repeated `Idempotency-Key` replays the first answer. Admin only."""
    require(caller, "admin")
    now = utcnow()
    values = {"id": new_id(), **body.model_dump(), "created_at": now, "updated_at": now}

    async def write(conn: AsyncConnection) -> Space:
        await rows.insert_space(conn, values)
        space = Space.model_validate(values)
        await changes.record(conn, "created", "space", [space], by=caller)
        return space

    with _naming_duplicate(body.key):
        return await write_once(db, once, write)


def _listed(row: Mapping[str, Any]) -> Space:
    return Space.model_validate(dict(row))


def _row_id(row: Mapping[str, Any]) -> UUID:
    row_id: UUID = row["id"]
    return row_id


async def list_spaces(
    db: Database, *, key: str | None, include_inactive: bool, paging: PageRequest = WHOLE_LIST
) -> Page[Space]:
    async with db.read() as conn:
        found = await rows.list_spaces(
            conn,
            key=key,
            include_inactive=include_inactive,
            after=paging.after,
            limit=paging.fetch,
        )
    return page(found, paging, _listed, _row_id)


async def get_space(db: Database, space_id: UUID) -> Space:
    async with db.read() as conn:
        row = await rows.get_space(conn, space_id)
    if row is None:
        raise _not_found(space_id)
    return Space.model_validate(dict(row))


async def update_space(db: Database, caller: Identity, space_id: UUID, patch: SpaceUpdate) -> Space:
    """Write only what really changed: a bumped `updated_at` makes every device re-download
    the space's ML model, so a PATCH that repeats current values leaves the row untouched."""
    with _naming_duplicate(patch.key):
        async with db.transaction() as conn:
            row = await rows.get_space(conn, space_id, for_update=True)
            if row is None:
                raise _not_found(space_id)
            changed = {name: value for name, value in patch.changes().items() if row[name] != value}
            if not changed:
                return Space.model_validate(dict(row))
            updated = await rows.update_space(conn, space_id, {**changed, "updated_at": utcnow()})
            space = Space.model_validate(dict(updated or row))
            await changes.record(conn, "updated", "space", [space], by=caller)
    return space


async def delete_space(db: Database, caller: Identity, space_id: UUID) -> None:
    """Admin only."""
    require(caller, "admin")
    async with db.transaction() as conn:
        if not await rows.space_exists(conn, space_id):
            raise _not_found(space_id)
        session_ids = await session_rows.work_session_ids_of_space(conn, space_id)
        await delete_work_sessions_with_contents(conn, session_ids)
        await guide_rows.delete_laser_guide(conn, space_id)
        await reference_set_rows.delete_reference_sets_of_space(conn, space_id)
        await rows.delete_space(conn, space_id)
        # The sessions' streams end with their own delete; what was inside them goes unsaid.
        gone = [changes.tombstone(id=s, space_id=space_id) for s in session_ids]
        await changes.record(conn, "deleted", "work_session", gone, by=caller)
        await changes.record(conn, "deleted", "space", [changes.tombstone(id=space_id)], by=caller)
