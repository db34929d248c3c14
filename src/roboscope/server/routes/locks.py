"""Two route families with one meaning: the iOS guide's and the shipping app's."""

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
from ..deps import State
from ..limits import FoldedDraw
from ..responses import wire

router = APIRouter(prefix="/locks", tags=["locks"])


async def _acquire(
    caller: Caller, state: State, session_id: UUID, body: LockAcquire | None, draw: FoldedDraw
) -> Response:
    return wire(
        await locks.acquire(
            state.locks, state.grant_fences, caller, session_id, body, state.lock_policy, draw
        )
    )


async def _extend(state: State, session_id: UUID, body: LockExtend) -> Response:
    return wire(await locks.extend(state.locks, session_id, body, state.lock_policy))


async def _release(state: State, session_id: UUID, body: LockRelease, draw: FoldedDraw) -> Response:
    return wire(await locks.release(state.locks, session_id, body, draw))


async def _status(state: State, session_id: UUID) -> Response:
    return wire(await locks.status(state.locks, session_id))


# The shipping app's family; declared first so `work-sessions` is never taken for an id.
@router.post("/work-sessions/{session_id}", response_model=LockGrant)
async def app_acquire(
    caller: Caller,
    state: State,
    session_id: UUID,
    draw: FoldedDraw,
    body: LockAcquire | None = None,
) -> Response:
    """Contention is `200 {"acquired": false, "token": null}`, never 409. With auth on the
    owner is the token's user."""
    return await _acquire(caller, state, session_id, body, draw)


@router.get("/work-sessions/{session_id}/status", response_model=LockStatus)
async def app_status(state: State, session_id: UUID) -> Response:
    return await _status(state, session_id)


@router.post("/work-sessions/{session_id}/extend", response_model=LockExtension)
async def app_extend(state: State, session_id: UUID, body: LockExtend) -> Response:
    return await _extend(state, session_id, body)


@router.post("/work-sessions/{session_id}/unlock", response_model=LockReleased)
async def app_release(
    state: State, session_id: UUID, body: LockRelease, draw: FoldedDraw
) -> Response:
    return await _release(state, session_id, body, draw)


# The iOS guide's family.
@router.post("/{session_id}", response_model=LockGrant)
async def acquire(
    caller: Caller,
    state: State,
    session_id: UUID,
    draw: FoldedDraw,
    body: LockAcquire | None = None,
) -> Response:
    """Contention is `200 {"acquired": false, "token": null}`, never 409. With auth on the
    owner is the token's user."""
    return await _acquire(caller, state, session_id, body, draw)


@router.get("/{session_id}", response_model=LockStatus)
async def status(state: State, session_id: UUID) -> Response:
    """`locked`, plus holder, fence and expiry; never the token."""
    return await _status(state, session_id)


@router.post("/{session_id}/extend", response_model=LockExtension)
async def extend(state: State, session_id: UUID, body: LockExtend) -> Response:
    """Carries both `acquired` and `extended`; false for a wrong or expired token."""
    return await _extend(state, session_id, body)


@router.post("/{session_id}/force-release", response_model=LockReleased)
async def force_release(caller: Caller, state: State, session_id: UUID) -> Response:
    """Admin scope: free the lock whoever holds it. The holder's token stops authorizing
    writes at once (423), and the stream announces `lock.released` with `reason: forced`.
    `released: false` when the lock was free."""
    return wire(await locks.force_release(state.locks, state.database, caller, session_id))


@router.delete("/{session_id}", response_model=LockReleased)
async def release(state: State, session_id: UUID, body: LockRelease, draw: FoldedDraw) -> Response:
    """`released: false` for a wrong or expired token; nothing else happens."""
    return await _release(state, session_id, body, draw)
