"""Request-scoped access to the process's shared handles (built in the app's lifespan)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..db.engine import Database


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


DB = Annotated[Database, Depends(get_database)]
