"""Anchors: an upsert on (session_id, run, local_z) that never duplicates, also concurrently."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import func, select

from roboscope.db.engine import Database
from roboscope.db.tables import anchors, marker_details

from .conftest import Factory, Json
from .contract import assert_wire_response

ANCHOR_FIELDS = {"id", "session_id", "run", "local_z", "world_position", "created_at", "updated_at"}
MISSING = "00000000-0000-7000-8000-000000000000"


async def count(database: Database, table: Any, **where: Any) -> int:
    stmt = select(func.count()).select_from(table)
    for name, value in where.items():
        stmt = stmt.where(table.c[name] == value)
    async with database.read() as conn:
        return int((await conn.execute(stmt)).scalar_one())


def anchor_body(session: Json, **fields: Any) -> Json:
    return {
        "session_id": session["id"].upper(),
        "run": 1,
        "local_z": 2,
        "world_position": [1, 2, 3],
        **fields,
    }


def assert_anchor(body: Json) -> None:
    assert set(body) >= ANCHOR_FIELDS
    assert all(body[name] is not None for name in ANCHOR_FIELDS)


async def test_upsert_creates_then_moves_the_same_anchor(
    client: httpx.AsyncClient, make_session: Factory
) -> None:
    session = await make_session()
    created = await client.post("/anchors", json=anchor_body(session))
    assert created.status_code == 201, created.text
    assert_wire_response(created)
    anchor = created.json()
    assert_anchor(anchor)
    assert anchor["session_id"] == session["id"]
    assert (anchor["run"], anchor["local_z"], anchor["world_position"]) == (1, 2.0, [1, 2, 3])

    moved = await client.post("/anchors", json=anchor_body(session, world_position=[4, 5, 6]))
    assert moved.status_code == 200, moved.text
    assert_wire_response(moved)
    assert moved.json()["id"] == anchor["id"]
    assert moved.json()["world_position"] == [4, 5, 6]
    assert moved.json()["created_at"] == anchor["created_at"]
    assert (await client.get(f"/anchors/{anchor['id']}")).json() == moved.json()


async def test_local_z_is_matched_exactly(client: httpx.AsyncClient, make_session: Factory) -> None:
    session = await make_session()
    base = f'{{"session_id": "{session["id"]}", "run": 7, "world_position": [0, 0, 0], '
    as_int = await client.post("/anchors", content=base + '"local_z": 2}')
    as_float = await client.post("/anchors", content=base + '"local_z": 2.0}')
    as_exponent = await client.post("/anchors", content=base + '"local_z": 2e0}')
    nearby = await client.post("/anchors", content=base + '"local_z": 2.0000001}')
    assert [r.status_code for r in (as_int, as_float, as_exponent, nearby)] == [201, 200, 200, 201]
    assert as_int.json()["id"] == as_float.json()["id"] == as_exponent.json()["id"]
    assert nearby.json()["id"] != as_int.json()["id"]
    assert nearby.json()["local_z"] == 2.0000001
    other_run = await client.post(
        "/anchors", content=base.replace('"run": 7', '"run": 8') + '"local_z": 2}'
    )
    assert other_run.status_code == 201
    listed = (await client.get("/anchors", params={"session_id": session["id"]})).json()
    assert len(listed) == 3


async def test_ten_concurrent_upserts_of_one_key_leave_one_anchor(
    client: httpx.AsyncClient, make_session: Factory, database: Database
) -> None:
    session = await make_session()
    bodies = [anchor_body(session, world_position=[n, n, n]) for n in range(10)]
    responses = await asyncio.gather(*(client.post("/anchors", json=body) for body in bodies))
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201], [
        r.text for r in responses
    ]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await count(database, anchors) == 1
    (stored,) = (await client.get("/anchors")).json()
    assert stored["world_position"] in [body["world_position"] for body in bodies]


async def test_concurrent_upserts_of_different_keys_each_create(
    client: httpx.AsyncClient, make_session: Factory, database: Database
) -> None:
    session = await make_session()
    bodies = [anchor_body(session, local_z=n / 10) for n in range(10)]
    responses = await asyncio.gather(*(client.post("/anchors", json=body) for body in bodies))
    assert [r.status_code for r in responses] == [201] * 10
    assert await count(database, anchors) == 10


async def test_list_get_patch_delete(client: httpx.AsyncClient, make_session: Factory) -> None:
    first, second = await make_session(), await make_session()
    a = (await client.post("/anchors", json=anchor_body(first))).json()
    b = (await client.post("/anchors", json=anchor_body(second, run=2**63 - 1))).json()
    assert b["run"] == 2**63 - 1
    everything = await client.get("/anchors")
    assert_wire_response(everything)
    assert everything.json() == [a, b]
    by_session = await client.get("/anchors", params={"session_id": first["id"].upper()})
    assert by_session.json() == [a]
    assert (await client.get("/anchors", params={"session_id": MISSING})).json() == []

    url = f"/anchors/{a['id'].upper()}"
    fetched = await client.get(url)
    assert_wire_response(fetched)
    assert fetched.json() == a
    patched = await client.patch(url, json={"world_position": [9, 8, 7.5]})
    assert patched.status_code == 200, patched.text
    assert_wire_response(patched)
    assert patched.json()["world_position"] == [9, 8, 7.5]
    assert patched.json()["id"] == a["id"]
    unchanged = await client.patch(url, json={})
    assert unchanged.json() == patched.json()

    assert (await client.delete(url)).status_code == 204
    assert (await client.get(url)).status_code == 404
    assert (await client.delete(url)).status_code == 404
    assert (await client.patch(url, json={"world_position": [0, 0, 0]})).status_code == 404


async def test_anchor_for_unknown_session_is_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    body = {"session_id": MISSING, "run": 1, "local_z": 0, "world_position": [0, 0, 0]}
    response = await client.post("/anchors", json=body)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_reference"
    assert await count(database, anchors) == 0


@pytest.mark.parametrize(
    "raw",
    [
        '"world_position": [0, 0]',
        '"world_position": [0, 0, 0, 0]',
        '"world_position": [0, NaN, 0]',
        '"world_position": null',
        '"local_z": NaN',
        '"local_z": Infinity',
        '"local_z": "2"',
        '"local_z": null',
        '"run": "1"',
        '"run": true',
        '"run": 1.5',
        '"run": 9223372036854775808',
        '"session_id": "not-a-uuid"',
        '"session_id": 12',
    ],
)
async def test_bad_anchor_bodies_are_refused(
    client: httpx.AsyncClient, make_session: Factory, database: Database, raw: str
) -> None:
    session = await make_session()
    good = json.dumps(anchor_body(session))
    response = await client.post("/anchors", content=good[:-1] + ", " + raw + "}")
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"] == "validation_error"
    assert await count(database, anchors) == 0


@pytest.mark.parametrize(
    "body",
    ['{"world_position": [1, 2]}', '{"world_position": null}', '{"world_position": [NaN, 0, 0]}'],
)
async def test_bad_anchor_patches_change_nothing(
    client: httpx.AsyncClient, make_session: Factory, body: str
) -> None:
    anchor = (await client.post("/anchors", json=anchor_body(await make_session()))).json()
    url = f"/anchors/{anchor['id']}"
    response = await client.patch(url, content=body)
    assert response.status_code == 422, response.text
    assert (await client.get(url)).json() == anchor


async def test_bad_anchor_ids_in_path_and_query(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/anchors/not-a-uuid"),
        await client.get("/anchors", params={"session_id": "nope"}),
        await client.delete("/anchors/1"),
    ):
        assert response.status_code == 422
        assert response.json()["error"] == "validation_error"


async def test_deleting_a_session_deletes_its_markers_details_and_anchors(
    client: httpx.AsyncClient,
    make_session: Factory,
    make_marker: Factory,
    database: Database,
) -> None:
    doomed, kept = await make_session(), await make_session()
    for session in (doomed, kept):
        marker = await make_marker(work_session_id=session["id"])
        calculated = await client.post(f"/markers/{marker['id']}/details/calculate", json={})
        assert calculated.status_code == 200
        assert (await client.post("/anchors", json=anchor_body(session))).status_code == 201
    response = await client.delete(f"/work-sessions/{doomed['id'].upper()}")
    assert response.status_code == 204
    assert await count(database, anchors, session_id=UUID(doomed["id"])) == 0
    assert await count(database, anchors, session_id=UUID(kept["id"])) == 1
    assert await count(database, marker_details) == 1
    (left,) = (await client.get("/markers")).json()
    assert left["work_session_id"] == kept["id"]
    assert left["details"] is not None


async def test_deleting_a_space_deletes_its_sessions_anchors_and_details(
    client: httpx.AsyncClient, make_marker: Factory, database: Database
) -> None:
    marker = await make_marker()
    session = (await client.get(f"/work-sessions/{marker['work_session_id']}")).json()
    await client.post(f"/markers/{marker['id']}/details/calculate", json={})
    await client.post("/anchors", json=anchor_body(session))
    assert (await client.delete(f"/spaces/{session['space_id']}")).status_code == 204
    assert await count(database, anchors) == 0
    assert await count(database, marker_details) == 0
