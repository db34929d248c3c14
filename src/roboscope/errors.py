"""Domain errors raised by services and turned into short JSON bodies at the HTTP edge.

Each error carries its wire `code` and HTTP `status`, so the edge needs one handler for all of
them and a new rule never needs a new handler. Every error a client or a command may see is
defined here, the outages of the database and of Redis included, whichever layer raises it.
"""

from __future__ import annotations

from typing import Any


class RoboscopeError(Exception):
    """Base of every error a client may see; `extra` lands beside `error` and `message`."""

    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.extra}

    def headers(self) -> dict[str, str] | None:
        """HTTP headers the answer must carry (`Retry-After`, `WWW-Authenticate`)."""
        return None


class NotFound(RoboscopeError):
    status = 404
    code = "not_found"


class InvalidReference(RoboscopeError):
    """A body names a parent (space, work session, marker) that does not exist."""

    status = 422
    code = "invalid_reference"


class VersionConflict(RoboscopeError):
    """The client's `version` is not the stored one: it must refresh and retry."""

    status = 409
    code = "version_conflict"

    def __init__(self, resource: str, current_version: int) -> None:
        super().__init__(
            f"{resource} was modified by another client; refresh and retry",
            current_version=current_version,
        )


class Conflict(RoboscopeError):
    status = 409
    code = "conflict"


class LockRejected(RoboscopeError):
    """A write carried `X-Lock-Token`, but the token does not hold the lock (or is fenced off)."""

    status = 423
    code = "locked"


RETRY_AFTER_SECONDS = 2
"""`Retry-After` of a 503 when a backing service is down, unless its error knows better."""


class ServiceUnavailable(RoboscopeError):
    """A backing service (the database or Redis) cannot be reached; the client should retry."""

    status = 503
    code = "service_unavailable"

    def __init__(self, service: str, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        super().__init__(f"{service} is unavailable, retry shortly", service=service)
        self.service = service
        self.retry_after = retry_after

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}


class InvalidInput(RoboscopeError):
    """Well-formed input that breaks a rule the wire models cannot know (e.g. a configured
    maximum)."""

    status = 422
    code = "validation_error"


class Unauthenticated(RoboscopeError):
    """No usable API token (auth on): missing, unknown, expired, revoked or malformed.

    `invalid_token` is set when the request did carry a token (RFC 6750 then names the error
    in `WWW-Authenticate`); a request without one gets the bare challenge.
    """

    status = 401
    code = "unauthorized"

    def __init__(self, message: str, *, invalid_token: bool = False) -> None:
        super().__init__(message)
        self.invalid_token = invalid_token
        if invalid_token:
            self.code = "invalid_token"

    def headers(self) -> dict[str, str] | None:
        challenge = 'Bearer realm="roboscope"'
        if self.invalid_token:
            challenge += ', error="invalid_token"'
        return {"WWW-Authenticate": challenge}


class InsufficientScope(RoboscopeError):
    """The token is valid but its scope is below what the operation needs."""

    status = 403
    code = "insufficient_scope"

    def __init__(self, needed: str, has: str) -> None:
        super().__init__(f"this operation needs a token with {needed} scope; this one has {has}")

    def headers(self) -> dict[str, str] | None:
        return {"WWW-Authenticate": 'Bearer realm="roboscope", error="insufficient_scope"'}


class Forbidden(RoboscopeError):
    """The token may not act as someone else (presence of another user, a lock's owner)."""

    status = 403
    code = "forbidden"


class Throttled(RoboscopeError):
    """Refused for now, not for what was asked: the client retries after `retry_after`
    seconds (sent as `Retry-After`)."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int, **extra: Any) -> None:
        super().__init__(message, **extra)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}


class RateLimited(Throttled):
    """The caller spent its budget of this kind of request (services/limits.py)."""

    code = "rate_limited"


class TooManyStreams(Throttled):
    """The caller already has the most live streams one process serves to one caller."""

    code = "too_many_streams"


class StreamCapacity(Throttled):
    """This process serves the most live streams it may; another process, or later, can."""

    status = 503
    code = "stream_capacity"


class UncomputableDetails(RoboscopeError):
    status = 422
    code = "invalid_value"


class PresenceFull(RoboscopeError):
    """A new device's heartbeat in a work session that already holds the most devices
    (`ROBOSCOPE_PRESENCE_MAX_DEVICES_PER_SESSION`); the devices present keep beating."""

    status = 409
    code = "presence_full"


class KeyReused(RoboscopeError):
    status = 422
    code = "idempotency_key_reused"


class CursorExpired(RoboscopeError):
    """The log cannot continue from the cursor: reload. Either the changes after it were
    removed by retention, or the cursor is ahead of every cursor this log has issued (a
    made-up number, or one from before the database was restored from an older backup):
    answering "nothing new" would hide every change until the log caught up with it."""

    status = 410
    code = "cursor_expired"

    def __init__(self, message: str, *, oldest: int) -> None:
        super().__init__(
            f"{message}: reload the current state and continue from its cursor",
            oldest_cursor=oldest,
        )


class DowngradeRefused(InvalidInput):
    """The target is not somewhere below the database's revision."""


class InvalidValue(RoboscopeError):
    status = 422
    code = "invalid_value"


class DatabaseUnavailable(ServiceUnavailable):
    """503 naming the database (never its password) and why it cannot serve."""

    def __init__(self, description: str, reason: str) -> None:
        super().__init__("database")
        self.message = f"database {description} is unavailable ({reason}), retry shortly"
        self.args = (self.message,)
        self.description = description
        self.reason = reason

    @property
    def problem(self) -> str:
        """`database NAME REASON`: the one line a command prints (no "retry shortly")."""
        return f"database {self.description} {self.reason}"


class RedisUnavailable(ServiceUnavailable):
    """Redis cannot serve this request now (503); `reason` says why.

    `outcome_unknown` is True when the command may have reached Redis and run there although
    no answer came back (a timeout, a connection lost mid-command): a caller that changed
    state must then undo what it may have done. `unreachable` tells a server that cannot be
    reached at all (nobody sees its state meanwhile) from one that stalls.
    """

    def __init__(
        self,
        reason: str,
        retry_after: int = RETRY_AFTER_SECONDS,
        *,
        outcome_unknown: bool = False,
        unreachable: bool = False,
    ) -> None:
        super().__init__("redis", retry_after)
        self.reason = reason
        self.outcome_unknown = outcome_unknown
        self.unreachable = unreachable
        self.message = f"redis is unavailable ({reason}), retry shortly"
        self.args = (self.message,)
