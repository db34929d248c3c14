"""Request-scoped access to the process's shared handles (built in the app's lifespan)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..db.engine import Database
from .state import AppState


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.roboscope
    return state


def get_database(request: Request) -> Database:
    return get_state(request).database


DB = Annotated[Database, Depends(get_database)]
Realtime = Annotated[AppState, Depends(get_state)]
