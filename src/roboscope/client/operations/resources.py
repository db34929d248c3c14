"""The data: spaces, work sessions, markers and their details, anchors, laser guides and
reference sets."""

from __future__ import annotations

from uuid import UUID

import httpx

from ...wire import (
    Anchor,
    AnchorUpdate,
    AnchorUpsert,
    LaserGuide,
    LaserGuidePut,
    Marker,
    MarkerBulkCreate,
    MarkerCreate,
    MarkerDetails,
    MarkerDetailsPut,
    MarkerUpdate,
    ReferenceSet,
    ReferenceSetCreate,
    ReferenceSetUpdate,
    SessionType,
    Space,
    SpaceCreate,
    SpaceUpdate,
    WorkSession,
    WorkSessionCreate,
    WorkSessionUpdate,
)
from ...wire.changes import CURSOR_HEADER
from .._calls import (
    CURSOR,
    EMPTY,
    LIMIT,
    NOTHING,
    Answer,
    Body,
    Input,
    Operation,
    lock_token,
    many,
    one,
    paged,
    path_id,
    whole,
)
from ..errors import BadResponse
from ..events import MarkerSnapshot
from .cli import Command, Option


def _marker_snapshot(response: httpx.Response) -> MarkerSnapshot:
    cursor = response.headers.get(CURSOR_HEADER, "")
    if not cursor.isdigit():
        raise BadResponse(f"the marker list came without a {CURSOR_HEADER} header")
    return MarkerSnapshot(many(Marker).parse(response), int(cursor))


# Spaces

_SPACE_QUERY = (
    Input("key", "str | None", "query", "None", keyword=True, help="Only the space with this key."),
    Input(
        "include_inactive",
        "bool",
        "query",
        "False",
        keyword=True,
        unless=False,
        help="Include inactive spaces.",
        option="--include-inactive",
    ),
)
list_spaces = Operation(
    "GET",
    "/spaces",
    many(Space),
    _SPACE_QUERY,
    command=Command(
        ("spaces", "list"),
        "List spaces (active ones unless --include-inactive).",
        pages="list_spaces_page",
    ),
)
list_spaces_page = Operation(
    "GET",
    "/spaces",
    paged(Space),
    (*_SPACE_QUERY, LIMIT, CURSOR),
    doc="At most `limit` spaces, after `cursor` (a previous page's `next_cursor`).",
)
create_space = Operation(
    "POST",
    "/spaces",
    one(Space),
    (whole(SpaceCreate),),
    Body(SpaceCreate),
    command=Command(("spaces", "create"), "Create a space; a key that exists already fails (409)."),
)
get_space = Operation(
    "GET",
    "/spaces/{space_id}",
    one(Space),
    (path_id("space_id", "space"),),
    command=Command(("spaces", "get"), "Show one space."),
)
update_space = Operation(
    "PATCH",
    "/spaces/{space_id}",
    one(Space),
    (path_id("space_id", "space"), whole(SpaceUpdate)),
    Body(SpaceUpdate),
    command=Command(("spaces", "update"), "Change the options given; the others stay."),
)
delete_space = Operation(
    "DELETE",
    "/spaces/{space_id}",
    NOTHING,
    (path_id("space_id", "space"),),
    command=Command(
        ("spaces", "delete"), "Delete the space with its work sessions and everything in them."
    ),
)

# Work sessions

_SESSION_QUERY = (
    Input(
        "space_id", "Id | None", "query", "None", keyword=True, help="Only sessions in this space."
    ),
    Input(
        "status",
        "WorkSessionStatus | None",
        "query",
        "None",
        keyword=True,
        help="Only this status.",
    ),
    Input(
        "session_type",
        "SessionType | None",
        "query",
        "None",
        keyword=True,
        help="Only this type.",
    ),
)
list_work_sessions = Operation(
    "GET",
    "/work-sessions",
    many(WorkSession),
    _SESSION_QUERY,
    command=Command(("sessions", "list"), "List work sessions.", pages="list_work_sessions_page"),
)
list_work_sessions_page = Operation(
    "GET",
    "/work-sessions",
    paged(WorkSession),
    (*_SESSION_QUERY, LIMIT, CURSOR),
    doc="At most `limit` work sessions, after `cursor` (a previous page's `next_cursor`).",
)
create_work_session = Operation(
    "POST",
    "/work-sessions",
    one(WorkSession),
    (whole(WorkSessionCreate),),
    Body(WorkSessionCreate),
    command=Command(
        ("sessions", "create"),
        "Create a work session in a space (version 0).",
        defaults={"session_type": SessionType.inspection},
    ),
)
get_work_session = Operation(
    "GET",
    "/work-sessions/{session_id}",
    one(WorkSession),
    (path_id("session_id", "work session"),),
    command=Command(("sessions", "get"), "Show one work session."),
)
update_work_session = Operation(
    "PATCH",
    "/work-sessions/{session_id}",
    one(WorkSession),
    (path_id("session_id", "work session"), whole(WorkSessionUpdate), lock_token()),
    Body(WorkSessionUpdate),
    command=Command(
        ("sessions", "update"),
        "Change the options given; with --version a stale version fails (409), without it "
        "the change is applied to the current version, retried on conflict.",
        helps={"space_id": "Move it to this space."},
        unversioned="update_work_session_with_retry",
    ),
)
delete_work_session = Operation(
    "DELETE",
    "/work-sessions/{session_id}",
    NOTHING,
    (path_id("session_id", "work session"), lock_token()),
    command=Command(
        ("sessions", "delete"),
        "Delete the session with its markers, their details, and its anchors.",
    ),
)

