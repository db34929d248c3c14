"""Factories for API tests: each creates a resource through the API, as a client would."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime, timedelta, tzinfo
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from starlette.types import Scope

from roboscope.server.app import create_app
from roboscope.services import clock as service_clock
from roboscope.settings import Settings

from ..conftest import IOS_HEADERS

Json = dict[str, Any]
Factory = Callable[..., Awaitable[Json]]

SQUARE = {"p1": [0, 0, 0], "p2": [1, 0, 0], "p3": [1, 0, 1], "p4": [0, 0, 1]}
SQUARE_DETAILS = {
    "center_location_long": 0.5,
    "center_location_cross": 0.5,
    "x_negative": 0.0,
    "x_positive": 1.0,
    "z_positive": 1.0,
    "z_negative": 0.0,
    "long_size": 1.0,
    "cross_size": 1.0,
}
"""A marker's details with every required field (PUT /markers/{id}/details)."""


class Clock:
    """The services' clock (`roboscope.services.clock`, the one source of stored times), which
    the test moves forward instead of waiting for time to pass."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)

    def now(self, tz: tzinfo | None = None) -> datetime:
        return datetime.now(tz) + self.offset


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Timestamps on the wire have whole seconds, so a rule about `updated_at` needs a second
    between two writes: `clock.advance(2)` gives it at once."""
    moved = Clock()
    monkeypatch.setattr(service_clock, "datetime", SimpleNamespace(now=moved.now))
    return moved


@pytest.fixture(scope="session")
async def secure_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The same database and Redis as `app`, with ROBOSCOPE_AUTH=required."""
    application = create_app(settings.model_copy(update={"auth": "required"}))
    async with LifespanManager(application):
        yield application


@pytest.fixture(scope="session")
async def plain_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The same database and Redis as `app`, every request served by FastAPI (no edge)."""
    application = create_app(settings, hot_routes=False)
    async with LifespanManager(application):
        yield application


async def created(response: httpx.Response) -> Json:
    assert response.status_code == 201, response.text
    body: Json = response.json()
    return body


@pytest.fixture
def make_space(client: httpx.AsyncClient) -> Factory:
    counter = iter(range(1_000_000))

    async def make(**fields: Any) -> Json:
        n = next(counter)
        body = {"key": f"space-{n}", "name": f"Space {n}", **fields}
        return await created(await client.post("/spaces", json=body))

    return make


@pytest.fixture
def make_session(client: httpx.AsyncClient, make_space: Factory) -> Factory:
    async def make(**fields: Any) -> Json:
        if "space_id" not in fields:
            fields["space_id"] = (await make_space())["id"]
        body = {"session_type": "inspection", **fields}
        return await created(await client.post("/work-sessions", json=body))

    return make


@pytest.fixture
def make_marker(client: httpx.AsyncClient, make_session: Factory) -> Factory:
    async def make(**fields: Any) -> Json:
        if "work_session_id" not in fields:
            fields["work_session_id"] = (await make_session())["id"]
        return await created(await client.post("/markers", json={**SQUARE, **fields}))

    return make


def get_scope(path: str, query: str = "", headers: Sequence[tuple[bytes, bytes]] = ()) -> Scope:
    """The ASGI scope of an iOS client's `GET path?query`, for tests that call the app
    directly to watch its body messages as they are sent (httpx hands over whole bodies)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in IOS_HEADERS.items()]
        + [(b"host", b"roboscope.test"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("roboscope.test", 80),
        "state": {},
    }
