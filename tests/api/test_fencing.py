"""Fenced writes: `X-Lock-Token` writes apply only while the token holds the session's lock,
and never over a row that a newer lock holder already wrote."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text, update

from roboscope.db import work_sessions as session_rows
from roboscope.db.engine import Database
from roboscope.db.tables import markers, work_sessions
from roboscope.errors import LockRejected, NotFound, VersionConflict
from roboscope.services.conditional_writes import refused_write
from roboscope.services.locks import Fence, enforce_fence

from ..waiting import until
from .conftest import SQUARE, Factory


async def acquire(client: httpx.AsyncClient, session_id: str, ttl: int = 30) -> dict[str, Any]:
    grant: dict[str, Any] = (
        await client.post(f"/locks/{session_id}", json={"ttl_seconds": ttl})
    ).json()
    assert grant["acquired"] is True
    return grant


def token(grant: dict[str, Any]) -> dict[str, str]:
    return {"X-Lock-Token": grant["token"]}


async def test_holder_writes_and_others_are_refused(
    client: httpx.AsyncClient, make_marker: Factory
) -> None:
    marker = await make_marker()
    session_id = marker["work_session_id"]
    grant = await acquire(client, session_id)

    held = await client.patch(
        f"/work-sessions/{session_id}", json={"status": "active"}, headers=token(grant)
    )
    assert held.status_code == 200
    moved = await client.patch(
        f"/markers/{marker['id']}", json={"label": "held", "version": 0}, headers=token(grant)
    )
    assert moved.status_code == 200

    wrong = {"X-Lock-Token": "not-a-token"}
    for response in (
        await client.patch(f"/work-sessions/{session_id}", json={"status": "done"}, headers=wrong),
        await client.patch(f"/markers/{marker['id']}", json={"label": "x"}, headers=wrong),
        await client.post(
            "/markers", json={"work_session_id": session_id, **SQUARE}, headers=wrong
        ),
        await client.delete(f"/markers/{marker['id']}", headers=wrong),
        await client.delete(f"/work-sessions/{session_id}", headers=wrong),
    ):
        assert response.status_code == 423, response.text
        assert response.json()["error"] == "locked"

    assert (await client.get(f"/work-sessions/{session_id}")).json()["status"] == "active"
    assert (await client.get(f"/markers/{marker['id']}")).json()["label"] == "held"
    assert len((await client.get("/markers")).json()) == 1


async def test_writes_without_the_header_are_not_lock_checked(
    client: httpx.AsyncClient, make_marker: Factory
) -> None:
    """The shipping app never locks: its writes go through while someone holds the lock."""
    marker = await make_marker()
    await acquire(client, marker["work_session_id"])
    response = await client.patch(f"/markers/{marker['id']}", json={"label": "app", "version": 0})
    assert response.status_code == 200


async def test_stale_token_after_expiry_and_regrant_changes_nothing(
    client: httpx.AsyncClient, make_marker: Factory
) -> None:
    marker = await make_marker(label="start")
    session_id = marker["work_session_id"]
    first = await acquire(client, session_id, ttl=1)

    async def unlocked() -> bool:
        status = await client.get(f"/locks/{session_id}")
        return bool(status.json()["locked"] is False)

    await until(unlocked)
    second = await acquire(client, session_id)
    assert second["fence"] > first["fence"]

    fresh = await client.patch(
        f"/markers/{marker['id']}", json={"label": "second"}, headers=token(second)
    )
    assert fresh.status_code == 200
    for response in (
        await client.patch(
            f"/markers/{marker['id']}", json={"label": "first"}, headers=token(first)
        ),
        await client.patch(
            f"/work-sessions/{session_id}", json={"status": "done"}, headers=token(first)
        ),
        await client.delete(f"/markers/{marker['id']}", headers=token(first)),
    ):
        assert response.status_code == 423
    after = (await client.get(f"/markers/{marker['id']}")).json()
    assert after["label"] == "second"
    assert after["version"] == 1
    assert (await client.get(f"/work-sessions/{session_id}")).json()["status"] == "draft"


async def test_the_session_fence_only_rises(database: Database, make_session: Factory) -> None:
    """The database side of the rule: the conditional UPDATE of the session's row."""
    session_id = uuid.UUID((await make_session())["id"])
    async with database.transaction() as conn:
        assert await session_rows.raise_lock_fence(conn, session_id, 200)
    async with database.transaction() as conn:
        assert not await session_rows.raise_lock_fence(conn, session_id, 100)
        assert await session_rows.raise_lock_fence(conn, session_id, 200)  # the same grant
    with pytest.raises(LockRejected):
        async with database.transaction() as conn:
            await enforce_fence(conn, Fence(session_id, 100))
    async with database.transaction() as conn:
        # A missing session is left to the write's own existence check (404 or 422).
        await enforce_fence(conn, Fence(uuid.uuid4(), 100))
        assert not await session_rows.raise_lock_fence(conn, uuid.uuid4(), 100)
    assert isinstance(refused_write("marker", session_id, None), NotFound)
    assert isinstance(refused_write("marker", session_id, 3), VersionConflict)