# Markers

_MARKER_QUERY = (
    Input(
        "work_session_id",
        "Id | None",
        "query",
        "None",
        keyword=True,
        help="Only this work session's markers.",
    ),
)
list_markers = Operation(
    "GET",
    "/markers",
    many(Marker),
    _MARKER_QUERY,
    command=Command(("markers", "list"), "List markers.", pages="list_markers_page"),
)
list_markers_page = Operation(
    "GET",
    "/markers",
    paged(Marker),
    (*_MARKER_QUERY, LIMIT, CURSOR),
    doc="At most `limit` markers, after `cursor` (a previous page's `next_cursor`).",
)
marker_snapshot = Operation(
    "GET",
    "/work-sessions/{work_session_id}/markers",
    Answer(_marker_snapshot, "MarkerSnapshot"),
    (path_id("work_session_id", "work session"),),
    doc="The session's markers and the change log cursor they are as of: load this, then "
    "follow `events(session_id, since=snapshot.cursor)` (see docs/live.md).",
)
create_marker = Operation(
    "POST",
    "/markers",
    one(Marker),
    (whole(MarkerCreate), lock_token()),
    Body(MarkerCreate),
    command=Command(("markers", "create"), "Create one marker."),
)
create_markers = Operation(
    "POST",
    "/markers/bulk",
    many(Marker),
    (Input("markers", "Iterable[MarkerCreate]", "field", help="The markers."), lock_token()),
    Body(MarkerBulkCreate, whole=False),
    doc="`POST /markers/bulk`: all or none, answered in request order.",
    command=Command(
        ("markers", "bulk"),
        'Create many markers from a JSON file: a list of markers (or {"markers": [...]}), '
        "each as in `POST /markers`. All are created or none; they are listed in the file's "
        "order.",
        from_file=True,
        fill={
            "work_session_id": Option(
                "--session", "Work session for the markers in the file that name none.", UUID
            )
        },
    ),
)
get_marker = Operation(
    "GET",
    "/markers/{marker_id}",
    one(Marker),
    (path_id("marker_id", "marker"),),
    command=Command(("markers", "get"), "Show one marker."),
)
update_marker = Operation(
    "PATCH",
    "/markers/{marker_id}",
    one(Marker),
    (path_id("marker_id", "marker"), whole(MarkerUpdate), lock_token()),
    Body(MarkerUpdate),
    command=Command(
        ("markers", "update"),
        "Change the options given; with --version a stale version fails (409), without it "
        "the change is applied to the current version, retried on conflict.",
        unversioned="update_marker_with_retry",
    ),
)
delete_marker = Operation(
    "DELETE",
    "/markers/{marker_id}",
    NOTHING,
    (path_id("marker_id", "marker"), lock_token()),
    command=Command(("markers", "delete"), "Delete a marker (and its details)."),
)

# Marker details

_MARKER = (path_id("marker_id", "marker"),)
get_marker_details = Operation(
    "GET",
    "/markers/{marker_id}/details",
    one(MarkerDetails),
    _MARKER,
    doc="Raises `NotFound` until the details were calculated or stored.",
    command=Command(
        ("details", "get"), "Show a marker's details (404 until calculated or stored)."
    ),
)
calculate_marker_details = Operation(
    "POST",
    "/markers/{marker_id}/details/calculate",
    one(MarkerDetails),
    _MARKER,
    EMPTY,
    command=Command(
        ("details", "calculate"), "Calculate (or recalculate) a marker's details from its corners."
    ),
)
put_marker_details = Operation(
    "PUT",
    "/markers/{marker_id}/details",
    one(MarkerDetails),
    (*_MARKER, whole(MarkerDetailsPut)),
    Body(MarkerDetailsPut),
    command=Command(
        ("details", "put"),
        "Store details as given in a JSON file (the body of `PUT /markers/{id}/details`).",
        from_file=True,
    ),
)
delete_marker_details = Operation(
    "DELETE",
    "/markers/{marker_id}/details",
    NOTHING,
    _MARKER,
    command=Command(("details", "delete"), "Delete a marker's details."),
)

