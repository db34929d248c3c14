"""Marker lists sent from stored text: each marker is kept also as the JSON a list sends.

Every write of a marker stores its text (`wire.markers.listed_head`) with the version it was
made at, and every write of details stores theirs with its `updated_at`; a list then reads
one text per marker and joins them, instead of reading, converting and encoding a dozen
columns per marker (docs/performance.md). A text counts only while it was made at its row's
current version (db/markers.py), so a row no write has stored yet (left by migration 0008,
written by an earlier release during a rolling upgrade) is never sent stale: the list renders
it from its columns, and each server start stores such rows again in the background
(`store_missing_forever`).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from ..db import marker_details as details_rows
from ..db import markers as rows
from ..db.engine import Database
from ..wire import Marker, MarkerDetails
from ..wire.markers import listed_details, listed_head, listed_marker
from .paging import EncodedPage, PageRequest, encode_cursor

log = logging.getLogger(__name__)

STORE_BATCH = 500
"""Markers whose texts are stored per transaction by `store_missing`."""


def columns_of(marker: Marker) -> dict[str, Any]:
    """The stored text's columns of a marker being created (inserted with its row)."""
    return {"listed": listed_head(marker), "listed_version": marker.version}


async def store_marker(conn: AsyncConnection, marker: Marker) -> None:
    """After an update of the marker (its details are stored by `store_details`)."""
    await rows.set_listed(conn, marker.id, listed_head(marker), marker.version)


async def store_details(
    conn: AsyncConnection, details: MarkerDetails, updated_at: datetime
) -> None:
    """After a write of a marker's details; `updated_at` as stored (the row's own value)."""
    await details_rows.set_listed(conn, details.marker_id, listed_details(details), updated_at)


async def encoded_page(
    conn: AsyncConnection,
    change_cursor: int,
    paging: PageRequest,
    work_session_id: UUID | None,
) -> EncodedPage:
    """The page's markers read a batch at a time and joined as they come, so the list is
    held as its bytes only. One row more than the page is read: if it came, it is left out
    and a next page announced."""
    chunks: list[bytes] = []
    kept = 0
    last_id: UUID | None = None
    more = False
    async for batch in rows.listed_markers(
        conn, work_session_id=work_session_id, after=paging.after, limit=paging.fetch
    ):
        if paging.limit is not None and kept + len(batch) > paging.limit:
            batch = batch[: paging.limit - kept]
            more = True
        if batch:
            missing = [marker_id for marker_id, text in batch if text is None]
            rendered = await _rendered(conn, missing) if missing else {}
            texts = [rendered[marker_id] if text is None else text for marker_id, text in batch]
            chunks.append(f"[{','.join(texts)}]".encode())
            kept += len(batch)
            last_id = batch[-1][0]
    next_cursor = encode_cursor(last_id) if more and last_id is not None else None
    return EncodedPage(chunks, next_cursor, change_cursor)


async def _rendered(conn: AsyncConnection, ids: list[UUID]) -> dict[UUID, str]:
    """These markers' texts made from their columns, read in the list's own snapshot."""
    found = await rows.markers_with_details(conn, ids)
    return {row["id"]: listed_marker(_marker(row, details)) for row, details in found}


def _marker(row: dict[str, Any], details: dict[str, Any] | None) -> Marker:
    return Marker.model_validate({**row, "details": details})


async def store_missing(db: Database, batch: int = STORE_BATCH) -> int:
    """Store the text of every marker (and details) without a current one, `batch` markers
    per transaction; the number of markers done. Safe beside writes and other processes: a
    text is stored only where its row has not moved since it was read."""
    done = 0
    after: UUID | None = None  # each marker is looked at once, stored or not
    while True:
        async with db.transaction() as conn:
            found = await rows.unlisted(conn, batch, after=after)
            markers = [_marker(row, details) for row, details in found]
            await rows.fill_listed(conn, [(m.id, m.version, listed_head(m)) for m in markers])
            await details_rows.fill_listed(
                conn,
                [
                    (m.id, details["updated_at"], listed_details(m.details))
                    for m, (_, details) in zip(markers, found, strict=True)
                    if m.details is not None and details is not None
                ],
            )
        done += len(found)
        if len(found) < batch:
            return done
        after = markers[-1].id
        await asyncio.sleep(0)


async def store_missing_forever(db: Database, retry_seconds: float = 30.0) -> None:
    """`store_missing` once at a server's start (a background task), again after a failure
    (a database that is down) until it is done."""
    while True:
        try:
            if done := await store_missing(db):
                log.info("markers whose list text was stored: %d", done)
            return
        except Exception as error:
            log.warning("storing the markers' list text failed: %s", error)
        await asyncio.sleep(retry_seconds)
