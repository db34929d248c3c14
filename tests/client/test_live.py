"""The SDK's live events and stream-backed marker sync, against a real server process (an
in-process ASGI client buffers whole responses, so it cannot stream)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from roboscope.client import (
    AsyncClient,
    Event,
    MarkerChanges,
    ReloadRequired,
)
from roboscope.db.engine import Database
from roboscope.services import changes
from roboscope.wire import Marker, MarkerDetails, MarkerUpdate
from roboscope.wire.locks import LockStatus
from roboscope.wire.presence import PresenceList

from ..tcp_proxy import TcpProxy
from .conftest import new_session, square
from .test_behaviours import until

WAIT = 20.0


@pytest.fixture
async def live(server_url: str) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(server_url) as client:
        yield client


async def _next(events: AsyncIterator[Event]) -> Event:
    async with asyncio.timeout(WAIT):
        return await anext(events)


async def test_events_are_typed_in_order_and_end_with_the_session(live: AsyncClient) -> None:
    session = await new_session(live)
    events = live.events(session.id)
    presence, lock = await _next(events), await _next(events)
    assert isinstance(presence.data, PresenceList) and presence.cursor is None
    assert isinstance(lock.data, LockStatus) and lock.data.locked is False

    marker = await live.create_marker(square(session.id, label="A"))
    await live.update_marker(marker.id, MarkerUpdate(label="B"))
    details = await live.calculate_marker_details(marker.id)
    created, updated, calculated = await _next(events), await _next(events), await _next(events)
    assert (created.name, created.data) == ("marker.created", marker)
    assert isinstance(updated.data, Marker) and updated.data.label == "B"
    assert (calculated.kind, calculated.action) == ("details", "created")
    assert isinstance(calculated.data, MarkerDetails) and calculated.data == details
    assert created.cursor is not None and updated.cursor == created.cursor + 1

    await live.delete_work_session(session.id)
    deleted = await _next(events)
    assert deleted.name == "work_session.deleted" and deleted.data["id"] == str(session.id)
    with pytest.raises(StopAsyncIteration):
        await _next(events)


PING = b": ping"


class _Pings(httpx.AsyncBaseTransport):
    """The real network, counting the keep-alive comments of the streams as the SDK reads
    them."""

    def __init__(self) -> None:
        self._network = httpx.AsyncHTTPTransport()
        self.count = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._network.handle_async_request(request)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Counted(response.stream, self),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._network.aclose()


class _Counted(httpx.AsyncByteStream):
    def __init__(self, stream: httpx.SyncByteStream | httpx.AsyncByteStream, pings: _Pings):
        assert isinstance(stream, httpx.AsyncByteStream)
        self._stream, self._pings = stream, pings

    async def __aiter__(self) -> AsyncIterator[bytes]:
        tail = b""  # the end of the last chunk: a comment split across two counts too
        async for chunk in self._stream:
            data = tail + chunk
            self._pings.count += data.count(PING)
            tail = data.rpartition(PING)[2][-(len(PING) - 1) :]
            yield chunk

    async def aclose(self) -> None:
        await self._stream.aclose()


async def test_keep_alive_comments_after_an_event_are_not_events(server_url: str) -> None:
    """A comment block after an event dispatches nothing (the SSE spec); httpx-sse yields
    it with the last id and empty data, which once failed every stream idle past its ping."""
    pings = _Pings()
    async with AsyncClient(server_url, transport=pings) as live:
        session = await new_session(live)
        events = live.events(session.id, ping=1)
        await _next(events), await _next(events)  # the snapshots
        first = await live.create_marker(square(session.id, label="A"))
        assert (await _next(events)).data == first
        before = pings.count
        following = asyncio.create_task(_next(events))  # the SDK reads on, through comments
        try:
            await until(lambda: pings.count >= before + 2)
            assert not following.done(), following  # no event came of them
            second = await live.create_marker(square(session.id, label="B"))
            assert (await following).data == second
        finally:
            following.cancel()


async def test_events_resume_after_a_cut_connection_with_nothing_lost_or_repeated(
    live: AsyncClient, server_url: str
) -> None:
    host, port = server_url.removeprefix("http://").split(":")
    proxy = TcpProxy(host, int(port))
    await proxy.start()
    session = await new_session(live)
    try:
        async with AsyncClient(f"http://127.0.0.1:{proxy.port}") as through:
            events = through.events(session.id)
            await _next(events), await _next(events)  # the snapshots
            first = await live.create_marker(square(session.id, label="before"))
            assert (await _next(events)).data == first

            await proxy.stop()  # the connection drops; the SDK starts retrying
            missed = [await live.create_marker(square(session.id, label=f"m{i}")) for i in range(5)]
            await proxy.start()
            got = [await _next(events) for _ in range(2 + len(missed))]
            data = [e for e in got if e.cursor is not None]
            assert [e.data for e in data] == missed  # exactly the missed ones, in order
            assert [e.name for e in got if e.cursor is None] == [
                "presence.snapshot",
                "lock.snapshot",
            ]
            after = await live.create_marker(square(session.id, label="after"))
            assert (await _next(events)).data == after
    finally:
        await proxy.stop()


async def test_a_cursor_past_retention_raises_reload_required(
    api: AsyncClient, database: Database
) -> None:
    session = await new_session(api)
    for n in range(4):
        await api.create_marker(square(session.id, label=str(n)))
    await changes.purge_expired(database, changes.Retention(max_count=1))
    with pytest.raises(ReloadRequired, match="reload"):
        await api.session_changes(session.id, since=0)
    with pytest.raises(ReloadRequired):
        await anext(api.events(session.id, since=0))


async def test_marker_sync_view_equals_the_server_after_concurrent_writers(
    live: AsyncClient,
) -> None:
    session = await new_session(live)
    keep = await live.create_marker(square(session.id, label="kept"))
    calls: list[MarkerChanges] = []

    async def writer(n: int) -> None:
        marker = await live.create_marker(square(session.id, label=f"w{n}"))
        for step in range(5):
            await live.update_marker(marker.id, MarkerUpdate(label=f"w{n}-{step}"))
        if n % 2:
            await live.delete_marker(marker.id)

    async with live.marker_sync(session.id, calls.append, interval=3600) as sync:
        assert set(sync.markers) == {keep.id} and sync.polls == 1
        await asyncio.gather(*(writer(n) for n in range(4)))
        await live.calculate_marker_details(keep.id)
        target = (await live.marker_snapshot(session.id)).cursor
        await until(lambda: sync.cursor is not None and sync.cursor >= target)
        server = {m.id: m for m in await live.list_markers(work_session_id=session.id)}
        assert dict(sync.markers) == server
        assert sync.markers[keep.id].details is not None
        assert sync.polls == 1  # no reload: every change came from the stream
        # One callback per change: 4 creates, 20 updates, 2 deletes, 1 details.
        assert len(calls) == 1 + 27
    assert not sync.running
