"""Who is calling, as the HTTP edge found it, and what that caller may do.

The edge (`server/auth.py`) builds one `Identity` per request and passes it into the
services; the rules about what an identity may do live here and in the services, never in
handlers. With `ROBOSCOPE_AUTH=off` every caller is anonymous with every right: the shipping
iOS app sends no credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from ..errors import Forbidden, InsufficientScope

AccessScope = Literal["read", "write", "admin"]
SCOPE_RANK: dict[AccessScope, int] = {"read": 0, "write": 1, "admin": 2}


@dataclass(frozen=True, slots=True)
class Identity:
    client: str
    """The client's address (the proxy's, unless the server trusts forwarded headers)."""
    token_id: UUID | None = None
    token_name: str | None = None
    user_id: str | None = None
    """The token's user: presence and locks act as this user. None: any user (auth off)."""
    scope: AccessScope = "admin"

    @property
    def authenticated(self) -> bool:
        return self.token_id is not None

    @property
    def budget_key(self) -> str:
        """What rate limits and per-caller caps count against: the token, else the address."""
        return f"token:{self.token_id}" if self.token_id is not None else f"addr:{self.client}"

    def allows(self, needed: AccessScope) -> bool:
        return SCOPE_RANK[self.scope] >= SCOPE_RANK[needed]


def anonymous(client: str) -> Identity:
    """The caller when auth is off: no token, every right."""
    return Identity(client=client)


def require(identity: Identity, needed: AccessScope) -> None:
    """403 `insufficient_scope` unless the identity's scope reaches `needed`."""
    if not identity.allows(needed):
        raise InsufficientScope(needed, identity.scope)


def acting_user(identity: Identity, user_id: str | None, what: str) -> str | None:
    """The user an identity may act as in presence and locks (`what` names the action).

    Auth off: whoever the request names. Auth on: the token's user only; a token made
    without `--user` may not act as anyone, since nothing says which user it speaks for.
    """
    if not identity.authenticated:
        return user_id
    if identity.user_id is None:
        raise Forbidden(
            f"{what} needs a token with a user (roboscope tokens create NAME --user USER_ID); "
            f"token {identity.token_name!r} has none"
        )
    if user_id is not None and user_id != identity.user_id:
        raise Forbidden(f"token {identity.token_name!r} may only {what} as its own user")
    return identity.user_id


def actor(identity: Identity) -> str | None:
    """Who the change log names for a write: the token's user, else the token's name; None
    for an anonymous caller (auth off). Every write service takes the caller's identity and
    hands it to `changes.record(by=...)`, which applies this."""
    if not identity.authenticated:
        return None
    return identity.user_id if identity.user_id is not None else identity.token_name