@pytest.mark.parametrize("path", ["/locks/{}", "/locks/work-sessions/{}"])
async def test_a_grant_records_its_fence_before_it_is_answered(
    client: httpx.AsyncClient, database: Database, make_session: Factory, path: str
) -> None:
    session_id = (await make_session())["id"]
    grant = (await client.post(path.format(session_id), json={})).json()
    async with database.read() as conn:
        stmt = select(work_sessions.c.lock_fence).where(work_sessions.c.id == uuid.UUID(session_id))
        assert (await conn.execute(stmt)).scalar() == grant["fence"]
    # Contention changes nothing in the database.
    assert (await client.post(path.format(session_id), json={})).json()["acquired"] is False


async def test_fenced_bulk_create_stays_in_one_session(
    client: httpx.AsyncClient, make_session: Factory
) -> None:
    one, two = await make_session(), await make_session()
    grant = await acquire(client, one["id"])
    ok = await client.post(
        "/markers/bulk",
        json={"markers": [{"work_session_id": one["id"], **SQUARE}] * 3},
        headers=token(grant),
    )
    assert ok.status_code == 201
    mixed = await client.post(
        "/markers/bulk",
        json={
            "markers": [
                {"work_session_id": one["id"], **SQUARE},
                {"work_session_id": two["id"], **SQUARE},
            ]
        },
        headers=token(grant),
    )
    assert mixed.status_code == 423
    assert len((await client.get("/markers")).json()) == 3


async def test_fenced_session_delete(client: httpx.AsyncClient, make_marker: Factory) -> None:
    marker = await make_marker()
    session_id = marker["work_session_id"]
    grant = await acquire(client, session_id)
    deleted = await client.delete(f"/work-sessions/{session_id}", headers=token(grant))
    assert deleted.status_code == 204
    assert (await client.get(f"/markers/{marker['id']}")).status_code == 404


async def test_fences_rise_across_a_redis_flush(
    app: FastAPI, client: httpx.AsyncClient, make_marker: Factory
) -> None:
    marker = await make_marker()
    session_id = marker["work_session_id"]
    before = await acquire(client, session_id)
    written = await client.patch(
        f"/markers/{marker['id']}", json={"label": "before"}, headers=token(before)
    )
    assert written.status_code == 200

    await app.state.roboscope.redis.flushdb()  # Redis forgets every lock and counter
    after = await acquire(client, session_id)
    assert after["fence"] > before["fence"]
    stale = await client.patch(
        f"/markers/{marker['id']}", json={"label": "stale"}, headers=token(before)
    )
    assert stale.status_code == 423
    fresh = await client.patch(
        f"/markers/{marker['id']}", json={"label": "after"}, headers=token(after)
    )
    assert fresh.status_code == 200


@pytest.mark.parametrize("header", ["", " ", "x" * 300])
async def test_malformed_tokens_are_refused(
    client: httpx.AsyncClient, make_marker: Factory, header: str
) -> None:
    marker = await make_marker()
    response = await client.patch(
        f"/markers/{marker['id']}", json={"label": "x"}, headers={"X-Lock-Token": header}
    )
    assert response.status_code == 423
    assert (await client.get(f"/markers/{marker['id']}")).json()["label"] is None


# Every fenced write is checked against the session's fence in the database.

DETAILS = {
    "center_location_long": 0.5,
    "center_location_cross": 0.5,
    "x_negative": 0,
    "x_positive": 1,
    "z_positive": 1,
    "z_negative": 0,
    "long_size": 1,
    "cross_size": 1,
}


async def _outrun(database: Database, session_id: str, fence: int) -> None:
    """Record in the session row that a grant newer than `fence` has been given, as a newer
    holder's grant does (here without Redis, so the older token still holds the lock there)."""
    async with database.transaction() as conn:
        await conn.execute(
            update(work_sessions)
            .where(work_sessions.c.id == uuid.UUID(session_id))
            .values(lock_fence=fence + 1)
        )


async def _snapshot(client: httpx.AsyncClient, session_id: str) -> list[Any]:
    """Everything a fenced write of the session could change."""
    markers = (await client.get(f"/markers?work_session_id={session_id}")).json()
    anchors = (await client.get(f"/anchors?session_id={session_id}")).json()
    session = (await client.get(f"/work-sessions/{session_id}")).json()
    return [session, markers, anchors]


