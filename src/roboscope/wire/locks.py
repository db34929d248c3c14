"""Edit locks on a work session; both route families (the iOS guide's and the shipping
app's) share these.

Contention is an ordinary answer (`acquired: false`), never an error: a 409 would make the
clients throw instead of showing "locked by another user".
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StrictInt

from .common import Timestamp, WireModel, storable_text

Token = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(storable_text)]


class LockAcquire(WireModel):
    ttl_seconds: StrictInt | None = Field(default=None, description="Default 30; at most 3600.")
    owner: Annotated[str, Field(max_length=200), AfterValidator(storable_text)] | None = None


class LockExtend(WireModel):
    token: Token
    ttl_seconds: StrictInt | None = None


class LockRelease(WireModel):
    token: Token


class LockGrant(WireModel):
    """The answer to acquire and extend: `acquired` for the iOS guide's client, `extended`
    for the app. An acquire that finds the lock taken (`acquired: false`) names the holder's
    `owner` and `expires_at` (never its token or fence)."""

    acquired: bool
    token: str | None = None
    fence: int | None = None
    owner: str | None = None
    expires_at: Timestamp | None = None
    ttl_seconds: StrictInt | None = None


class LockExtension(LockGrant):
    extended: bool


class LockReleased(WireModel):
    released: bool


class LockStatus(WireModel):
    """Who holds the lock and until when; never the token."""

    locked: bool
    owner: str | None = None
    fence: int | None = None
    expires_at: Timestamp | None = None
    ttl_remaining_ms: int | None = None
