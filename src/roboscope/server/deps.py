"""Request-scoped access to the process's shared handles (built in the app's lifespan)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from ..db.engine import Database
from ..services.locks import LockToken
from .state import AppState


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.roboscope
    return state


def get_database(request: Request) -> Database:
    return get_state(request).database


DB = Annotated[Database, Depends(get_database)]
Realtime = Annotated[AppState, Depends(get_state)]


def get_lock_token(
    request: Request,
    x_lock_token: Annotated[
        str | None,
        Header(
            description="Apply this write only while the token holds the work session's lock "
            "(fenced: 423 otherwise). Without it, writes are not lock-checked."
        ),
    ] = None,
) -> LockToken | None:
    if x_lock_token is None:
        return None
    return LockToken(get_state(request).locks, x_lock_token)


WriteLock = Annotated[LockToken | None, Depends(get_lock_token)]
