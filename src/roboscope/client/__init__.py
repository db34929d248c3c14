"""The Roboscope Python SDK: typed clients over the wire models, and the collaborative
behaviours of the iOS guide done right (presence, held locks, retry-on-conflict, sync).

    async with AsyncClient("http://127.0.0.1:8080") as api:
        space = await api.create_space(SpaceCreate(key="hall-a", name="Hall A"))

    with Client("http://127.0.0.1:8080") as api:
        space = api.create_space(SpaceCreate(key="hall-b", name="Hall B"))

`Client` is generated from `AsyncClient` (`_sync/` from `_async/`, by
`scripts/unasync_client.py`), so both have the same methods and behaviours. This package
imports httpx and pydantic only: never the server, the database layer or Redis. See
docs/sdk.md.

Each name is imported on first use (`roboscope/lazy.py`), so a program loads only the parts
it uses: `roboscope health` the blocking client, without the async one, its behaviours or
asyncio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import exports

if TYPE_CHECKING:
    from ._async.client import AsyncClient
    from ._async.locks import AsyncHeldLock
    from ._async.marker_sync import AsyncMarkerSync
    from ._async.presence import AsyncPresenceSession
    from ._async.retry import update_with_retry
    from ._backoff import backoff
    from ._base import API_PREFIX, DEFAULT_TIMEOUT, DEFAULT_URL
    from ._calls import LOCK_TOKEN_HEADER, Id, Page
    from ._sync.client import Client
    from ._sync.locks import HeldLock
    from ._sync.marker_sync import MarkerSync
    from ._sync.presence import PresenceSession
    from ._sync.retry import update_with_retry_sync
    from .changes import AsyncChangeHandler, ChangeHandler, MarkerChanges, diff
    from .errors import (
        ApiError,
        BadResponse,
        ClientError,
        Conflict,
        ConnectionFailed,
        Forbidden,
        Invalid,
        Locked,
        LockLost,
        LockUnavailable,
        NotFound,
        RateLimited,
        ReloadRequired,
        Unauthorized,
        Unavailable,
        VersionConflict,
        raise_for_error,
    )
    from .events import Event, MarkerSnapshot

__all__ = [
    "API_PREFIX",
    "DEFAULT_TIMEOUT",
    "DEFAULT_URL",
    "LOCK_TOKEN_HEADER",
    "ApiError",
    "AsyncChangeHandler",
    "AsyncClient",
    "AsyncHeldLock",
    "AsyncMarkerSync",
    "AsyncPresenceSession",
    "BadResponse",
    "ChangeHandler",
    "Client",
    "ClientError",
    "Conflict",
    "ConnectionFailed",
    "Event",
    "Forbidden",
    "HeldLock",
    "Id",
    "Invalid",
    "LockLost",
    "LockUnavailable",
    "Locked",
    "MarkerChanges",
    "MarkerSnapshot",
    "MarkerSync",
    "NotFound",
    "Page",
    "PresenceSession",
    "RateLimited",
    "ReloadRequired",
    "Unauthorized",
    "Unavailable",
    "VersionConflict",
    "backoff",
    "diff",
    "raise_for_error",
    "update_with_retry",
    "update_with_retry_sync",
]

_HOME: dict[str, tuple[str, ...]] = {
    "._async.client": ("AsyncClient",),
    "._async.locks": ("AsyncHeldLock",),
    "._async.marker_sync": ("AsyncMarkerSync",),
    "._async.presence": ("AsyncPresenceSession",),
    "._async.retry": ("update_with_retry",),
    "._backoff": ("backoff",),
    "._base": ("API_PREFIX", "DEFAULT_TIMEOUT", "DEFAULT_URL"),
    "._calls": ("LOCK_TOKEN_HEADER", "Id", "Page"),
    "._sync.client": ("Client",),
    "._sync.locks": ("HeldLock",),
    "._sync.marker_sync": ("MarkerSync",),
    "._sync.presence": ("PresenceSession",),
    "._sync.retry": ("update_with_retry_sync",),
    ".changes": ("AsyncChangeHandler", "ChangeHandler", "MarkerChanges", "diff"),
    ".errors": (
        "ApiError",
        "BadResponse",
        "ClientError",
        "Conflict",
        "ConnectionFailed",
        "Forbidden",
        "Invalid",
        "Locked",
        "LockLost",
        "LockUnavailable",
        "NotFound",
        "RateLimited",
        "ReloadRequired",
        "Unauthorized",
        "Unavailable",
        "VersionConflict",
        "raise_for_error",
    ),
    ".events": ("Event", "MarkerSnapshot"),
}
"""Where each public name is defined (module → names)."""

if not TYPE_CHECKING:  # (a type checker reads the imports above, and flags unknown names)
    __getattr__ = exports(__name__, _HOME, globals())
