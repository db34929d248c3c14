"""The blocking `Client` against a real `roboscope serve` process: the calls, and the
behaviours generated from the async ones, with their background loops in threads. Sleeps
only let intervals and TTLs pass; no duration is asserted."""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from roboscope.client import (
    Client,
    Invalid,
    LockLost,
    LockUnavailable,
    MarkerChanges,
    NotFound,
    VersionConflict,
)
from roboscope.wire import (
    Marker,
    MarkerUpdate,
    SessionType,
    SpaceCreate,
    WorkSession,
    WorkSessionCreate,
    WorkSessionStatus,
    WorkSessionUpdate,
)

from .conftest import square

WAIT = 15.0


def until(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture
def blocking(server_url: str) -> Iterator[Client]:
    with Client(server_url) as client:
        yield client


def new_session(client: Client) -> WorkSession:
    space = client.create_space(SpaceCreate(key=f"blocking-{uuid.uuid4()}", name="Blocking"))
    return client.create_work_session(
        WorkSessionCreate(space_id=space.id, session_type=SessionType.other)
    )


def test_blocking_client_round_trip(blocking: Client) -> None:
    assert blocking.health().status == "ok"
    key = f"blocking-{uuid.uuid4()}"
    space = blocking.create_space(SpaceCreate(key=key, name="Blocking"))
    assert [s.id for s in blocking.list_spaces(key=key)] == [space.id]
    session = blocking.create_work_session(
        WorkSessionCreate(space_id=space.id, session_type=SessionType.other)
    )
    marker = blocking.create_marker(square(session.id, label="A"))
    assert [m.id for m in blocking.list_markers(work_session_id=session.id)] == [marker.id]

    def relabel(fresh: Marker) -> MarkerUpdate:
        return MarkerUpdate(label=f"{fresh.label}+")

    blocking.update_marker(marker.id, MarkerUpdate(label="B", version=0))
    retried = blocking.update_marker_with_retry(marker.id, relabel)
    assert (retried.label, retried.version) == ("B+", 2)
    with pytest.raises(VersionConflict) as caught:
        blocking.update_marker(marker.id, MarkerUpdate(label="stale", version=0))
    assert caught.value.current_version == 2

    active = blocking.update_work_session(
        session.id, WorkSessionUpdate(status=WorkSessionStatus.active, version=0)
    )
    assert active.version == 1
    with pytest.raises(Invalid):
        blocking.create_marker(square(uuid.uuid4()))

    grant = blocking.acquire_lock(session.id, 30)
    assert grant.token is not None and blocking.lock_status(session.id).locked
    assert blocking.release_lock(session.id, grant.token).released

    blocking.delete_space(space.id)
    with pytest.raises(NotFound):
        blocking.get_work_session(session.id)


def test_blocking_presence_beats_in_a_thread_and_leaves(blocking: Client) -> None:
    session_id = uuid.uuid4()
    with blocking.presence(session_id, "ann", device_id="iPad", interval=0.1) as here:
        assert here.users() == ["ann"]
        until(lambda: here.beats >= 3)
        assert here.running and here.failures == 0
    assert not here.running and here.last_error is None
    assert blocking.list_presence(session_id).users == []


def test_blocking_hold_lock_extends_past_the_ttl_and_releases(blocking: Client) -> None:
    assert blocking.hold_lock(uuid.uuid4(), ttl_seconds=30).extend_every == 15  # half
    session_id = uuid.uuid4()
    with blocking.hold_lock(session_id, ttl_seconds=1, owner="ann", extend_every=0.1) as lock:
        fence = lock.fence
        with pytest.raises(LockUnavailable), blocking.hold_lock(session_id, ttl_seconds=1):
            pass
        # Each extend waits 0.1 s after the last: the 11th is sent past the 1 s TTL (the
        # least there is) of the grant, so only the extender thread has kept the lock.
        until(lambda: lock.extensions >= 11)
        assert not lock.lost
        status = blocking.lock_status(session_id)
        assert status.locked and status.owner == "ann" and status.fence == fence
    assert lock.released and not lock.held
    assert not blocking.lock_status(session_id).locked
    with pytest.raises(LockLost):
        _ = lock.token


def test_blocking_hold_lock_notices_loss(blocking: Client) -> None:
    session_id = uuid.uuid4()
    # The first extend comes 0.5 s after the 1 s TTL ran out: time for bob to take it.
    with blocking.hold_lock(session_id, ttl_seconds=1, extend_every=1.5) as lock:
        until(lambda: blocking.acquire_lock(session_id, 30, owner="bob").acquired)
        assert lock.lost_event.wait(WAIT)
        with pytest.raises(LockLost):
            _ = lock.token
    assert blocking.lock_status(session_id).owner == "bob"


def test_blocking_marker_sync_polls_in_a_thread(blocking: Client) -> None:
    session = new_session(blocking)
    seen: queue.Queue[MarkerChanges] = queue.Queue()
    with blocking.marker_sync(session.id, seen.put, interval=0.1) as sync:
        marker = blocking.create_marker(square(session.id))
        changes = seen.get(timeout=WAIT)
        assert [m.id for m in changes.added] == [marker.id]
        blocking.delete_marker(marker.id)
        changes = seen.get(timeout=WAIT)
        assert [m.id for m in changes.removed] == [marker.id]
        assert sync.running and sync.last_error is None
    assert not sync.running
