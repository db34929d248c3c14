"""The live stream's query token, for browsers' `EventSource` (it cannot send headers)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from starlette.responses import Response

from ...services import tokens
from ...wire.errors import NotFoundError
from ...wire.tokens import StreamToken
from ..auth import Caller, needs_scope
from ..deps import State
from ..responses import wire

router = APIRouter(tags=["changes"])


@router.post(
    "/work-sessions/{session_id}/stream-token",
    response_model=StreamToken,
    responses={404: {"model": NotFoundError, "description": "No such work session."}},
)
@needs_scope("read")
async def stream_token(caller: Caller, state: State, session_id: UUID) -> Response:
    """A token for `GET /work-sessions/{session_id}/events?access_token=…`, valid for
    60 s (reconnects within that time may reuse it, across a server restart too), for this
    session's stream only, and only while the token that made it is live. Read scope."""
    return wire(await tokens.stream_token(state.database, state.stream_signer, caller, session_id))
