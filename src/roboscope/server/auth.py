"""Authentication: the one dependency at the HTTP edge that finds who is calling.

The identity is also left in `request.state.identity` for what runs outside the handler
(the request log, per-caller limits).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..services.access import Identity, anonymous


async def get_identity(request: Request) -> Identity:
    client = request.client.host if request.client is not None else "unknown"
    identity = anonymous(client)
    request.state.identity = identity
    return identity


Caller = Annotated[Identity, Depends(get_identity)]