# Anchors

list_anchors = Operation(
    "GET",
    "/anchors",
    many(Anchor),
    (
        Input(
            "session_id",
            "Id | None",
            "query",
            "None",
            keyword=True,
            help="Only this work session's anchors.",
        ),
    ),
    command=Command(("anchors", "list"), "List anchors."),
)
upsert_anchor = Operation(
    "POST",
    "/anchors",
    one(Anchor),
    (whole(AnchorUpsert),),
    Body(AnchorUpsert),
    doc="Creates or moves the anchor of (session_id, run, local_z).",
    command=Command(
        ("anchors", "upsert"),
        "Create the anchor of (session, run, local z), or move it if it exists.",
    ),
)
get_anchor = Operation(
    "GET",
    "/anchors/{anchor_id}",
    one(Anchor),
    (path_id("anchor_id", "anchor"),),
    command=Command(("anchors", "get"), "Show one anchor."),
)
update_anchor = Operation(
    "PATCH",
    "/anchors/{anchor_id}",
    one(Anchor),
    (path_id("anchor_id", "anchor"), whole(AnchorUpdate)),
    Body(AnchorUpdate, only_set=True),
    command=Command(
        ("anchors", "update"), "Move an anchor.", helps={"world_position": "New world position."}
    ),
)
delete_anchor = Operation(
    "DELETE",
    "/anchors/{anchor_id}",
    NOTHING,
    (path_id("anchor_id", "anchor"),),
    command=Command(("anchors", "delete"), "Delete an anchor."),
)

# Laser guides

_SPACE = (path_id("space_id", "space"),)
get_laser_guide = Operation(
    "GET",
    "/spaces/{space_id}/laser-guide",
    one(LaserGuide),
    _SPACE,
    doc="Raises `NotFound` when the space has no guide.",
    command=Command(("laser-guide", "get"), "Show a space's laser guide (404 when it has none)."),
)
put_laser_guide = Operation(
    "PUT",
    "/spaces/{space_id}/laser-guide",
    one(LaserGuide),
    (*_SPACE, whole(LaserGuidePut)),
    Body(LaserGuidePut),
    command=Command(
        ("laser-guide", "put"),
        'Store a space\'s laser guide from a JSON file: {"grid": [{"x", "z", '
        '"segment_length"}, ...], "meta": {...}}.',
        from_file=True,
    ),
)
delete_laser_guide = Operation(
    "DELETE",
    "/spaces/{space_id}/laser-guide",
    NOTHING,
    _SPACE,
    command=Command(("laser-guide", "delete"), "Delete a space's laser guide."),
)

# Reference sets

list_reference_sets = Operation(
    "GET",
    "/spaces/{space_id}/reference-sets",
    many(ReferenceSet),
    _SPACE,
    command=Command(("reference-sets", "list"), "List a space's reference sets."),
)
create_reference_set = Operation(
    "POST",
    "/spaces/{space_id}/reference-sets",
    one(ReferenceSet),
    (*_SPACE, whole(ReferenceSetCreate)),
    Body(ReferenceSetCreate),
    command=Command(("reference-sets", "create"), "Create a reference set in a space."),
)
_SET = (path_id("set_id", "reference set"),)
get_reference_set = Operation(
    "GET",
    "/reference-sets/{set_id}",
    one(ReferenceSet),
    _SET,
    command=Command(("reference-sets", "get"), "Show one reference set with its markers."),
)
update_reference_set = Operation(
    "PATCH",
    "/reference-sets/{set_id}",
    one(ReferenceSet),
    (*_SET, whole(ReferenceSetUpdate)),
    Body(ReferenceSetUpdate),
    command=Command(
        ("reference-sets", "update"),
        "Change the options given; --markers replaces the whole list.",
        helps={"version": "Expected current version: a stale one fails (409)."},
    ),
)
delete_reference_set = Operation(
    "DELETE",
    "/reference-sets/{set_id}",
    NOTHING,
    _SET,
    command=Command(("reference-sets", "delete"), "Delete a reference set."),
)
