"""`GET /whoami`: who the server takes the caller for (what `roboscope whoami` shows)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from ...services import tokens
from ...wire.tokens import Caller as CallerModel
from ..auth import Caller
from ..deps import State
from ..responses import wire

router = APIRouter(tags=["tokens"])


@router.get("/whoami", response_model=CallerModel)
async def whoami(caller: Caller, state: State) -> Response:
    """The API token of the request (never its secret), its scope and user, and whether
    the server checks tokens at all. A token it refuses gets 401 saying why (unknown,
    expired, revoked). Any scope."""
    required = state.settings.auth == "required"
    return wire(await tokens.describe_caller(state.database, caller, auth_required=required))
