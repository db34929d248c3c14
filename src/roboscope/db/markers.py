"""Marker rows, read together with their details (one LEFT JOIN, never one query each).

Lists read them as text ready to send (`listed_markers`); single markers as typed values."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import Select, Text, delete, exists, false, insert, literal, select, true
from sqlalchemy.engine import Row, RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from .changes import last_cursor
from .tables import marker_details, markers, work_sessions
from .text_columns import json_array_text, utc_text, uuid_text
from .versioned import current_version, update_versioned

_DETAILS = "details__"
ROWS_PER_STEP = 1_000
"""Rows read and encoded per step (5 to 10 ms of work on the 2-core machine of
docs/performance.md): the event loop serves other requests between steps."""

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


LISTED_COLUMNS = (
    "id", "work_session_id", "label", "color", "version", "created_at", "updated_at", "json",
    "has_details", "center_location_long", "center_location_cross", "x_negative",
    "x_positive", "z_positive", "z_negative", "long_size", "cross_size",
    "details_created_at", "details_updated_at",
)  # fmt: skip
"""What a listed row holds, in order (`wire.markers.ListedMarker` unpacks it): ids and
timestamps as the text lists send (db/text_columns.py); `json` the JSON columns as one
array: p1, p2, p3, p4, meta, custom_props, calibrated_data and the details' custom_props
(`null` where SQL has NULL); whether it has details, and their columns (NULL if not)."""


def _listed_columns() -> list[ColumnElement[Any]]:
    m, d = markers.c, marker_details.c
    json_columns = [m.p1, m.p2, m.p3, m.p4, m.meta, m.custom_props, m.calibrated_data]
    return [
        uuid_text(m.id),
        uuid_text(m.work_session_id),
        m.label,
        m.color,
        m.version,
        utc_text(m.created_at),
        utc_text(m.updated_at),
        json_array_text([*json_columns, d.custom_props]),
        d.marker_id.isnot(None),  # the details' id is the marker's: not converted again
        d.center_location_long,
        d.center_location_cross,
        d.x_negative,
        d.x_positive,
        d.z_positive,
        d.z_negative,
        d.long_size,
        d.cross_size,
        utc_text(d.created_at),
        utc_text(d.updated_at),
    ]


# Made once: building these expressions costs more than a list's query (profiled).
_LISTED = _listed_columns()
_SESSION = LISTED_COLUMNS.index("work_session_id")


def _listed(work_session_id: UUID | None = None) -> Select[Any]:
    """`LISTED_COLUMNS`; of one session's markers (`work_session_id`), their session's id is
    sent as given rather than converted row by row (on SQLite the costliest conversion)."""
    columns = _LISTED
    if work_session_id is not None:
        columns = [*_LISTED]
        columns[_SESSION] = literal(str(work_session_id), Text)
    joined = markers.outerjoin(marker_details, marker_details.c.marker_id == markers.c.id)
    stmt = select(*columns).select_from(joined)
    if work_session_id is not None:
        stmt = stmt.where(markers.c.work_session_id == work_session_id)
    return stmt


async def listed_markers(
    conn: AsyncConnection,
    *,
    work_session_id: UUID | None,
    after: UUID | None = None,
    limit: int | None = None,
) -> AsyncIterator[Sequence[Row[Any]]]:
    """Rows of `LISTED_COLUMNS` in id (creation) order, in batches of at most
    `ROWS_PER_STEP`; `after` and `limit` give one keyset page. Between full batches the
    event loop serves other requests (a caller encodes each batch as it comes)."""
    stmt = _listed(work_session_id).order_by(markers.c.id).limit(limit)
    if after is not None:
        stmt = stmt.where(markers.c.id > after)
    found = await conn.execute(stmt)
    while batch := found.fetchmany(ROWS_PER_STEP):
        yield batch
        if len(batch) == ROWS_PER_STEP:
            await asyncio.sleep(0)


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
