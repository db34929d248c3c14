"""The Roboscope Python SDK: typed clients over the wire models, and the collaborative
behaviours of the seed guide done right (presence, held locks, retry-on-conflict, sync).

    async with AsyncClient("http://127.0.0.1:8080") as api:
        space = await api.create_space(SpaceCreate(key="hall-a", name="Hall A"))

See docs/sdk.md.
"""

from ._async import AsyncClient
from ._base import API_PREFIX, DEFAULT_TIMEOUT, DEFAULT_URL
from ._calls import LOCK_TOKEN_HEADER, Id
from ._sync import Client
from .errors import (
    ApiError,
    ClientError,
    Conflict,
    ConnectionFailed,
    Invalid,
    Locked,
    LockLost,
    LockUnavailable,
    NotFound,
    Unavailable,
    VersionConflict,
    raise_for_error,
)
from .locks import HeldLock
from .presence import PresenceSession
from .retry import backoff, update_with_retry, update_with_retry_sync
from .sync import ChangeHandler, MarkerChanges, MarkerSync, diff

__all__ = [
    "API_PREFIX",
    "DEFAULT_TIMEOUT",
    "DEFAULT_URL",
    "LOCK_TOKEN_HEADER",
    "ApiError",
    "AsyncClient",
    "ChangeHandler",
    "Client",
    "ClientError",
    "Conflict",
    "ConnectionFailed",
    "HeldLock",
    "Id",
    "Invalid",
    "LockLost",
    "LockUnavailable",
    "Locked",
    "MarkerChanges",
    "MarkerSync",
    "NotFound",
    "PresenceSession",
    "Unavailable",
    "VersionConflict",
    "backoff",
    "diff",
    "raise_for_error",
    "update_with_retry",
    "update_with_retry_sync",
]
