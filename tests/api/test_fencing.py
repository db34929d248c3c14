"""Fenced writes: `X-Lock-Token` writes apply only while the token holds the session's lock,
and never over a row that a newer lock holder already wrote."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from roboscope.db import markers as marker_rows
from roboscope.db.engine import Database
from roboscope.errors import LockRejected, VersionConflict
from roboscope.services.conditional_writes import refused_write

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
    await asyncio.sleep(1.2)
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


async def test_row_fence_refuses_an_older_grant(database: Database, make_marker: Factory) -> None:
    """The second line of defence: a write whose token check passed just before its lock
    expired still cannot overwrite a row that a newer grant has written."""
    marker = await make_marker()
    marker_id = uuid.UUID(marker["id"])
    async with database.transaction() as conn:
        newer = await marker_rows.update_marker(
            conn, marker_id, {"label": "newer"}, expected_version=None, fence=200
        )
        assert newer is not None
    async with database.transaction() as conn:
        older = await marker_rows.update_marker(
            conn, marker_id, {"label": "older"}, expected_version=None, fence=100
        )
        assert older is None
        state = await marker_rows.marker_write_state(conn, marker_id)
    assert isinstance(refused_write("marker", marker_id, state, 100), LockRejected)
    assert isinstance(refused_write("marker", marker_id, state, None), VersionConflict)
    async with database.transaction() as conn:
        same = await marker_rows.update_marker(
            conn, marker_id, {"label": "same grant"}, expected_version=None, fence=200
        )
        assert same is not None and same["version"] == 2


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
