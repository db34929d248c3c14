"""Marker rows, read together with their details (one LEFT JOIN, never one query each).

Lists read each marker as the text they send, stored with it (`listed_markers`); single
markers as typed values."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any, NamedTuple, cast
from uuid import UUID

from sqlalchemy import (
    Select,
    Text,
    bindparam,
    case,
    delete,
    exists,
    false,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.engine import Row, RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from .changes import last_cursor
from .tables import marker_details, markers, work_sessions
from .versioned import current_version, update_versioned

_DETAILS = "details__"
ROWS_PER_STEP = 1_000
"""Rows of a list read and joined per step (about 5 ms of work for stored texts on the 2-core
machine of docs/performance.md): the event loop serves other requests between steps."""

MarkerRow = tuple[dict[str, Any], dict[str, Any] | None]
"""A marker's columns, and its details' columns or `None` when it has none."""


_MARKER_NAMES = tuple(column.name for column in markers.c)
_DETAILS_NAMES = tuple(column.name for column in marker_details.c)


def _with_details() -> Select[Any]:
    """The marker's columns, then its details' (labelled: both tables have `created_at`)."""
    labelled = [column.label(_DETAILS + column.name) for column in marker_details.c]
    return select(markers, *labelled).select_from(
        markers.outerjoin(marker_details, marker_details.c.marker_id == markers.c.id)
    )


def _split(row: Row[Any]) -> MarkerRow:
    """By position, as `_with_details` selects them: a list splits thousands of rows, and
    positions cost less than looking up each labelled column by name."""
    marker = dict(zip(_MARKER_NAMES, row[: len(_MARKER_NAMES)], strict=True))
    details = dict(zip(_DETAILS_NAMES, row[len(_MARKER_NAMES) :], strict=True))
    return marker, details if details["marker_id"] is not None else None


async def insert_markers(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(markers), list(rows))


async def get_marker(
    conn: AsyncConnection, marker_id: UUID, *, for_share: bool = False
) -> RowMapping | None:
    """The marker alone; `for_share` holds off concurrent updates of it until commit
    (PostgreSQL; SQLite's write transactions are serialized anyway)."""
    stmt = select(markers).where(markers.c.id == marker_id)
    if for_share:
        stmt = stmt.with_for_update(read=True)
    return (await conn.execute(stmt)).mappings().first()


async def get_marker_with_details(conn: AsyncConnection, marker_id: UUID) -> MarkerRow | None:
    row = (await conn.execute(_with_details().where(markers.c.id == marker_id))).first()
    return None if row is None else _split(row)


def _listed_text() -> ColumnElement[str | None]:
    """The marker's stored text closed with its details' (or `null`) and `}`, as
    `wire.markers.listed_marker` makes it; NULL unless each piece was made at its row's
    current version (a marker's `version`, its details' `updated_at`)."""
    m, d = markers.c, marker_details.c
    details = case(
        (d.marker_id.is_(None), literal("null}", Text)),
        (d.listed_at == d.updated_at, d.listed + "}"),
    )
    return case((m.listed_version == m.version, m.listed + details))


def _unlisted() -> ColumnElement[bool]:
    """A marker whose text, or whose details' text, is missing or stale (`_listed_text`)."""
    m, d = markers.c, marker_details.c
    stale_marker = m.listed.is_(None) | m.listed_version.is_(None) | (m.listed_version != m.version)
    stale_details = d.marker_id.isnot(None) & (
        d.listed.is_(None) | d.listed_at.is_(None) | (d.listed_at != d.updated_at)
    )
    return stale_marker | stale_details


_LISTED = _listed_text()  # made once: building expressions costs more than a list's query


async def listed_markers(
    conn: AsyncConnection,
    *,
    work_session_id: UUID | None,
    after: UUID | None = None,
    limit: int | None = None,
) -> AsyncIterator[Sequence[tuple[UUID, str | None]]]:
    """(id, the marker's JSON as lists send it, or None when it is not stored yet) in id
    (creation) order, in batches of at most `ROWS_PER_STEP`; `after` and `limit` give one
    keyset page. Between full batches the event loop serves other requests."""
    joined = markers.outerjoin(marker_details, marker_details.c.marker_id == markers.c.id)
    stmt = select(markers.c.id, _LISTED).select_from(joined).order_by(markers.c.id).limit(limit)
    if work_session_id is not None:
        stmt = stmt.where(markers.c.work_session_id == work_session_id)
    if after is not None:
        stmt = stmt.where(markers.c.id > after)
    found = await conn.execute(stmt)
    while batch := found.fetchmany(ROWS_PER_STEP):
        yield cast("Sequence[tuple[UUID, str | None]]", batch)  # rows are tuples
        if len(batch) == ROWS_PER_STEP:
            await asyncio.sleep(0)


async def markers_with_details(conn: AsyncConnection, ids: Sequence[UUID]) -> list[MarkerRow]:
    """These markers with their details, in id order."""
    stmt = _with_details().where(markers.c.id.in_(ids)).order_by(markers.c.id)
    return [_split(row) for row in await conn.execute(stmt)]


async def unlisted(
    conn: AsyncConnection, limit: int, *, after: UUID | None = None
) -> list[MarkerRow]:
    """Up to `limit` markers (after the id `after`) whose text, or whose details' text, is
    missing or stale."""
    stmt = _with_details().where(_unlisted()).order_by(markers.c.id).limit(limit)
    if after is not None:
        stmt = stmt.where(markers.c.id > after)
    return [_split(row) for row in await conn.execute(stmt)]


async def set_listed(conn: AsyncConnection, marker_id: UUID, listed: str, version: int) -> None:
    """The marker's text, made at `version` (its version after this write)."""
    stmt = update(markers).where(markers.c.id == marker_id)
    await conn.execute(stmt.values(listed=listed, listed_version=version))


async def fill_listed(conn: AsyncConnection, filled: Sequence[tuple[UUID, int, str]]) -> None:
    """Store (id, version, text) where the marker is still at that version: a write since
    the text was made has moved it (and stored its own text, or left it stale)."""
    if not filled:
        return
    stmt = (
        update(markers)
        .where(markers.c.id == bindparam("marker_id"), markers.c.version == bindparam("at"))
        .values(listed=bindparam("text"), listed_version=bindparam("at"))
    )
    rows = [{"marker_id": i, "at": version, "text": text} for i, version, text in filled]
    await conn.execute(stmt, rows)


class ListState(NamedTuple):
    """What a list checks before reading its rows (`list_state`)."""

    cursor: int
    """The last change log cursor committed, as the reading snapshot sees it."""
    session_exists: bool
    """Whether the work session exists (True for a list of every session's markers)."""
    more_than: bool
    """Whether more than the asked number of markers follow (False when none was asked)."""


async def list_state(
    conn: AsyncConnection,
    *,
    work_session_id: UUID | None,
    after: UUID | None,
    more_than: int | None,
) -> ListState:
    """One statement, not one each: every round trip (a hand-over to SQLite's thread, or
    to PostgreSQL) costs a list as much as encoding a hundred markers. `more_than` is probed
    at row `more_than + 1` (the primary key, or (work_session_id, id)), never a COUNT(*)."""
    session: ColumnElement[bool] = true()
    if work_session_id is not None:
        session = exists().where(work_sessions.c.id == work_session_id)
    more: ColumnElement[bool] = false()
    if more_than is not None:
        probe = select(markers.c.id).order_by(markers.c.id).offset(more_than).limit(1)
        if work_session_id is not None:
            probe = probe.where(markers.c.work_session_id == work_session_id)
        if after is not None:
            probe = probe.where(markers.c.id > after)
        more = probe.exists()
    cursor, found, beyond = (await conn.execute(select(last_cursor(), session, more))).one()
    return ListState(int(cursor), bool(found), bool(beyond))


async def update_marker(
    conn: AsyncConnection,
    marker_id: UUID,
    values: dict[str, Any],
    *,
    expected_version: int | None,
) -> RowMapping | None:
    return await update_versioned(
        conn, markers, marker_id, values, expected_version=expected_version
    )


async def marker_version(conn: AsyncConnection, marker_id: UUID) -> int | None:
    return await current_version(conn, markers, marker_id)


async def marker_session_id(conn: AsyncConnection, marker_id: UUID) -> UUID | None:
    stmt = select(markers.c.work_session_id).where(markers.c.id == marker_id)
    return (await conn.execute(stmt)).scalar()


async def delete_marker(conn: AsyncConnection, marker_id: UUID) -> bool:
    result = await conn.execute(delete(markers).where(markers.c.id == marker_id))
    return result.rowcount > 0


async def delete_markers_of_sessions(conn: AsyncConnection, session_ids: Sequence[UUID]) -> int:
    result = await conn.execute(delete(markers).where(markers.c.work_session_id.in_(session_ids)))
    return result.rowcount
