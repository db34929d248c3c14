"""Marker rows, read together with their details (one LEFT JOIN, never one query each)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import Select, delete, insert, select
from sqlalchemy.engine import Row, RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import marker_details, markers
from .versioned import current_version, update_versioned

_DETAILS = "details__"
ROWS_PER_STEP = 500

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


async def list_markers(
    conn: AsyncConnection,
    *,
    work_session_id: UUID | None,
    after: UUID | None = None,
    limit: int | None = None,
) -> list[MarkerRow]:
    """In id (creation) order; `after` and `limit` give one keyset page."""
    stmt = _with_details().order_by(markers.c.id).limit(limit)
    if work_session_id is not None:
        stmt = stmt.where(markers.c.work_session_id == work_session_id)
    if after is not None:
        stmt = stmt.where(markers.c.id > after)
    found = await conn.execute(stmt)
    listed: list[MarkerRow] = []
    # Rows are decoded (JSON columns) as they are fetched: a batch at a time, letting the
    # event loop serve other requests between batches of a long list.
    while batch := found.fetchmany(ROWS_PER_STEP):
        listed.extend(_split(row) for row in batch)
        if len(batch) == ROWS_PER_STEP:
            await asyncio.sleep(0)
    return listed


async def more_markers_than(
    conn: AsyncConnection, count: int, *, work_session_id: UUID | None, after: UUID | None
) -> bool:
    """Whether more than `count` markers (of the session, after `after`) exist: one index
    probe at row `count + 1` (the primary key, or (work_session_id, id)), never a COUNT(*)."""
    stmt = select(markers.c.id).order_by(markers.c.id).offset(count).limit(1)
    if work_session_id is not None:
        stmt = stmt.where(markers.c.work_session_id == work_session_id)
    if after is not None:
        stmt = stmt.where(markers.c.id > after)
    return (await conn.execute(stmt)).first() is not None


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
