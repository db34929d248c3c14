"""The change log: what changed, in one order, for catch-up, the audit trail and live streams.

Every service that writes a space, work session, marker, marker details, anchor, laser guide
or reference set calls `record()` inside its transaction, after the write: the record commits
with the write or not at all (an outbox). Cursors are gap-free and become visible in order
(see `db.changes.append`), so "everything after cursor n" is exact: nothing skipped, nothing
repeated. Retention removes the oldest records; a reader whose cursor is older than what was
removed gets `410` (`CursorExpired`) and must reload, never a silent gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from ..db import changes as rows
from ..db.engine import AFTER_COMMIT, Database
from ..errors import RoboscopeError
from ..wire.changes import Change, ChangePage
from .access import current_actor
from .clock import utcnow

Entity = Literal[
    "space", "work_session", "marker", "details", "anchor", "laser_guide", "reference_set"
]
Op = Literal["created", "updated", "deleted"]

PAGE_LIMIT = 1000


class CursorExpired(RoboscopeError):
    """The cursor is older than the retained log: changes after it are gone, reload."""

    status = 410
    code = "cursor_expired"

    def __init__(self, cursor: int, oldest: int) -> None:
        super().__init__(
            f"changes after cursor {cursor} are no longer kept (the log starts after "
            f"{oldest}): reload the current state and continue from its cursor",
            oldest_cursor=oldest,
        )


@dataclass(frozen=True, slots=True)
class Retention:
    max_age: timedelta = timedelta(days=7)
    max_count: int = 1_000_000
    batch: int = 1000


# Per entity: the fields of its JSON that name it, its work session and its space.
_KEYS: dict[str, tuple[str, str | None, str | None]] = {
    "space": ("id", None, "id"),
    "work_session": ("id", "id", "space_id"),
    "marker": ("id", "work_session_id", None),
    "details": ("marker_id", None, None),
    "anchor": ("id", "session_id", None),
    "laser_guide": ("id", None, "space_id"),
    "reference_set": ("id", None, "space_id"),
}


def _uuid(data: dict[str, Any], key: str | None) -> UUID | None:
    return None if key is None or data.get(key) is None else UUID(str(data[key]))


def tombstone(**ids: UUID) -> dict[str, Any]:
    """What a delete records: the fields that name the entity and where it was."""
    return {name: str(value) for name, value in ids.items()}


async def record(
    conn: AsyncConnection,
    op: Op,
    entity: Entity,
    items: Sequence[BaseModel | dict[str, Any]],
    *,
    work_session_id: UUID | None = None,
    actor: str | None = None,
) -> list[int]:
    """Append one record per item, inside the caller's transaction, after its write: the
    entity's wire model as the API answers it, or a `tombstone()` for a delete.
    `work_session_id` names the session of entities that do not carry it (marker details);
    `actor` defaults to the request's (`access.current_actor`).
    Answers the cursors."""
    now = utcnow()
    if actor is None:
        actor = current_actor.get()
    id_key, session_key, space_key = _KEYS[entity]
    records: list[dict[str, Any]] = []
    sessions: set[UUID] = set()
    for item in items:
        data = item.model_dump(mode="json") if isinstance(item, BaseModel) else item
        session_id = _uuid(data, session_key) or work_session_id
        if session_id is not None:
            sessions.add(session_id)
        records.append(
            {
                "op": op,
                "entity": entity,
                "entity_id": _uuid(data, id_key),
                "work_session_id": session_id,
                "space_id": _uuid(data, space_key),
                "version": data.get("version"),
                "data": data,
                "actor": actor,
                "created_at": now,
            }
        )
    await rows.fill_space_ids(conn, records)
    cursors = await rows.append(conn, records)
    # Woken once the transaction commits (Database.after_commit): the live streams.
    conn.info.setdefault(AFTER_COMMIT, set()).update(sessions)
    return cursors


async def current_cursor(conn: AsyncConnection) -> int:
    """The newest cursor committed as this connection's snapshot sees it."""
    last, _ = await rows.counter(conn)
    return last


async def require_retained(conn: AsyncConnection, since: int) -> None:
    _, purged = await rows.counter(conn)
    if since < purged:
        raise CursorExpired(since, purged)


async def list_changes(
    db: Database,
    *,
    since: int = 0,
    limit: int = PAGE_LIMIT,
    work_session_id: UUID | None = None,
    space_id: UUID | None = None,
    entity: Entity | None = None,
    entity_id: UUID | None = None,
) -> ChangePage:
    """The records after `since` that match, oldest first, and the cursor to ask from next."""
    async with db.snapshot() as conn:
        await require_retained(conn, since)
        last = await current_cursor(conn)
        found = await rows.list_changes(
            conn,
            after=since,
            limit=limit + 1,
            work_session_id=work_session_id,
            space_id=space_id,
            entity=entity,
            entity_id=entity_id,
        )
    page = [Change.model_validate(dict(row)) for row in found[:limit]]
    has_more = len(found) > limit
    # With no more matches, the reader may skip to the log's end: nothing it wants is before.
    next_cursor = page[-1].cursor if has_more else max(last, since)
    return ChangePage(changes=page, cursor=next_cursor, has_more=has_more)


async def purge_expired(db: Database, retention: Retention) -> int:
    """One retention pass, in bounded transactions; answers how many records went."""
    removed = 0
    while True:
        async with db.transaction() as conn:
            batch = await rows.purge(
                conn,
                older_than=utcnow() - retention.max_age,
                keep_last=retention.max_count,
                batch=retention.batch,
            )
        removed += batch
        if batch < retention.batch:
            return removed
