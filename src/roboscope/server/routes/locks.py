"""Two route families with one meaning: the seed guide's and the shipping app's."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from starlette.responses import Response

from ...services import locks
from ...wire.locks import (
    LockAcquire,
    LockExtend,
    LockExtension,
    LockGrant,
    LockRelease,
    LockReleased,
    LockStatus,
)
from ..auth import Caller
from ..deps import Realtime
from ..responses import wire

router = APIRouter(prefix="/locks", tags=["locks"])


async def _acquire(
    caller: Caller, rt: Realtime, session_id: UUID, body: LockAcquire | None
) -> Response:
    return wire(
        await locks.acquire(rt.locks, rt.grant_fences, caller, session_id, body, rt.lock_policy)
    )


async def _extend(rt: Realtime, session_id: UUID, body: LockExtend) -> Response:
    return wire(await locks.extend(rt.locks, session_id, body, rt.lock_policy))


async def _release(rt: Realtime, session_id: UUID, body: LockRelease) -> Response:
    return wire(await locks.release(rt.locks, session_id, body))


async def _status(rt: Realtime, session_id: UUID) -> Response:
    return wire(await locks.status(rt.locks, session_id))


# The shipping app's family; declared first so `work-sessions` is never taken for an id.
@router.post("/work-sessions/{session_id}", response_model=LockGrant)
async def app_acquire(
    caller: Caller, rt: Realtime, session_id: UUID, body: LockAcquire | None = None
) -> Response:
    """Contention is `200 {"acquired": false, "token": null}`, never 409. With auth on the
    owner is the token's user."""
    return await _acquire(caller, rt, session_id, body)


@router.get("/work-sessions/{session_id}/status", response_model=LockStatus)
async def app_status(rt: Realtime, session_id: UUID) -> Response:
    return await _status(rt, session_id)


@router.post("/work-sessions/{session_id}/extend", response_model=LockExtension)
async def app_extend(rt: Realtime, session_id: UUID, body: LockExtend) -> Response:
    return await _extend(rt, session_id, body)


@router.post("/work-sessions/{session_id}/unlock", response_model=LockReleased)
async def app_release(rt: Realtime, session_id: UUID, body: LockRelease) -> Response:
    return await _release(rt, session_id, body)


# The seed guide's family.
@router.post("/{session_id}", response_model=LockGrant)
async def acquire(
    caller: Caller, rt: Realtime, session_id: UUID, body: LockAcquire | None = None
) -> Response:
    """Contention is `200 {"acquired": false, "token": null}`, never 409. With auth on the
    owner is the token's user."""
    return await _acquire(caller, rt, session_id, body)


@router.get("/{session_id}", response_model=LockStatus)
async def status(rt: Realtime, session_id: UUID) -> Response:
    """`locked`, plus holder, fence and expiry; never the token."""
    return await _status(rt, session_id)


@router.post("/{session_id}/extend", response_model=LockExtension)
async def extend(rt: Realtime, session_id: UUID, body: LockExtend) -> Response:
    """Carries both `acquired` and `extended`; false for a wrong or expired token."""
    return await _extend(rt, session_id, body)


@router.post("/{session_id}/force-release", response_model=LockReleased)
async def force_release(caller: Caller, rt: Realtime, session_id: UUID) -> Response:
    """Admin scope: free the lock whoever holds it. The holder's token stops authorizing
    writes at once (423), and the stream announces `lock.released` with `reason: forced`.
    `released: false` when the lock was free."""
    return wire(await locks.force_release(rt.locks, rt.database, caller, session_id))


@router.delete("/{session_id}", response_model=LockReleased)
async def release(rt: Realtime, session_id: UUID, body: LockRelease) -> Response:
    """`released: false` for a wrong or expired token; nothing else happens."""
    return await _release(rt, session_id, body)
