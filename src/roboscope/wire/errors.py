"""The error bodies the server sends, one model per HTTP status, for the OpenAPI document.

Every error is `{"error": code, "message": text}` (`ErrorBody`), plus a field or two where a
client can act on it: `current_version` on a stale version, `problems` on bad input, `service`
when a backing service is down. The server builds these bodies in `server/errors.py` and
`server/middleware.py`; the test suite checks every answer against these models, so the two
cannot drift apart.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from ..rate_budgets import Budget
from .common import ErrorBody, Version, WireModel


def _absent_not_null(schema: dict[str, Any]) -> None:
    """An optional field the server omits rather than sending `null`: no default in the
    schema either (it would read as "`null` when absent")."""
    schema.pop("default", None)


class BadRequestError(ErrorBody):
    error: Literal["invalid_json", "bad_request"] = Field(
        description="`invalid_json`: the body is not valid JSON; `bad_request`: it could not be "
        "read at all (e.g. not UTF-8)."
    )


class CrossSiteError(ErrorBody):
    error: Literal["cross_site_request"]


class UnauthorizedError(ErrorBody):
    error: Literal["unauthorized", "invalid_token"] = Field(
        description="`unauthorized`: no API token was sent; `invalid_token`: the token is "
        "malformed, unknown, expired or revoked."
    )


class ForbiddenError(ErrorBody):
    error: Literal["cross_site_request", "insufficient_scope", "forbidden"] = Field(
        description="`cross_site_request`: a browser sent this write from another web site; "
        "`insufficient_scope`: the token's scope is below what the operation needs; "
        "`forbidden`: the token may not act as that user (presence, lock owner)."
    )


class NotFoundError(ErrorBody):
    error: Literal["not_found"]


class ConflictError(ErrorBody):
    error: Literal["version_conflict", "conflict", "presence_full"] = Field(
        description="`version_conflict`: the request's `version` is stale; `conflict`: the "
        "write collides with stored data (e.g. a space `key` that is taken); "
        "`presence_full`: the work session already holds the most devices allowed."
    )
    current_version: Version | SkipJsonSchema[None] = Field(
        default=None,
        description="The stored version (with `version_conflict` only): refresh, then retry.",
        json_schema_extra=_absent_not_null,
    )
    max_devices: int | SkipJsonSchema[None] = Field(
        default=None,
        description="The most devices a work session may hold (with `presence_full` only).",
        json_schema_extra=_absent_not_null,
    )


class BodyTooLargeError(ErrorBody):
    error: Literal["body_too_large"]


class UnsupportedMediaTypeError(ErrorBody):
    error: Literal["unsupported_media_type"]


class Problem(WireModel):
    """One refused value: where it is (dotted, e.g. `p1.2`, `markers.0.label`) and why."""

    field: str
    message: str


class ValidationErrorBody(ErrorBody):
    error: Literal[
        "validation_error",
        "invalid_reference",
        "invalid_value",
        "list_too_large",
        "idempotency_key_reused",
    ] = Field(
        description="`validation_error`: a parameter or field is missing or malformed; "
        "`invalid_reference`: the body names a parent (space, work session, marker) that "
        "does not exist; `invalid_value`: a well-formed value that cannot be stored or "
        "computed with (e.g. marker details that would overflow); `list_too_large`: a "
        "marker list without `limit` would exceed ROBOSCOPE_MAX_LIST_ITEMS (page, or "
        "filter); `idempotency_key_reused`: an `Idempotency-Key` came back with another body."
    )
    problems: list[Problem] | SkipJsonSchema[None] = Field(
        default=None,
        max_length=5,
        description="The first few refused values, when the request failed to parse; "
        "`message` repeats the first.",
        json_schema_extra=_absent_not_null,
    )


class CursorExpiredError(ErrorBody):
    error: Literal["cursor_expired"]
    oldest_cursor: int = Field(
        description="The log now starts after this cursor: reload, then follow from the "
        "reloaded state's cursor."
    )


class LockedError(ErrorBody):
    error: Literal["locked"]


class UnavailableError(ErrorBody):
    error: Literal["service_unavailable"]
    service: str = Field(description="What is down: `database` or `redis`.")


class RateLimitedError(ErrorBody):
    error: Literal["rate_limited", "too_many_streams"] = Field(
        description="`rate_limited`: the caller (its token, else its address) spent its "
        "budget of this kind of request; `too_many_streams`: the caller holds the most live "
        "streams this server process serves to one caller. Retry after `Retry-After` seconds."
    )
    budget: Budget | SkipJsonSchema[None] = Field(
        default=None,
        description="The budget that is spent (with `rate_limited` only).",
        json_schema_extra=_absent_not_null,
    )


class StreamUnavailableError(ErrorBody):
    error: Literal["service_unavailable", "stream_capacity"] = Field(
        description="`service_unavailable`: the database or Redis is down; `stream_capacity`: "
        "this server process serves the most live streams it may (ROBOSCOPE_LIVE_MAX_STREAMS)."
    )
    service: str | SkipJsonSchema[None] = Field(
        default=None,
        description="What is down: `database` or `redis` (with `service_unavailable` only).",
        json_schema_extra=_absent_not_null,
    )
