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
