"""API tokens (ROBOSCOPE_AUTH=required) and the live stream's short-lived query token."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, Field

from .common import Timestamp, WireModel, storable_text

Scope = Literal["read", "write", "admin"]
DURATION_PATTERN = r"^[1-9][0-9]{0,5}[dhm]$"

TokenName = Annotated[
    str,
    Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$"),
]


UserId = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(storable_text)]


class ApiToken(WireModel):
    """A token as anyone may see it: never its secret."""

    id: UUID
    name: str
    user_id: str | None = Field(
        default=None,
        description="Presence and locks act as this user; a token without one may not.",
    )
    scope: Scope
    created_at: Timestamp
    expires_at: Timestamp | None = None
    revoked_at: Timestamp | None = None


class ApiTokenCreate(WireModel):
    name: TokenName = Field(description="Unique; letters, digits and `._@-`.")
    user_id: UserId | None = Field(
        default=None,
        description="The user the token acts as in presence and locks; none: it may not.",
    )
    scope: Scope = "write"
    expires_in: Annotated[str, Field(pattern=DURATION_PATTERN)] | None = Field(
        default=None,
        description="A lifetime such as `30d`, `12h` or `90m`; none: until revoked.",
    )


class ApiTokenCreated(ApiToken):
    """The answer to a create: the only time the secret is ever shown."""

    token: str = Field(description="The bearer secret: send `Authorization: Bearer <token>`.")


class StreamToken(WireModel):
    """A query token for browsers' `EventSource` (which cannot send headers)."""

    token: str = Field(
        description="Use as `?access_token=` on this work session's `/events` stream only."
    )
    expires_at: Timestamp


class Caller(WireModel):
    """Who the server takes a request's caller for (`GET /whoami`, `roboscope whoami`)."""

    auth: Literal["off", "required"] = Field(
        description="The server's ROBOSCOPE_AUTH: with `off` no token is checked and every "
        "caller may do everything."
    )
    scope: Scope = Field(description="What the caller may do.")
    user_id: str | None = Field(
        default=None,
        description="The user presence and locks act as: the token's (null for a token "
        "without one, which may not act as anyone); null with auth off (any user).",
    )
    token: ApiToken | None = Field(
        default=None,
        description="The API token the request carried (never its secret); null with auth off.",
    )


class Propagation(WireModel):
    """Whether every server process confirmed a revocation (each then refuses the token)."""

    confirmed: bool = Field(
        description="True when every registered server process confirmed: the token is "
        "refused everywhere from now on."
    )
    processes: int = Field(description="Server processes that had to confirm.")
    unconfirmed: list[str] = Field(
        default_factory=list,
        description="Those that did not (`host pid N`): they refuse the token within "
        "ROBOSCOPE_AUTH_RECHECK_SECONDS.",
    )
    problem: str | None = Field(default=None, description="Why not confirmed, when not.")


class ApiTokenRevoked(ApiToken):
    """The answer to a revoke: the token, and how far the revocation has reached."""

    propagation: Propagation
