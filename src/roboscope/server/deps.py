"""Request-scoped access to the process's shared handles (built in the app's lifespan).

The lifespan (server/app.py) leaves its `AppState` in `app.state.roboscope`, Starlette's
place for what an app holds; these dependencies are the typed way handlers reach it.

Every dependency is `async def` on purpose: FastAPI runs a plain `def` dependency in its
threadpool, which would cost every request a thread hop for a mere attribute lookup.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from ..db.engine import Database
from ..services.locks import LockToken
from .state import AppState


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.roboscope
    return state


async def get_database(request: Request) -> Database:
    state: AppState = request.app.state.roboscope
    return state.database


DB = Annotated[Database, Depends(get_database)]
State = Annotated[AppState, Depends(get_state)]


async def get_lock_token(
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
    state: AppState = request.app.state.roboscope
    return LockToken(state.locks, x_lock_token)


WriteLock = Annotated[LockToken | None, Depends(get_lock_token)]
