"""Spaces: create, list, edit, delete (deleting a space deletes everything in it: its work
sessions with their contents, its laser guide and its reference sets)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from ..db import laser_guides as guide_rows
from ..db import reference_sets as reference_set_rows
from ..db import spaces as rows
from ..db import work_sessions as session_rows
from ..db.engine import Database
from ..errors import Conflict, NotFound
from ..ids import new_id
from ..wire import Space, SpaceCreate, SpaceUpdate
from .cascade import delete_work_sessions_with_contents
from .clock import utcnow


def _not_found(space_id: UUID) -> NotFound:
    return NotFound(f"space {space_id} does not exist")


@asynccontextmanager
async def _writing_key(db: Database, key: str | None) -> AsyncIterator[AsyncConnection]:
    """A write transaction in which the only unique value a space has besides its fresh id
    is its key: a conflict there is a duplicate key, and the 409 says which one."""
    try:
        async with db.transaction() as conn:
            yield conn
    except Conflict as error:
        if key is None:
            raise
        raise Conflict(f"a space with key {key!r} already exists", key=key) from error


async def create_space(db: Database, body: SpaceCreate) -> Space:
    now = utcnow()
    values = {"id": new_id(), **body.model_dump(), "created_at": now, "updated_at": now}
    async with _writing_key(db, body.key) as conn:
        await rows.insert_space(conn, values)
    return Space.model_validate(values)


async def list_spaces(db: Database, *, key: str | None, include_inactive: bool) -> list[Space]:
    async with db.read() as conn:
        found = await rows.list_spaces(conn, key=key, include_inactive=include_inactive)
    return [Space.model_validate(dict(row)) for row in found]


async def get_space(db: Database, space_id: UUID) -> Space:
    async with db.read() as conn:
        row = await rows.get_space(conn, space_id)
    if row is None:
        raise _not_found(space_id)
    return Space.model_validate(dict(row))


async def update_space(db: Database, space_id: UUID, patch: SpaceUpdate) -> Space:
    """Write only what really changed: a bumped `updated_at` makes every device re-download
    the space's ML model, so a PATCH that repeats current values leaves the row untouched."""
    async with _writing_key(db, patch.key) as conn:
        row = await rows.get_space(conn, space_id, for_update=True)
        if row is None:
            raise _not_found(space_id)
        changed = {name: value for name, value in patch.changes().items() if row[name] != value}
        if not changed:
            return Space.model_validate(dict(row))
        updated = await rows.update_space(conn, space_id, {**changed, "updated_at": utcnow()})
    return Space.model_validate(dict(updated or row))


async def delete_space(db: Database, space_id: UUID) -> None:
    async with db.transaction() as conn:
        if not await rows.space_exists(conn, space_id):
            raise _not_found(space_id)
        session_ids = await session_rows.work_session_ids_of_space(conn, space_id)
        await delete_work_sessions_with_contents(conn, session_ids)
        await guide_rows.delete_laser_guide(conn, space_id)
        await reference_set_rows.delete_reference_sets_of_space(conn, space_id)
        await rows.delete_space(conn, space_id)
