"""SDK fixtures: the async SDK over ASGI (SQLite and PostgreSQL, via the shared `app`), and
one real `roboscope serve` process for the blocking client and the CLI."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from roboscope.client import AsyncClient
from roboscope.db.engine import Database
from roboscope.wire import (
    MarkerCreate,
    SessionType,
    Space,
    SpaceCreate,
    WorkSession,
    WorkSessionCreate,
)

from ..api.conftest import SQUARE
from ..servers import running_server


def api_for(app: FastAPI) -> AsyncClient:
    return AsyncClient("http://roboscope.test", transport=httpx.ASGITransport(app=app))


@pytest.fixture
async def api(app: FastAPI, database: Database) -> AsyncIterator[AsyncClient]:
    """The async SDK talking to the app in-process, on an emptied database."""
    async with api_for(app) as client:
        yield client


class Network(httpx.AsyncBaseTransport):
    """The path to the real app, with a switch: while `up` is False every request fails to
    connect, as during a network outage. The server itself is never faked."""

    def __init__(self, app: FastAPI) -> None:
        self._app = httpx.ASGITransport(app=app)
        self.up = True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("network is down", request=request)
        return await self._app.handle_async_request(request)


_counter = iter(range(1_000_000))


async def new_space(api: AsyncClient) -> Space:
    n = next(_counter)
    return await api.create_space(SpaceCreate(key=f"sdk-{n}", name=f"SDK space {n}"))


async def new_session(api: AsyncClient) -> WorkSession:
    space = await new_space(api)
    return await api.create_work_session(
        WorkSessionCreate(space_id=space.id, session_type=SessionType.inspection)
    )


def square(work_session_id: object, **fields: object) -> MarkerCreate:
    return MarkerCreate.model_validate({"work_session_id": work_session_id, **SQUARE, **fields})


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real server process (`python -m roboscope serve`) on a free port, SQLite in a temp
    data dir; Redis from ROBOSCOPE_TEST_REDIS_URL, else the server's embedded one."""
    env = {}
    if redis_url := os.environ.get("ROBOSCOPE_TEST_REDIS_URL"):
        env["ROBOSCOPE_REDIS_URL"] = redis_url
    with running_server(tmp_path_factory.mktemp("server"), env=env) as server:
        yield server.url
