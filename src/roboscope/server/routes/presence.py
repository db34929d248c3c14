from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from starlette.responses import Response

from ...services import presence
from ...wire.errors import ConflictError
from ...wire.presence import PresenceBeat, PresenceHeartbeat, PresenceList
from ..auth import Caller
from ..deps import State
from ..limits import FoldedDraw
from ..responses import wire

router = APIRouter(prefix="/presence", tags=["presence"])


@router.post(
    "/{session_id}",
    response_model=PresenceBeat,
    responses={
        409: {
            "model": ConflictError,
            "description": "`presence_full`: a new device past "
            "ROBOSCOPE_PRESENCE_MAX_DEVICES_PER_SESSION (devices already present keep beating).",
        }
    },
)
async def heartbeat(
    caller: Caller, state: State, session_id: UUID, body: PresenceHeartbeat, draw: FoldedDraw
) -> Response:
    """Keeps `user_id` (on `device_id`) present for the presence TTL; beat every 10 s.
    Answers the counts only; `GET` lists who is present. With auth on, `user_id` must be
    the token's user (403 otherwise)."""
    return wire(
        await presence.heartbeat(
            state.presence,
            caller,
            session_id,
            body,
            ttl_seconds=state.settings.presence_ttl_seconds,
            draw=draw,
        )
    )


@router.get("/{session_id}", response_model=PresenceList)
async def present(state: State, session_id: UUID) -> Response:
    """`users` (user ids, verbatim) plus `members` with devices, last seen and expiry."""
    return wire(await presence.present(state.presence, session_id))


@router.delete("/{session_id}/{user_id:path}", response_model=PresenceList)
async def leave(
    caller: Caller, state: State, session_id: UUID, user_id: str, device_id: str | None = None
) -> Response:
    """The user leaves (only `device_id`, when given); answers who is still present. With
    auth on, only the token's user (403 otherwise)."""
    return wire(await presence.leave(state.presence, caller, session_id, user_id, device_id))
