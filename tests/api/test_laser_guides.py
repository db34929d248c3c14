"""Laser guides: one per space, created or replaced by PUT; the space's updated_at stays."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import func, select

from roboscope.db.engine import Database
from roboscope.db.tables import laser_guides, reference_sets

from .conftest import Clock, Factory, Json
from .contract import assert_wire_response

GUIDE_FIELDS = {"id", "space_id", "grid", "meta", "created_at", "updated_at"}
GRID = [{"x": 0, "z": 0, "segment_length": 1.5}, {"x": -2.5, "z": 1e2, "segment_length": 3}]
MISSING = "00000000-0000-7000-8000-000000000000"


async def count(database: Database, table: Any) -> int:
    async with database.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


def assert_guide(body: Json) -> None:
    assert set(body) >= GUIDE_FIELDS
    assert all(body[name] is not None for name in GUIDE_FIELDS)


async def test_guide_404_then_created_replaced_and_deleted(
    client: httpx.AsyncClient, make_space: Factory
) -> None:
    space = await make_space()
    url = f"/spaces/{space['id'].upper()}/laser-guide"
    missing = await client.get(url)
    assert missing.status_code == 404
    assert missing.json()["message"].endswith("has no laser guide")

    created = await client.put(url, json={"grid": GRID})
    assert created.status_code == 201, created.text
    assert_wire_response(created)
    guide = created.json()
    assert_guide(guide)
    assert guide["space_id"] == space["id"]
    assert guide["meta"] == {}
    assert guide["grid"] == [
        {"x": 0.0, "z": 0.0, "segment_length": 1.5},
        {"x": -2.5, "z": 100.0, "segment_length": 3.0},
    ]
    fetched = await client.get(url)
    assert fetched.status_code == 200
    assert_wire_response(fetched)
    assert fetched.json() == guide

    replaced = await client.put(url, json={"grid": [], "meta": {"v": 2}})
    assert replaced.status_code == 200, replaced.text
    assert_wire_response(replaced)
    assert replaced.json()["id"] == guide["id"]
    assert replaced.json()["created_at"] == guide["created_at"]
    assert (replaced.json()["grid"], replaced.json()["meta"]) == ([], {"v": 2})
    assert (await client.get(url)).json() == replaced.json()

    assert (await client.delete(url)).status_code == 204
    assert (await client.get(url)).status_code == 404
    assert (await client.delete(url)).status_code == 404


async def test_unknown_space_is_404_with_its_own_message(client: httpx.AsyncClient) -> None:
    url = f"/spaces/{MISSING}/laser-guide"
    for response in (
        await client.get(url),
        await client.put(url, json={"grid": GRID}),
        await client.delete(url),
    ):
        assert response.status_code == 404
        assert response.json()["message"] == f"space {MISSING} does not exist"


async def test_concurrent_puts_leave_one_guide(
    client: httpx.AsyncClient, make_space: Factory, database: Database
) -> None:
    space = await make_space()
    url = f"/spaces/{space['id']}/laser-guide"
    bodies = [{"grid": GRID, "meta": {"n": n}} for n in range(8)]
    responses = await asyncio.gather(*(client.put(url, json=body) for body in bodies))
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await count(database, laser_guides) == 1


@pytest.mark.parametrize(
    "grid",
    [
        '[{"x": 0, "z": 0, "segment_length": 0}]',
        '[{"x": 0, "z": 0, "segment_length": -1}]',
        '[{"x": NaN, "z": 0, "segment_length": 1}]',
        '[{"x": 0, "z": Infinity, "segment_length": 1}]',
        '[{"x": 0, "z": 0}]',
        '[{"x": "1", "z": 0, "segment_length": 1}]',
        '[{"x": 0, "z": 0, "segment_length": true}]',
        "null",
        '{"x": 0}',
        "[[0, 0, 1]]",
    ],
)
async def test_bad_grids_are_refused_and_nothing_changes(
    client: httpx.AsyncClient, make_space: Factory, database: Database, grid: str
) -> None:
    space = await make_space()
    url = f"/spaces/{space['id']}/laser-guide"
    response = await client.put(url, content='{"grid": ' + grid + "}")
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation_error"
    assert await count(database, laser_guides) == 0
    stored = (await client.put(url, json={"grid": GRID})).json()
    assert (await client.put(url, content='{"grid": ' + grid + "}")).status_code == 422
    assert (await client.get(url)).json() == stored


async def test_bad_meta_and_missing_grid_are_refused(
    client: httpx.AsyncClient, make_space: Factory, database: Database
) -> None:
    space = await make_space()
    url = f"/spaces/{space['id']}/laser-guide"
    bodies: list[dict[str, Any]] = [
        {"meta": {}},
        {"grid": GRID, "meta": None},
        {"grid": GRID, "meta": [1]},
    ]
    for body in bodies:
        response = await client.put(url, content=json.dumps(body))
        assert response.status_code == 422, (body, response.text)
    assert (
        await client.put("/spaces/not-a-uuid/laser-guide", json={"grid": []})
    ).status_code == 422
    assert await count(database, laser_guides) == 0


async def test_writing_guides_and_reference_sets_keeps_the_space_updated_at(
    client: httpx.AsyncClient, make_space: Factory, clock: Clock
) -> None:
    space = await make_space()
    clock.advance(2)  # timestamps have whole seconds on the wire
    url = f"/spaces/{space['id']}"
    assert (await client.put(f"{url}/laser-guide", json={"grid": GRID})).status_code == 201
    assert (await client.put(f"{url}/laser-guide", json={"grid": []})).status_code == 200
    created = await client.post(f"{url}/reference-sets", json={"name": "A"})
    assert created.status_code == 201
    set_url = f"/reference-sets/{created.json()['id']}"
    assert (await client.patch(set_url, json={"name": "B"})).status_code == 200
    assert (await client.delete(set_url)).status_code == 204
    assert (await client.delete(f"{url}/laser-guide")).status_code == 204
    assert (await client.get(url)).json()["updated_at"] == space["updated_at"]


async def test_deleting_a_space_deletes_its_guide_and_reference_sets(
    client: httpx.AsyncClient, make_space: Factory, database: Database
) -> None:
    doomed, kept = await make_space(), await make_space()
    for space in (doomed, kept):
        url = f"/spaces/{space['id']}"
        assert (await client.put(f"{url}/laser-guide", json={"grid": GRID})).status_code == 201
        assert (await client.post(f"{url}/reference-sets", json={"name": "s"})).status_code == 201
    assert (await client.delete(f"/spaces/{doomed['id'].upper()}")).status_code == 204
    assert await count(database, laser_guides) == 1
    assert await count(database, reference_sets) == 1
    async with database.read() as conn:
        left = (await conn.execute(select(laser_guides.c.space_id))).scalar_one()
    assert left == UUID(kept["id"])
    assert (await client.get(f"/spaces/{kept['id']}/laser-guide")).status_code == 200