FENCED_WRITES: dict[str, Callable[[str, dict[str, Any]], tuple[str, str, Any]]] = {
    "marker create": lambda sid, ids: (
        "POST",
        "/markers",
        {"work_session_id": sid, **SQUARE},
    ),
    "marker bulk": lambda sid, ids: (
        "POST",
        "/markers/bulk",
        {"markers": [{"work_session_id": sid, **SQUARE}] * 2},
    ),
    "marker patch": lambda sid, ids: ("PATCH", f"/markers/{ids['marker']}", {"label": "x"}),
    "marker delete": lambda sid, ids: ("DELETE", f"/markers/{ids['marker']}", None),
    "session patch": lambda sid, ids: ("PATCH", f"/work-sessions/{sid}", {"status": "done"}),
    "session delete": lambda sid, ids: ("DELETE", f"/work-sessions/{sid}", None),
    "details calculate": lambda sid, ids: (
        "POST",
        f"/markers/{ids['marker']}/details/calculate",
        {},
    ),
    "details put": lambda sid, ids: ("PUT", f"/markers/{ids['marker']}/details", DETAILS),
    "details delete": lambda sid, ids: ("DELETE", f"/markers/{ids['marker']}/details", None),
    "anchor upsert": lambda sid, ids: (
        "POST",
        "/anchors",
        {"session_id": sid, "run": 1, "local_z": 2, "world_position": [9, 9, 9]},
    ),
    "anchor create": lambda sid, ids: (
        "POST",
        "/anchors",
        {"session_id": sid, "run": 2, "local_z": 2, "world_position": [9, 9, 9]},
    ),
    "anchor patch": lambda sid, ids: (
        "PATCH",
        f"/anchors/{ids['anchor']}",
        {"world_position": [9, 9, 9]},
    ),
    "anchor delete": lambda sid, ids: ("DELETE", f"/anchors/{ids['anchor']}", None),
}


async def _populated_session(client: httpx.AsyncClient, make_marker: Factory) -> dict[str, str]:
    """A session with a marker (with details) and an anchor, written without a lock."""
    marker = await make_marker(label="start")
    session_id = marker["work_session_id"]
    calculated = await client.post(f"/markers/{marker['id']}/details/calculate", json={})
    assert calculated.status_code == 200
    anchor = await client.post(
        "/anchors",
        json={"session_id": session_id, "run": 1, "local_z": 2, "world_position": [1, 2, 3]},
    )
    assert anchor.status_code == 201
    return {"session": session_id, "marker": marker["id"], "anchor": anchor.json()["id"]}


@pytest.mark.parametrize("write", FENCED_WRITES)
async def test_fenced_writes_succeed_for_the_holder(
    client: httpx.AsyncClient, make_marker: Factory, write: str
) -> None:
    ids = await _populated_session(client, make_marker)
    grant = await acquire(client, ids["session"])
    method, url, body = FENCED_WRITES[write](ids["session"], ids)
    response = await client.request(method, url, json=body, headers=token(grant))
    assert response.status_code in (200, 201, 204), response.text

    wrong = await client.request(method, url, json=body, headers={"X-Lock-Token": "x" * 48})
    assert wrong.status_code in (423, 404), wrong.text


@pytest.mark.parametrize("write", FENCED_WRITES)
async def test_fenced_writes_older_than_the_session_fence_change_nothing(
    client: httpx.AsyncClient, database: Database, make_marker: Factory, write: str
) -> None:
    """The token still holds the lock in Redis, but the database knows a newer grant: 423,
    and nothing is stored (creates included)."""
    ids = await _populated_session(client, make_marker)
    grant = await acquire(client, ids["session"])
    await _outrun(database, ids["session"], grant["fence"])
    before = await _snapshot(client, ids["session"])

    method, url, body = FENCED_WRITES[write](ids["session"], ids)
    response = await client.request(method, url, json=body, headers=token(grant))
    assert response.status_code == 423, response.text
    assert response.json()["error"] == "locked"
    assert await _snapshot(client, ids["session"]) == before
    details = await client.get(f"/markers/{ids['marker']}/details")
    assert details.status_code == 200


async def test_fenced_create_in_a_missing_session_is_an_invalid_reference(
    client: httpx.AsyncClient,
) -> None:
    session_id = str(uuid.uuid4())
    grant = await acquire(client, session_id)
    response = await client.post(
        "/markers", json={"work_session_id": session_id, **SQUARE}, headers=token(grant)
    )
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_reference"


