"""What goes with a work session when it is deleted: the one place that lists its contents.

Called inside the caller's transaction, so a delete removes everything or nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from ..db import anchors as anchor_rows
from ..db import marker_details as details_rows
from ..db import markers as marker_rows
from ..db import work_sessions as session_rows


async def delete_work_sessions_with_contents(
    conn: AsyncConnection, session_ids: Sequence[UUID]
) -> None:
    if not session_ids:
        return
    # The sessions' rows first, then their contents: the lock order of every fenced write
    # (which raises its session's fence before it writes), so the two cannot deadlock.
    await session_rows.lock_work_sessions(conn, session_ids)
    await details_rows.delete_details_of_sessions(conn, session_ids)
    await anchor_rows.delete_anchors_of_sessions(conn, session_ids)
    await marker_rows.delete_markers_of_sessions(conn, session_ids)
    await session_rows.delete_work_sessions(conn, session_ids)
