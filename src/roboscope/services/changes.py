"""The change log: what changed, in one order, for catch-up, the audit trail and live streams.

Every service that writes a space, work session, marker, marker details, anchor, laser guide
or reference set calls `record()` inside its transaction, after the write, with the caller's
identity its handler passed down (the record's actor): the record commits with the write or
not at all (an outbox). Cursors are gap-free and become visible in order
(see `db.changes.append`), so "everything after cursor n" is exact: nothing skipped, nothing
repeated. Retention removes the oldest records; a reader whose cursor is older than what was
removed gets `410` (`CursorExpired`) and must reload, never a silent gap; so does one whose
cursor is ahead of the log (`require_known_cursor`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from ..db import changes as rows
from ..db.engine import AFTER_COMMIT, Database
from ..errors import CursorExpired, InvalidInput, NotFound
from ..wire.changes import Change, ChangePage
from .access import Identity, actor
from .clock import utcnow

log = logging.getLogger(__name__)

Entity = Literal[
    "space", "work_session", "marker", "details", "anchor", "laser_guide", "reference_set"
]
Op = Literal["created", "updated", "deleted"]

PAGE_LIMIT = 1000


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
    by: Identity,
    work_session_id: UUID | None = None,
) -> list[int]:
    """Append one record per item, inside the caller's transaction, after its write: the
    entity's wire model as the API answers it, or a `tombstone()` for a delete.
    `by` is who asked for the write, passed down from the handler's `Caller`: the records
    name its actor (`access.actor`). `work_session_id` names the session of entities that
    do not carry it (marker details). Answers the cursors."""
    now = utcnow()
    who = actor(by)
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
                "actor": who,
                "created_at": now,
            }
        )
    await rows.fill_space_ids(conn, records)
    cursors = await rows.append(conn, records)
    # Woken once the transaction commits (the database's CommitListener): the live streams.
    conn.info.setdefault(AFTER_COMMIT, set()).update(sessions)
    return cursors


async def current_cursor(conn: AsyncConnection) -> int:
    """The newest cursor committed as this connection's snapshot sees it."""
    last, _ = await rows.counter(conn)
    return last


def parse_cursor(text: str, *, source: str) -> int:
    """A cursor sent as text (`Last-Event-ID`): a whole number, or 422."""
    if not (text.isascii() and text.isdigit()):
        raise InvalidInput(f"{source} must be a change cursor (a whole number)")
    return int(text)


async def require_known_cursor(conn: AsyncConnection, since: int) -> None:
    """The log continues exactly from `since`, or `CursorExpired` (410): the one rule for
    every reader of the log (`/events`, a session's `/changes`, its live stream)."""
    newest, purged = await rows.counter(conn)
    _check_cursor(since, newest=newest, purged=purged)


async def stream_start(db: Database, session_id: UUID, since: int | None) -> int:
    """Where a session's live stream starts in the log: after `since`, checked like every
    reader's (410), or after the newest change; `NotFound` (404) for an unknown session.
    One statement: opening streams is what a reconnect storm is made of."""
    async with db.read() as conn:
        exists, newest, purged = await rows.session_and_counter(conn, session_id)
    if not exists:
        raise NotFound(f"work session {session_id} does not exist")
    if since is None:
        return newest
    _check_cursor(since, newest=newest, purged=purged)
    return since


def _check_cursor(since: int, *, newest: int, purged: int) -> None:
    """`since` may equal the newest cursor issued even when retention removed that record:
    the counter keeps it. Anything above it, however large (past the database's integer
    range too), was never issued; it is compared here, never sent to the database."""
    if since < purged:
        raise CursorExpired(
            f"changes after cursor {since} are no longer kept (the log starts after {purged})",
            oldest=purged,
        )
    if since > newest:
        raise CursorExpired(
            f"cursor {since} is ahead of the change log (its newest is {newest}; "
            "a database restored from a backup?)",
            oldest=purged,
        )


async def list_changes(
    db: Database,
    *,
    since: int | None = None,
    limit: int = PAGE_LIMIT,
    work_session_id: UUID | None = None,
    space_id: UUID | None = None,
    entity: Entity | None = None,
    entity_id: UUID | None = None,
) -> ChangePage:
    """The records after `since` (None: from the oldest kept) that match, oldest first, and
    the cursor to ask from next."""
    async with db.snapshot() as conn:
        last, purged = await rows.counter(conn)
        if since is None:
            since = purged
        else:
            _check_cursor(since, newest=last, purged=purged)
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


RETENTION_SECONDS = 60.0


async def retain_forever(db: Database, retention: Retention) -> None:
    """Trim the log every `RETENTION_SECONDS` (a background task of the app's state). Every
    process does, which is harmless: each pass removes a prefix that is gone already or goes
    now."""
    while True:
        try:
            await purge_expired(db, retention)
        except Exception as error:  # a down database: next round
            log.warning("change log retention failed: %s", error)
        await asyncio.sleep(RETENTION_SECONDS)