# A write that stalls inside the server never lands after a newer holder's grant.


WAIT = 15.0
"""Upper bound for waiting on something that happens after a short interval."""


async def _until(check: Callable[[], Awaitable[bool]]) -> None:
    """Poll until `check` holds; fail the test if it does not within `WAIT`."""
    async with asyncio.timeout(WAIT):
        while True:
            if await check():
                return
            await asyncio.sleep(0.05)


@asynccontextmanager
async def _stalling_writes_to(database: Database, marker_id: str) -> AsyncIterator[None]:
    """Hold the marker's row lock (PostgreSQL) or the write lock (SQLite) from another
    connection, so that a write of the marker waits inside the server until the block ends."""
    held, done = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with database.transaction() as conn:
            stmt = select(markers.c.id).where(markers.c.id == uuid.UUID(marker_id))
            await conn.execute(stmt.with_for_update())
            held.set()
            await done.wait()

    holder = asyncio.create_task(hold())
    await held.wait()
    try:
        yield
    finally:
        done.set()
        await holder


async def test_a_stalled_write_of_an_expired_holder_never_lands_after_a_newer_grant(
    client: httpx.AsyncClient, database: Database, make_marker: Factory
) -> None:
    """A's write passes the token check, then stalls in the database while A's lock expires
    and B is granted the lock. A's write must be refused, or committed before B's grant is
    answered: either way B's read-modify-write cannot lose it."""
    marker = await make_marker(label="start")
    session_id, url = marker["work_session_id"], f"/markers/{marker['id']}"
    first = await acquire(client, session_id, ttl=1)

    async def is_free() -> bool:
        return (await client.get(f"/locks/{session_id}")).json()["locked"] is False

    async def b_takes_over() -> tuple[dict[str, Any], str]:
        grant = await acquire(client, session_id)
        seen = (await client.get(url)).json()["label"]
        return grant, seen

    async with _stalling_writes_to(database, marker["id"]):
        a_write = asyncio.create_task(
            client.patch(url, json={"label": "by A"}, headers=token(first))
        )
        # A is stuck behind the held lock (it cannot finish while the block runs).
        done, _ = await asyncio.wait({a_write}, timeout=0.5)
        assert not done
        await _until(is_free)
        b = asyncio.create_task(b_takes_over())
        # Give B the chance to be answered while A is still stalled (it must not be).
        await asyncio.wait({b}, timeout=1.0)
    a_response = await a_write
    second, b_saw = await b

    assert second["fence"] > first["fence"]
    assert a_response.status_code in (200, 423), a_response.text
    if a_response.status_code == 200:
        assert b_saw == "by A", "A's write landed after B's grant was answered"
    else:
        assert b_saw == "start"
    # B's read-modify-write keeps whatever was committed before its grant.
    written = await client.patch(url, json={"label": f"{b_saw} + by B"}, headers=token(second))
    assert written.status_code == 200
    expected = "by A + by B" if a_response.status_code == 200 else "start + by B"
    assert (await client.get(url)).json()["label"] == expected


async def _waiting_for_row_locks(database: Database) -> int:
    """How many of this database's transactions wait for a lock (PostgreSQL)."""
    stmt = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    async with database.read() as conn:
        return int((await conn.execute(stmt)).scalar_one())


async def _at_least(database: Database, waiting: int) -> bool:
    return await _waiting_for_row_locks(database) >= waiting


async def test_a_space_delete_and_a_fenced_write_cannot_deadlock(
    client: httpx.AsyncClient, database: Database, make_marker: Factory
) -> None:
    """A fenced write locks its session's row before the marker's; a delete of the space must
    take the rows in the same order, or each would wait for the other (PostgreSQL aborts one
    of them, and its client would see an error)."""
    if database.is_sqlite:
        pytest.skip("SQLite runs one write transaction at a time: nothing can deadlock")
    marker = await make_marker()
    session = (await client.get(f"/work-sessions/{marker['work_session_id']}")).json()
    grant = await acquire(client, session["id"])

    async with _stalling_writes_to(database, marker["id"]):
        delete = asyncio.create_task(client.delete(f"/spaces/{session['space_id']}"))
        await _until(lambda: _at_least(database, 1))
        patch = asyncio.create_task(
            client.patch(f"/markers/{marker['id']}", json={"label": "x"}, headers=token(grant))
        )
        await _until(lambda: _at_least(database, 2))
    deleted, patched = await delete, await patch
    assert deleted.status_code == 204, deleted.text
    assert patched.status_code in (200, 404), patched.text
    assert (await client.get(f"/markers/{marker['id']}")).status_code == 404
