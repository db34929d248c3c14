"""Client-side exceptions: one hierarchy, built from the server's short JSON error bodies.

Every non-2xx answer goes through `raise_for_error`, so callers catch one family
(`ApiError` and its subclasses) keyed by the wire `error` code and the HTTP status. This is
deliberately not the server's `roboscope.errors`: those are domain errors raised inside the
server; these describe what a client observed on the wire.
"""

from __future__ import annotations

from typing import Any

import httpx


class ClientError(Exception):
    """Base of everything the SDK raises on purpose."""


class ConnectionFailed(ClientError):
    """The server could not be reached or did not answer in time (no HTTP status)."""


class BadResponse(ClientError):
    """The server answered 2xx with a body that is not what the API promises (a proxy's
    page, another service on that port, a server of an incompatible version)."""


class ApiError(ClientError):
    """The server answered with an error status; `code` is the body's `error` field."""

    def __init__(self, status: int, code: str, message: str, body: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.body = body


class NotFound(ApiError):
    """404: no such resource (or, for details and laser guides, none yet)."""


class Invalid(ApiError):
    """400, 413 or 422: the request was refused as malformed, too large or inconsistent."""


class Conflict(ApiError):
    """409 for a reason other than a stale version."""


class VersionConflict(Conflict):
    """409 `version_conflict`: refresh and retry; `current_version` is the stored version."""

    def __init__(
        self, status: int, code: str, message: str, body: Any, current_version: int | None
    ) -> None:
        super().__init__(status, code, message, body)
        self.current_version = current_version


class Unauthorized(ApiError):
    """401: the server requires an API token (ROBOSCOPE_AUTH=required) and this client sent
    none, or one that is unknown, expired or revoked: pass `token=` (docs/auth.md)."""


class Forbidden(ApiError):
    """403: the token's scope is too low (`insufficient_scope`), it may not act as that user
    (`forbidden`), or a browser write came from another site (`cross_site_request`)."""


class Locked(ApiError):
    """423 `locked`: the write's `X-Lock-Token` no longer holds the work session's lock."""


class Unavailable(ApiError):
    """503: the database or Redis is down; `retry_after` (seconds) is the server's hint."""

    def __init__(
        self, status: int, code: str, message: str, body: Any, retry_after: float | None
    ) -> None:
        super().__init__(status, code, message, body)
        self.retry_after = retry_after


class RateLimited(ApiError):
    """429: the caller spent a request budget (`rate_limited`, `budget` in the body) or holds
    too many live streams (`too_many_streams`); retry after `retry_after` seconds."""

    def __init__(
        self, status: int, code: str, message: str, body: Any, retry_after: float | None
    ) -> None:
        super().__init__(status, code, message, body)
        self.retry_after = retry_after


class LockUnavailable(ClientError):
    """`hold_lock` found the work session locked by someone else (contention is not an
    HTTP error on the wire: the server answers 200 `acquired: false`)."""

    def __init__(self, session_id: str) -> None:
        super().__init__(f"work session {session_id} is locked by another holder")
        self.session_id = session_id


class LockLost(ClientError):
    """A held lock expired or was taken over; its token no longer authorizes writes."""


class ReloadRequired(ApiError):
    """410: the changes after the client's cursor are no longer kept. Reload the state
    (e.g. the session's markers, with their cursor) and follow the changes from there."""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare enough to leave to the caller


def raise_for_error(response: httpx.Response) -> httpx.Response:
    """Return a 2xx response unchanged; raise the matching `ApiError` for anything else."""
    status = response.status_code
    if status < 400:
        return response
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    fields = body if isinstance(body, dict) else {}
    code = str(fields.get("error") or f"http_{status}")
    message = str(fields.get("message") or response.reason_phrase or "error")
    if status == 409 and code == "version_conflict":
        current = fields.get("current_version")
        raise VersionConflict(
            status, code, message, body, current if isinstance(current, int) else None
        )
    if status == 503:
        raise Unavailable(status, code, message, body, _retry_after(response))
    if status == 429:
        raise RateLimited(status, code, message, body, _retry_after(response))
    if status == 410:
        raise ReloadRequired(status, code, message, body)
    kind: type[ApiError] = {
        400: Invalid,
        401: Unauthorized,
        403: Forbidden,
        404: NotFound,
        409: Conflict,
        413: Invalid,
        422: Invalid,
        423: Locked,
    }.get(status, ApiError)
    raise kind(status, code, message, body)
