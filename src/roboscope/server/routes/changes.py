"""The change log over HTTP: the audit trail, a session's catch-up, and its live stream."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query
from starlette.responses import Response

from ...services import changes, live
from ...wire.changes import ChangePage
from ...wire.errors import CursorExpiredError, NotFoundError
from ..auth import STREAM_ACCESS_TOKEN, Caller, accepts_query_token
from ..deps import DB, State
from ..event_stream import EventStream
from ..limits import LiveStreamSlot
from ..responses import wire

router = APIRouter(tags=["changes"])

Since = Annotated[
    int | None,
    Query(
        ge=0,
        description="A cursor: only changes after it (default: all kept). A cursor older "
        "than the kept log, or ahead of the newest change, is answered 410.",
    ),
]
Limit = Annotated[int, Query(ge=1, le=changes.PAGE_LIMIT, description="Page size.")]
GONE: dict[int | str, dict[str, Any]] = {
    410: {
        "model": CursorExpiredError,
        "description": "The cursor is older than the kept log, or ahead of its newest "
        "change (never issued, or from before a restore): reload.",
    }
}


@router.get("/events", response_model=ChangePage, responses=GONE)
async def list_events(
    db: DB,
    since: Since = None,
    limit: Limit = changes.PAGE_LIMIT,
    entity: changes.Entity | None = None,
    entity_id: UUID | None = None,
    work_session_id: UUID | None = None,
    space_id: UUID | None = None,
) -> Response:
    """The audit trail: every recorded create, update and delete, oldest first, filtered;
    page with `since=<cursor>` of the previous page while `has_more`."""
    page = await changes.list_changes(
        db,
        since=since,
        limit=limit,
        entity=entity,
        entity_id=entity_id,
        work_session_id=work_session_id,
        space_id=space_id,
    )
    return wire(page)


@router.get("/work-sessions/{session_id}/changes", response_model=ChangePage, responses=GONE)
async def session_changes(
    db: DB, session_id: UUID, since: Since = None, limit: Limit = changes.PAGE_LIMIT
) -> Response:
    """The session's changes after `since` (its markers, their details, its anchors and the
    session itself), in order, and the cursor to ask from next."""
    page = await changes.list_changes(db, since=since, limit=limit, work_session_id=session_id)
    return wire(page)


@router.get(
    "/work-sessions/{session_id}/events",
    response_class=EventStream,
    status_code=200,
    dependencies=[STREAM_ACCESS_TOKEN],
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "The live stream."},
        404: {"model": NotFoundError, "description": "No such work session."},
        **GONE,
    },
)
@accepts_query_token
async def session_events(
    state: State,
    caller: Caller,
    claim_slot: LiveStreamSlot,  # 429 / 503 past the live-stream caps
    session_id: UUID,
    since: Since = None,
    ping: Annotated[
        float | None,
        Query(
            ge=1,
            le=60,
            description="Seconds between keep-alive comments on an idle stream (default: "
            "ROBOSCOPE_LIVE_PING_SECONDS); a client that wants to notice a dead connection, "
            "or to stop reading, sooner asks for fewer.",
        ),
    ] = None,
    last_event_id: Annotated[
        str | None, Header(description="Resume after this event (sent by EventSource).")
    ] = None,
) -> Response:
    """`text/event-stream`: `presence.snapshot` and `lock.snapshot`, then every data change
    after `Last-Event-ID` (or `since`), then live events. See docs/live.md."""
    if last_event_id is not None:
        since = changes.parse_cursor(last_event_id, source="Last-Event-ID")
    slot = claim_slot()
    try:
        ping = ping or state.settings.live_ping_seconds
        stream = EventStream(state.live, state.streams, slot, ping=ping)
        await state.live.open(
            session_id,
            stream.subscriber,
            since=since,
            snapshots=partial(live.snapshots, state.presence, session_id),
            token_id=caller.token_id,  # revoking it ends the stream
        )
    except BaseException:  # (a 404 or 410 holds no place)
        slot.release()
        raise
    return stream  # which gives the slot back when its response ends
