"""Edit locks: one holder per work session, TTL expiry, fences for writes.

Contention, a wrong token and an expired lock are ordinary answers (`acquired: false`,
`released: false`), never errors. Fenced writes (`X-Lock-Token`) are authorized here:
`fence_for_write` answers the fence of the caller's grant, or refuses with 423.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ..errors import InvalidInput, LockRejected
from ..realtime import LockGrant, LockStore
from ..wire.locks import (
    LockAcquire,
    LockExtend,
    LockExtension,
    LockRelease,
    LockReleased,
    LockStatus,
)
from ..wire.locks import LockGrant as WireGrant


@dataclass(frozen=True, slots=True)
class LockPolicy:
    default_ttl_seconds: int = 30
    max_ttl_seconds: int = 3600

    def ttl_ms(self, requested: int | None) -> int:
        ttl = self.default_ttl_seconds if requested is None else requested
        if not 1 <= ttl <= self.max_ttl_seconds:
            raise InvalidInput(f"ttl_seconds must be between 1 and {self.max_ttl_seconds}")
        return ttl * 1000


def _granted(grant: LockGrant) -> dict[str, Any]:
    """The grant as answer fields; the store made every value, so answers are built with
    `model_construct` (no second validation on the hottest path)."""
    return {
        "acquired": True,
        "token": grant.token,
        "fence": grant.fence,
        "owner": grant.owner,
        "expires_at": grant.expires_at,
        "ttl_seconds": grant.ttl_ms // 1000,
    }


async def acquire(
    store: LockStore, session_id: UUID, request: LockAcquire | None, policy: LockPolicy
) -> WireGrant:
    request = request or LockAcquire()
    grant = await store.acquire(
        session_id, ttl_ms=policy.ttl_ms(request.ttl_seconds), owner=request.owner
    )
    if grant is None:
        return WireGrant(acquired=False, token=None)
    return WireGrant.model_construct(**_granted(grant))


async def extend(
    store: LockStore, session_id: UUID, request: LockExtend, policy: LockPolicy
) -> LockExtension:
    """Carries both `acquired` (read by the seed client) and `extended` (the shipping app)."""
    grant = await store.extend(session_id, request.token, ttl_ms=policy.ttl_ms(request.ttl_seconds))
    if grant is None:
        return LockExtension(acquired=False, extended=False, token=None)
    return LockExtension.model_construct(**_granted(grant), extended=True)


async def release(store: LockStore, session_id: UUID, request: LockRelease) -> LockReleased:
    return LockReleased(released=await store.release(session_id, request.token))


async def status(store: LockStore, session_id: UUID) -> LockStatus:
    state = await store.status(session_id)
    if state is None:
        return LockStatus(locked=False)
    return LockStatus(
        locked=True,
        owner=state.owner,
        fence=state.fence,
        expires_at=state.expires_at,
        ttl_remaining_ms=state.ttl_remaining_ms,
    )


@dataclass(frozen=True, slots=True)
class LockToken:
    """The `X-Lock-Token` of a write, and the store that can vouch for it."""

    store: LockStore
    token: str

    async def fence_for(self, session_id: UUID) -> int:
        """The fence this write may apply, if the token holds the session's lock right now."""
        fence = await self.store.fence_of(session_id, self.token)
        if fence is None:
            raise LockRejected(
                f"X-Lock-Token does not hold the lock of work session {session_id} "
                "(expired, released, or never granted)"
            )
        return fence
