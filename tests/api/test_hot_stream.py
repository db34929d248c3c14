"""The live stream's opening at the edge (server/hot_stream.py): it must answer what FastAPI
answers for the same request (status, headers but the date and the request id, the first
frames of the stream, or the error's body), refusals included; and a plain opening must
really be served at the edge.

Each opening is made twice, on the app (edge on) and on an app without its hot routes
(FastAPI serves every request), against the same database and Redis and the same work
session, driven as raw ASGI: the stream is read until it has sent the frames expected, then
its client goes away.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from roboscope.db.engine import Database
from roboscope.server.app import create_app
from roboscope.server.hot_routes import HotRoutes
from roboscope.server.hot_stream import STREAM_ENDPOINT
from roboscope.settings import Settings

from .conftest import Factory, get_scope
from .test_auth import Tokens
from .test_hot_routes import _UNSHARED_HEADERS, _VARYING

_NEWEST = (re.compile(rb"its newest is [0-9]+"), b"its newest is N")
"""(A 410's newest cursor: a background write of the shared app may come in between.)"""

Answer = tuple[int, list[tuple[str, str]], list[bytes]]


class Opening:
    """One request of a stream, run on `app` until it has sent `frames` body frames (or
    ended), then left by its client."""

    def __init__(
        self,
        app: FastAPI,
        path: str,
        query: str = "",
        headers: list[tuple[bytes, bytes]] | None = None,
        *,
        frames: int = 2,
    ) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.frames: list[bytes] = []
        self.ended = False
        self._wanted = frames
        self._enough = asyncio.Event()
        self._left = asyncio.Event()
        scope = get_scope(f"/api/v1{path}", query, headers or [])
        self._task = asyncio.ensure_future(app(scope, self._receive, self._send))

    async def _receive(self) -> dict[str, Any]:
        await self._left.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", ()))
        elif message["type"] == "http.response.body":
            if message.get("body"):
                self.frames.append(message["body"])
            if not message.get("more_body", False):
                self.ended = True
        if self.ended or len(self.frames) >= self._wanted:
            self._enough.set()

    async def ready(self) -> None:
        """Once the frames wanted are sent, or the response ended."""
        async with asyncio.timeout(20):
            await self._enough.wait()

    async def answer(self) -> Answer:
        """Status, headers in order and the frames, what differs by nature put to one value;
        the client then leaves."""
        await self.ready()
        await self.leave()
        frames = []
        for frame in self.frames:
            for pattern, replacement in (*_VARYING, _NEWEST):
                frame = pattern.sub(replacement, frame)
            frames.append(frame)
        headers = [
            (name.decode(), value.decode())
            for name, value in self.headers
            if name.decode().lower() not in _UNSHARED_HEADERS
        ]
        return self.status, headers, frames

    async def leave(self) -> None:
        self._left.set()
        async with asyncio.timeout(20):
            await self._task


@pytest.fixture
def served_at_edge(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether the edge served each stream opening it looked at."""
    seen: list[bool] = []
    serve = HotRoutes.serve_stream

    async def watched(self: HotRoutes, scope: Scope, receive: Receive, send: Send) -> bool:
        # (Noted before the stream runs: a served stream returns only when it ends.)
        matched = self.stream is not None and self.stream.match(scope) is not None
        answered = await serve(self, scope, receive, send)
        if matched:
            seen.append(answered)
        return answered

    monkeypatch.setattr(HotRoutes, "serve_stream", watched)
    return seen


async def both(
    apps: tuple[FastAPI, FastAPI], path: str, query: str = "", **options: Any
) -> tuple[Answer, Answer]:
    """The same opening on the edge's app, then on FastAPI's."""
    answers = []
    for app in apps:
        answers.append(await Opening(app, path, query, **options).answer())
    return answers[0], answers[1]


async def test_the_stream_route_is_served_at_the_edge(app: FastAPI) -> None:
    hot = HotRoutes.of(app)
    assert hot.stream is not None and hot.stream.endpoint is STREAM_ENDPOINT


async def test_openings_are_answered_as_fastapi_answers_them(
    app: FastAPI,
    plain_app: FastAPI,
    client: httpx.AsyncClient,
    make_session: Factory,
    make_marker: Factory,
    served_at_edge: list[bool],
) -> None:
    session = (await make_session())["id"]
    before = (await client.get("/events")).json()["cursor"]
    for _ in range(2):
        await make_marker(work_session_id=session)
    ahead = str(before + 10**6)
    stream = f"/work-sessions/{session}/events"
    cases: list[tuple[str, str, dict[str, Any], bool]] = [
        (stream, "", {}, True),
        (f"/work-sessions/{session.upper()}/events", "", {}, True),
        (stream, f"since={before}", {"frames": 4}, True),
        (stream, f"since={before}&ping=5&other=x", {"frames": 4}, True),
        (stream, "", {"headers": [(b"last-event-id", str(before).encode())], "frames": 4}, True),
        (stream, f"since={before}", {"headers": [(b"last-event-id", ahead.encode())]}, True),
        (stream, f"since={ahead}", {}, True),
        (f"/work-sessions/{uuid.uuid4()}/events", "", {}, True),
        (stream, "", {"headers": [(b"last-event-id", b"1.5")]}, True),
        (stream, "ping=0", {}, False),
        (stream, "ping=61", {}, False),
        (stream, "since=-1", {}, False),
        (stream, f"since=+{before}", {}, False),
        (stream, "since=", {}, False),
        (stream, f"since=1&since={before}", {}, False),  # (FastAPI reads the last)
        (stream, "ping=1e1", {}, False),
        ("/work-sessions/not-a-uuid/events", "", {}, False),
    ]
    statuses = []
    for number, (path, query, options, at_edge) in enumerate(cases, 1):
        served_at_edge.clear()
        edge, plain = await both((app, plain_app), path, query, **options)
        assert edge == plain, f"case {number}"
        assert served_at_edge[:1] == [at_edge], f"case {number}"
        statuses.append(edge[0])
    assert statuses == [200] * 5 + [410, 410, 404] + [422] * 4 + [200, 422, 200, 200, 422]


async def test_with_auth_required_too(
    settings: Settings, database: Database, make_session: Factory, served_at_edge: list[bool]
) -> None:
    """Bearer tokens and the stream's query token, and their refusals, alike."""
    make_token = Tokens(database)
    reader = await make_token.make("read", "alice")
    revoked = await make_token.make("read", "alice", revoked=True)
    session = (await make_session())["id"]
    secure = settings.model_copy(update={"auth": "required"})
    edge_app, plain_app = create_app(secure), create_app(secure, hot_routes=False)
    async with LifespanManager(edge_app), LifespanManager(plain_app):
        transport = httpx.ASGITransport(app=edge_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as http:
            issued = await http.post(f"/work-sessions/{session}/stream-token", headers=reader)
        query = issued.json()["token"]
        other = (await make_session())["id"]
        stream = f"/work-sessions/{session}/events"
        header = [(b"authorization", reader["Authorization"].encode())]
        cases: list[tuple[str, str, list[tuple[bytes, bytes]], bool]] = [
            (stream, "", header, True),
            (stream, f"access_token={query}", [], True),
            (stream, f"access_token={query}", header, True),  # the header wins
            (f"/work-sessions/{other}/events", f"access_token={query}", [], False),
            (stream, "access_token=rbq_x", [], False),
            (stream, "", [], False),
            (stream, "", [(b"authorization", b"Basic abc")], False),
            (stream, "", [(b"authorization", revoked["Authorization"].encode())], False),
        ]
        statuses = []
        for number, (path, params, headers, at_edge) in enumerate(cases, 1):
            served_at_edge.clear()
            edge, plain = await both((edge_app, plain_app), path, params, headers=headers)
            assert edge == plain, f"case {number}"
            assert served_at_edge[:1] == [at_edge], f"case {number}"
            statuses.append(edge[0])
        assert statuses == [200, 200, 200, 401, 401, 401, 401, 401]


async def test_past_the_stream_caps_alike(
    settings: Settings, make_session: Factory, served_at_edge: list[bool]
) -> None:
    """429 `too_many_streams` past a caller's share, 503 `stream_capacity` past the
    process's, with the first stream still open."""
    session = (await make_session())["id"]
    stream = f"/work-sessions/{session}/events"
    for caps in ({"live_max_streams_per_caller": 1}, {"live_max_streams": 1}):
        capped = settings.model_copy(update=caps)
        answers = []
        for hot_routes in (True, False):
            application = create_app(capped, hot_routes=hot_routes)
            async with LifespanManager(application):
                first = Opening(application, stream)
                await first.ready()  # and still open
                second = await Opening(application, stream).answer()
                answers.append((await first.answer(), second))
        assert answers[0] == answers[1], caps
        assert [opened[0] for opened, _ in answers] == [200, 200]
        assert answers[0][1][0] in (429, 503)
