"""What goes with a work session when it is deleted: the one place that lists its contents.

Called inside the caller's transaction, so a delete removes everything or nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from ..db import markers as marker_rows
from ..db import work_sessions as session_rows


async def delete_work_sessions_with_contents(
    conn: AsyncConnection, session_ids: Sequence[UUID]
) -> None:
    if not session_ids:
        return
    await marker_rows.delete_markers_of_sessions(conn, session_ids)
    await session_rows.delete_work_sessions(conn, session_ids)
