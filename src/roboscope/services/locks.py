"""Edit locks: one holder per work session, TTL expiry, fences for writes.

Contention, a wrong token and an expired lock are ordinary answers (`acquired: false`,
`released: false`), never errors. Fenced writes (`X-Lock-Token`) are authorized here, in two
steps: `LockToken.fence_for` asks Redis whether the token holds the session's lock now (and
for its grant's fence), then `enforce_fence`, inside the write's own transaction and before
the write, checks that fence against the newest one recorded in the session's row and records
it. A grant records its fence in that row before it is answered (`acquire`), so once a newer
holder has its token, no write of an older holder can commit any more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from ..db import markers as marker_rows
from ..db import work_sessions as session_rows
from ..db.engine import Database
from ..errors import InvalidInput, LockRejected, NotFound
from ..realtime import LockGrant, LockState, LockStore
from ..realtime.draws import Draw
from ..wire.locks import (
    LockAcquire,
    LockExtend,
    LockExtension,
    LockRelease,
    LockReleased,
    LockStatus,
)
from ..wire.locks import LockGrant as WireGrant
from .access import Identity, acting_user, require
from .grant_fences import GrantFences


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
    store: LockStore,
    fences: GrantFences,
    caller: Identity,
    session_id: UUID,
    request: LockAcquire | None,
    policy: LockPolicy,
    draw: Draw | None = None,
) -> WireGrant:
    """Grant the lock if it is free; the grant's fence is in the database before the answer.

    Contention touches Redis only, and says who holds the lock and until when (`owner`,
    `expires_at`; never the holder's token or fence). A grant needs the database too: when
    it cannot record the fence, the grant is undone and the answer is 503. `draw`: the
    request's rate budget draw, taken by the store's call.
    """
    request = request or LockAcquire()
    # With auth on the owner is the token's user (a different `owner` is refused).
    owner = acting_user(caller, request.owner, "take locks")
    ttl_ms = policy.ttl_ms(request.ttl_seconds)
    grant = await store.acquire(session_id, ttl_ms=ttl_ms, owner=owner, draw=draw)
    if isinstance(grant, LockState):
        return WireGrant(acquired=False, token=None, owner=grant.owner, expires_at=grant.expires_at)
    if grant is None:
        return WireGrant(acquired=False, token=None)
    await _record_grant(store, fences, session_id, grant)
    return WireGrant.model_construct(**_granted(grant))


async def _record_grant(
    store: LockStore, fences: GrantFences, session_id: UUID, grant: LockGrant
) -> None:
    """Raise the session row's fence to the grant's (the same conditional UPDATE as a fenced
    write), committed before this returns (with concurrent grants: services/grant_fences.py).
    A write of an older holder that has already raised it holds the row (PostgreSQL) or the
    write lock (SQLite) until it commits or rolls back, so this waits for it; a write that
    has not raised it yet is refused from now on. A session that is not in the database has
    no row to raise: its writes have nothing to protect."""
    try:
        await fences.record(session_id, grant.fence)
    except BaseException:
        # The grant is not answered, so nobody could use or release it: undo it rather than
        # let it block the session for its whole TTL. The store's undo runs in a task of its
        # own, retried while Redis cannot answer, so a cancelled request still releases it.
        await store.abandon(session_id, grant)
        raise


async def extend(
    store: LockStore, session_id: UUID, request: LockExtend, policy: LockPolicy
) -> LockExtension:
    """Carries both `acquired` (read by the iOS guide's client) and `extended` (the app)."""
    grant = await store.extend(session_id, request.token, ttl_ms=policy.ttl_ms(request.ttl_seconds))
    if grant is None:
        return LockExtension(acquired=False, extended=False, token=None)
    return LockExtension.model_construct(**_granted(grant), extended=True)


async def release(
    store: LockStore, session_id: UUID, request: LockRelease, draw: Draw | None = None
) -> LockReleased:
    return LockReleased(released=await store.release(session_id, request.token, draw=draw))


async def force_release(
    store: LockStore, db: Database, caller: Identity, session_id: UUID
) -> LockReleased:
    """Free the lock whoever holds it (admin only), and fence its holder off for good.

    The release consumes a fence above the freed grant's, and that fence is recorded on the
    session's row before the answer, as a grant's is: from then on every write with the old
    holder's `X-Lock-Token` is refused (423), even one that checked its token with Redis
    just before the release. `released: false` when the lock was free (nothing changes).
    """
    require(caller, "admin")
    fence = await store.force_release(session_id)
    if fence is None:
        return LockReleased(released=False)
    async with db.transaction() as conn:
        await session_rows.raise_lock_fence(conn, session_id, fence)
    return LockReleased(released=True)


async def status(store: LockStore, session_id: UUID) -> LockStatus:
    return status_of(await store.status(session_id))


def status_of(state: LockState | None) -> LockStatus:
    """A lock's state as the API answers it (never its token)."""
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
class Fence:
    """What a fenced write takes into its transaction: the work session whose lock its token
    held, and that grant's fence."""

    session_id: UUID
    value: int


@dataclass(frozen=True, slots=True)
class LockToken:
    """The `X-Lock-Token` of a write, and the store that can vouch for it."""

    store: LockStore
    token: str

    async def fence_for(self, session_id: UUID) -> Fence:
        """The fence this write may apply, if the token holds the session's lock right now."""
        fence = await self.store.fence_of(session_id, self.token)
        if fence is None:
            raise LockRejected(
                f"X-Lock-Token does not hold the lock of work session {session_id} "
                "(expired, released, or never granted)"
            )
        return Fence(session_id, fence)


async def fence_of(lock: LockToken | None, session_id: UUID) -> Fence | None:
    """Step one of a fenced write (before its transaction): None for a write without a token."""
    return None if lock is None else await lock.fence_for(session_id)


async def fence_of_marker(db: Database, lock: LockToken | None, marker_id: UUID) -> Fence | None:
    """`fence_of` for a write of a marker (or its details): the lock of the marker's session."""
    if lock is None:
        return None
    async with db.read() as conn:
        session_id = await marker_rows.marker_session_id(conn, marker_id)
    if session_id is None:
        raise NotFound(f"marker {marker_id} does not exist")
    return await lock.fence_for(session_id)


async def enforce_fence(conn: AsyncConnection, fence: Fence | None) -> None:
    """Step two of a fenced write: in the write's transaction, before the write.

    Refuses (423, and the caller's transaction rolls back) when the session's row records a
    newer fence than the write's, that is when a newer holder has been granted the lock;
    otherwise records the write's fence there, which also queues the session's other fenced
    writes and grants behind this transaction. A missing session passes: the write's own
    existence check answers 404 or 422.
    """
    if fence is None or await session_rows.raise_lock_fence(conn, fence.session_id, fence.value):
        return
    if await session_rows.work_session_exists(conn, fence.session_id):
        raise LockRejected(
            f"a newer holder has been granted the lock of work session {fence.session_id}; "
            "X-Lock-Token is no longer valid"
        )
