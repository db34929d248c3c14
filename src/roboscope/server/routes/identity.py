"""Who the caller is: for clients that adapt to what they may do (the web console)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from ...services import access
from ...wire.tokens import CallerIdentity
from ..auth import Caller
from ..deps import Realtime
from ..responses import wire

router = APIRouter(tags=["identity"])


@router.get("/identity", response_model=CallerIdentity)
async def identity(caller: Caller, rt: Realtime) -> Response:
    """The request's token: its name, user and scope (read scope is enough). With
    ROBOSCOPE_AUTH=off: `auth: off` and every right (`scope: admin`), no token needed."""
    return wire(access.describe(caller, rt.settings.auth))
