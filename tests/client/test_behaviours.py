"""The iOS guide's client behaviours, done right, against the real app and real Redis:
presence that beats and leaves, locks that outlive their TTL while held and notice loss,
and marker sync that reports small diffs. Sleeps only let intervals and TTLs pass; no
duration is asserted."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import uuid
from collections.abc import Awaitable, Callable

import pytest
from fastapi import FastAPI

from roboscope.client import (
    AsyncClient,
    ConnectionFailed,
    Locked,
    LockLost,
    LockUnavailable,
    MarkerChanges,
)
from roboscope.db.engine import Database
from roboscope.wire import MarkerUpdate

from .conftest import Network, api_for, new_session, square

WAIT = 15.0
"""Upper bound for waiting on something that happens after a short interval."""


async def until(check: Callable[[], bool | Awaitable[bool]]) -> None:
    """Poll a predicate until it holds; fail the test if it does not within `WAIT`."""
    async with asyncio.timeout(WAIT):
        while True:
            outcome = check()
            if await outcome if inspect.isawaitable(outcome) else outcome:
                return
            await asyncio.sleep(0.05)


# Presence


async def test_presence_beats_and_leaves(api: AsyncClient) -> None:
    session_id = uuid.uuid4()
    async with api.presence(session_id, "ann", interval=0.1) as here:
        assert await here.users() == ["ann"]
        await until(lambda: here.beats >= 3)
        assert here.running and here.failures == 0
        await api.heartbeat(session_id, "bob")
        assert await here.users() == ["ann", "bob"]
    assert not here.running
    assert (await api.list_presence(session_id)).users == ["bob"]


async def test_presence_leaves_when_cancelled(api: AsyncClient) -> None:
    session_id = uuid.uuid4()
    joined = asyncio.Event()

    async def visit() -> None:
        async with api.presence(session_id, "ann", interval=0.1):
            joined.set()
            await asyncio.Event().wait()  # until cancelled

    task = asyncio.create_task(visit())
    async with asyncio.timeout(WAIT):  # fails instead of hanging if entering failed
        await joined.wait()
    assert (await api.list_presence(session_id)).users == ["ann"]
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert (await api.list_presence(session_id)).users == []


async def test_presence_survives_an_outage(app: FastAPI, database: Database) -> None:
    """While the network is down, beats fail, are counted and kept in `last_error`; the
    loop keeps going and beats again once the network is back."""
    network = Network(app)
    session_id = uuid.uuid4()
    async with (
        AsyncClient("http://roboscope.test", transport=network) as api,
        api.presence(session_id, "ann", interval=0.1) as here,
    ):
        network.up = False
        await until(lambda: here.failures >= 2)
        assert isinstance(here.last_error, ConnectionFailed) and here.running
        beats = here.beats
        network.up = True
        await until(lambda: here.beats > beats)
        assert await here.users() == ["ann"]
    async with api_for(app) as other:
        assert (await other.list_presence(session_id)).users == []


# Locks


async def test_hold_lock_extends_past_the_ttl_and_releases(api: AsyncClient) -> None:
    assert api.hold_lock(uuid.uuid4(), ttl_seconds=30).extend_every == 15  # half by default
    session_id = uuid.uuid4()
    async with api.hold_lock(session_id, ttl_seconds=1, owner="ann", extend_every=0.1) as lock:
        fence = lock.fence
        with pytest.raises(LockUnavailable):
            async with api.hold_lock(session_id, ttl_seconds=1):
                pass
        # Each extend waits 0.1 s after the last: the 11th is sent past the 1 s TTL (the
        # least there is) of the grant, so only the extender has kept the lock.
        await until(lambda: lock.extensions >= 11)
        assert not lock.lost
        status = await api.lock_status(session_id)
        assert status.locked and status.owner == "ann" and status.fence == fence
        assert not (await api.acquire_lock(session_id, 1)).acquired
    assert lock.released and not lock.held
    assert not (await api.lock_status(session_id)).locked
    with pytest.raises(LockLost):
        _ = lock.token


async def test_hold_lock_notices_loss(api: AsyncClient) -> None:
    """An extender that is held back (an app suspended in the background, a stalled
    network) lets the TTL run out; someone else takes the lock; the next extend is refused,
    and the holder notices: `lost`, the event, and a token that can no longer be used."""
    session_id = uuid.uuid4()
    # The first extend comes 0.5 s after the 1 s TTL ran out: time for bob to take it.
    async with api.hold_lock(session_id, ttl_seconds=1, extend_every=1.5) as lock:
        token = lock.token

        async def taken() -> bool:
            return (await api.acquire_lock(session_id, 30, owner="bob")).acquired

        await until(taken)
        async with asyncio.timeout(WAIT):
            await lock.lost_event.wait()
        assert lock.lost and lock.lost_reason
        with pytest.raises(LockLost):
            _ = lock.token
    # Leaving a lost lock does not touch the new holder's lock.
    status = await api.lock_status(session_id)
    assert status.locked and status.owner == "bob"
    assert token  # the old token is dead on the server too:
    assert not (await api.extend_lock(session_id, token)).extended


async def test_hold_lock_releases_when_cancelled(api: AsyncClient) -> None:
    session_id = uuid.uuid4()
    held = asyncio.Event()

    async def edit() -> None:
        async with api.hold_lock(session_id, ttl_seconds=30):
            held.set()
            await asyncio.Event().wait()  # until cancelled

    task = asyncio.create_task(edit())
    async with asyncio.timeout(WAIT):  # fails instead of hanging if entering failed
        await held.wait()
    assert (await api.lock_status(session_id)).locked
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert not (await api.lock_status(session_id)).locked


async def test_held_lock_token_authorizes_writes(api: AsyncClient) -> None:
    session = await new_session(api)
    marker = await api.create_marker(square(session.id))
    async with api.hold_lock(session.id, ttl_seconds=30) as lock:
        moved = await api.update_marker(
            marker.id, MarkerUpdate(label="mine", version=0), lock_token=lock.token
        )
        assert moved.version == 1
        stale = lock.token
    with pytest.raises(Locked):
        await api.update_marker(marker.id, MarkerUpdate(label="late"), lock_token=stale)


# Marker sync


async def test_marker_sync_reports_small_diffs(api: AsyncClient) -> None:
    session = await new_session(api)
    first = await api.create_marker(square(session.id, label="A"))
    seen: list[MarkerChanges] = []

    sync = api.marker_sync(session.id, seen.append, interval=3600)
    async with sync:  # the first poll reports what is already there
        assert [m.id for m in seen[0].added] == [first.id]
        assert not seen[0].updated and not seen[0].removed

        assert not await sync.poll()  # nothing changed: no callback
        assert len(seen) == 1

        second = await api.create_marker(square(session.id, label="B"))
        changes = await sync.poll()
        assert [m.id for m in changes.added] == [second.id] and not changes.updated

        await api.update_marker(first.id, MarkerUpdate(label="A2"))
        changes = await sync.poll()
        assert [(m.id, m.version, m.label) for m in changes.updated] == [(first.id, 1, "A2")]
        assert not changes.added and not changes.removed

        await api.delete_marker(second.id)
        changes = await sync.poll()
        assert [m.id for m in changes.removed] == [second.id]
        assert changes.removed[0].label == "B"  # as last seen
        assert set(sync.markers) == {first.id}
    assert len(seen) == 4


async def test_marker_sync_redelivers_after_a_failing_callback(api: AsyncClient) -> None:
    session = await new_session(api)
    marker = await api.create_marker(square(session.id))
    calls: list[MarkerChanges] = []

    def flaky(changes: MarkerChanges) -> None:
        calls.append(changes)
        if len(calls) == 1:
            raise RuntimeError("UI not ready")

    sync = api.marker_sync(session.id, flaky, interval=3600)
    with pytest.raises(RuntimeError):
        await sync.poll()
    await sync.poll()
    assert [[m.id for m in c.added] for c in calls] == [[marker.id], [marker.id]]
