"""Health and the caller, presence, locks, tokens, and the change log."""

from __future__ import annotations

from ...wire import Health
from ...wire.changes import ChangePage
from ...wire.locks import (
    LockAcquire,
    LockExtend,
    LockExtension,
    LockGrant,
    LockRelease,
    LockReleased,
    LockStatus,
)
from ...wire.presence import PresenceBeat, PresenceHeartbeat, PresenceList
from ...wire.tokens import (
    ApiToken,
    ApiTokenCreate,
    ApiTokenCreated,
    ApiTokenRevoked,
    Caller,
    StreamToken,
)
from .._calls import Body, Input, Operation, many, one, path_id
from .cli import Command

# Health and the caller

health = Operation(
    "GET",
    "/health",
    one(Health),
    command=Command(
        ("health",),
        "The server's health report; exit 1 unless its database and Redis are up.",
        check="healthy",
    ),
)
whoami = Operation(
    "GET",
    "/whoami",
    one(Caller),
    doc="Who the server takes this client for: its token (never the secret), scope and "
    "user; `Unauthorized` says why a token is refused.",
    command=Command(
        ("whoami",),
        "What the API token is as the server sees it, or why it refuses it.",
        text="caller",
    ),
)


# Presence

_SESSION = (path_id("session_id", "work session"),)
heartbeat = Operation(
    "POST",
    "/presence/{session_id}",
    one(PresenceBeat),
    (
        *_SESSION,
        Input("user_id", "str", "field"),
        Input("device_id", "str | None", "field", "None", keyword=True),
        Input("display_name", "str | None", "field", "None", keyword=True),
        Input("meta", "JsonObject | None", "field", "None", keyword=True, option=""),
    ),
    Body(PresenceHeartbeat, whole=False),
    doc="One beat; answers who is present. `presence()` keeps beating.",
    command=Command(
        ("presence", "beat"),
        "One heartbeat: present for the server's presence TTL (30 s by default).",
    ),
)
list_presence = Operation(
    "GET",
    "/presence/{session_id}",
    one(PresenceList),
    _SESSION,
    command=Command(("presence", "list"), "Who is present, with their devices."),
)
leave = Operation(
    "DELETE",
    "/presence/{session_id}/{user_id}",
    one(PresenceList),
    (
        *_SESSION,
        # Opaque and verbatim: slashes, `?` and `#` survive the path, case is kept.
        Input("user_id", "str", "path", help="The user id (verbatim).", option="USER"),
        Input(
            "device_id",
            "str | None",
            "query",
            "None",
            keyword=True,
            help="Only this device leaves (verbatim).",
        ),
    ),
    command=Command(
        ("presence", "leave"), "Leave (only --device, when given); prints who is still present."
    ),
)

# Locks (the iOS guide's route family)

acquire_lock = Operation(
    "POST",
    "/locks/{session_id}",
    one(LockGrant),
    (
        *_SESSION,
        Input("ttl_seconds", "int | None", "field", "None"),
        Input("owner", "str | None", "field", "None", keyword=True),
    ),
    Body(LockAcquire, whole=False),
    doc="Contention is `acquired=False` (not an exception); see `hold_lock`.",
    command=Command(
        ("lock", "acquire"),
        "Print the grant (with the token); exit 1 when someone else holds the lock.",
        defaults={"ttl_seconds": 30},
        check="acquired",
    ),
)
lock_status = Operation(
    "GET",
    "/locks/{session_id}",
    one(LockStatus),
    _SESSION,
    command=Command(
        ("lock", "status"), "Whether the session is locked, by whom, until when (never the token)."
    ),
)
extend_lock = Operation(
    "POST",
    "/locks/{session_id}/extend",
    one(LockExtension),
    (
        *_SESSION,
        Input("token", "str", "field"),
        Input("ttl_seconds", "int | None", "field", "None"),
    ),
    Body(LockExtend, whole=False),
    command=Command(
        ("lock", "extend"),
        "Extend a lock you hold; exit 1 when the token no longer holds it.",
        defaults={"ttl_seconds": 30},
        helps={"ttl_seconds": "New TTL in seconds, from now."},
        check="extended",
    ),
)
release_lock = Operation(
    "DELETE",
    "/locks/{session_id}",
    one(LockReleased),
    (*_SESSION, Input("token", "str", "field")),
    Body(LockRelease, whole=False),
    command=Command(
        ("lock", "release"),
        "Release a lock you hold; exit 1 when the token does not hold it.",
        check="released",
    ),
)
force_release_lock = Operation(
    "POST",
    "/locks/{session_id}/force-release",
    one(LockReleased),
    _SESSION,
    doc="Admin scope: free the lock whoever holds it; its holder's writes get 423.",
)

# Tokens (admin scope) and the live stream's query token

list_tokens = Operation(
    "GET", "/tokens", many(ApiToken), doc="Admin scope: every API token, never a secret."
)
create_token = Operation(
    "POST",
    "/tokens",
    one(ApiTokenCreated),
    (
        Input("name", "str", "field"),
        Input("user_id", "str | None", "field", "None", keyword=True),
        Input("scope", "Scope", "field", '"write"', keyword=True),
        Input("expires_in", "str | None", "field", "None", keyword=True),
    ),
    Body(ApiTokenCreate, whole=False),
    doc="Admin scope: a new token; its `token` (the secret) is shown this once.",
)
revoke_token = Operation(
    "DELETE",
    "/tokens/{name_or_id}",
    one(ApiTokenRevoked),
    (Input("name_or_id", "str", "path"),),
    doc="Admin scope: every server process confirms, then the token is refused everywhere "
    "and its live streams end; `propagation` names any process that did not confirm.",
)
stream_token = Operation(
    "POST",
    "/work-sessions/{session_id}/stream-token",
    one(StreamToken),
    _SESSION,
    doc="A 60-second `?access_token=` for the session's live stream, for clients that cannot "
    "send headers (browsers' `EventSource`).",
)

# Changes

session_changes = Operation(
    "GET",
    "/work-sessions/{work_session_id}/changes",
    one(ChangePage),
    (
        path_id("work_session_id", "work session"),
        Input("since", "int | None", "query", "None", keyword=True),
        Input("limit", "int | None", "query", "None", keyword=True),
    ),
    doc="The session's changes after `since`, in order, and the cursor to ask from next "
    "(`ReloadRequired` when `since` is older than the kept log).",
)
list_events = Operation(
    "GET",
    "/events",
    one(ChangePage),
    tuple(
        Input(name, annotation, "query", "None", keyword=True)
        for name, annotation in (
            ("since", "int | None"),
            ("limit", "int | None"),
            ("entity", "str | None"),
            ("entity_id", "Id | None"),
            ("work_session_id", "Id | None"),
            ("space_id", "Id | None"),
        )
    ),
    doc="One page of the audit trail (every recorded create, update and delete).",
)
