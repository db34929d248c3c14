"""Reference sets: per space, versioned like markers, embedded markers get ids."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from roboscope.db.engine import Database
from roboscope.db.tables import reference_sets

from .conftest import SQUARE, Factory, Json
from .contract import assert_wire_response

SET_FIELDS = {
    "id",
    "space_id",
    "name",
    "description",
    "markers",
    "version",
    "created_at",
    "updated_at",
}
MISSING = "00000000-0000-7000-8000-000000000000"


async def count(database: Database) -> int:
    async with database.read() as conn:
        stmt = select(func.count()).select_from(reference_sets)
        return int((await conn.execute(stmt)).scalar_one())


def assert_set(body: Json) -> None:
    assert set(body) >= SET_FIELDS
    assert all(body[name] is not None for name in SET_FIELDS - {"description"})
    assert isinstance(body["space_id"], str)
    for marker in body["markers"]:
        assert {"id", "label", "p1", "p2", "p3", "p4", "color"} <= set(marker)
        assert marker["id"]


async def test_empty_then_created_and_listed(
    client: httpx.AsyncClient, make_space: Factory
) -> None:
    space = await make_space()
    url = f"/spaces/{space['id'].upper()}/reference-sets"
    empty = await client.get(url)
    assert empty.status_code == 200
    assert_wire_response(empty)
    assert empty.json() == []

    given_id = str(uuid.uuid4())
    body = {
        "name": "Row A",
        "description": "door frames",
        "markers": [
            {"label": "a", **SQUARE, "color": "#ff0000"},
            {"id": given_id.upper(), **SQUARE},
        ],
    }
    created = await client.post(url, json=body)
    assert created.status_code == 201, created.text
    assert_wire_response(created)
    reference_set = created.json()
    assert_set(reference_set)
    assert reference_set["space_id"] == space["id"]
    assert reference_set["version"] == 0
    assert (reference_set["name"], reference_set["description"]) == ("Row A", "door frames")
    first, second = reference_set["markers"]
    uuid.UUID(first["id"])
    assert (first["label"], first["color"], first["p3"]) == ("a", "#ff0000", [1.0, 0.0, 1.0])
    assert (second["id"], second["label"], second["color"]) == (given_id, None, None)

    listed = await client.get(url)
    assert_wire_response(listed)
    assert listed.json() == [reference_set]
    fetched = await client.get(f"/reference-sets/{reference_set['id'].upper()}")
    assert_wire_response(fetched)
    assert fetched.json() == reference_set

    bare = (await client.post(url, json={"name": "bare"})).json()
    assert_set(bare)
    assert (bare["description"], bare["markers"]) == (None, [])
    assert [s["id"] for s in (await client.get(url)).json()] == [reference_set["id"], bare["id"]]
    other = await make_space()
    assert (await client.get(f"/spaces/{other['id']}/reference-sets")).json() == []


async def test_patch_versions_and_conflicts(client: httpx.AsyncClient, make_space: Factory) -> None:
    space = await make_space()
    created = await client.post(
        f"/spaces/{space['id']}/reference-sets", json={"name": "v", "markers": [SQUARE]}
    )
    reference_set = created.json()
    url = f"/reference-sets/{reference_set['id']}"

    renamed = await client.patch(url, json={"name": "v1", "version": 0})
    assert renamed.status_code == 200, renamed.text
    assert_wire_response(renamed)
    assert (renamed.json()["name"], renamed.json()["version"]) == ("v1", 1)
    assert renamed.json()["markers"] == reference_set["markers"]

    stale = await client.patch(url, json={"name": "lost", "version": 0})
    assert stale.status_code == 409
    assert stale.json()["error"] == "version_conflict"
    assert stale.json()["current_version"] == 1
    assert (await client.get(url)).json() == renamed.json()

    replaced = await client.patch(url, json={"markers": [], "description": "d"})
    assert replaced.status_code == 200
    assert (replaced.json()["markers"], replaced.json()["version"]) == ([], 2)
    cleared = await client.patch(url, json={"description": None, "version": 2})
    assert (cleared.json()["description"], cleared.json()["version"]) == (None, 3)


@pytest.mark.parametrize(
    "body",
    [
        {"name": None},
        {"markers": None},
        {"name": ""},
        {"markers": [{"p1": [0, 0], "p2": [0, 0, 0], "p3": [0, 0, 0], "p4": [0, 0, 0]}]},
        {"markers": [{**SQUARE, "id": "not-a-uuid"}]},
        {"markers": [{"p1": [0, 0, 0]}]},
        {"version": -1},
    ],
)
async def test_bad_patches_change_nothing(
    client: httpx.AsyncClient, make_space: Factory, body: Json
) -> None:
    space = await make_space()
    created = await client.post(
        f"/spaces/{space['id']}/reference-sets", json={"name": "n", "markers": [SQUARE]}
    )
    url = f"/reference-sets/{created.json()['id']}"
    response = await client.patch(url, json=body)
    assert response.status_code == 422, response.text
    assert (await client.get(url)).json() == created.json()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": None},
        {"name": "n", "markers": None},
        {"name": "n", "markers": [{**SQUARE, "p2": [0, 0]}]},
        {"name": "n", "markers": [{**SQUARE, "p2": [0, float("nan"), 0]}]},
        {"name": "n", "markers": [{**SQUARE, "p2": [0, float("inf"), 0]}]},
        {"name": "n", "markers": [{**SQUARE, "id": 5}]},
        {"name": "n", "markers": [{**SQUARE, "label": 5}]},
        {"name": "n", "description": "nul \u0000"},
        {"name": "n", "markers": "x"},
    ],
)
async def test_bad_creates_store_nothing(
    client: httpx.AsyncClient, make_space: Factory, database: Database, body: Json
) -> None:
    space = await make_space()
    content = json.dumps(body)  # NaN and Infinity go out as the bare literals
    response = await client.post(f"/spaces/{space['id']}/reference-sets", content=content)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation_error"
    assert await count(database) == 0


async def test_unknown_space_and_set_are_404(client: httpx.AsyncClient) -> None:
    space_url = f"/spaces/{MISSING}/reference-sets"
    set_url = f"/reference-sets/{MISSING}"
    for response in (
        await client.get(space_url),
        await client.post(space_url, json={"name": "n"}),
        await client.get(set_url),
        await client.patch(set_url, json={"name": "n"}),
        await client.patch(set_url, json={"name": "n", "version": 3}),
        await client.delete(set_url),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["error"] == "not_found"


async def test_bad_ids_in_paths(client: httpx.AsyncClient) -> None:
    responses: list[Any] = [
        await client.get("/spaces/nope/reference-sets"),
        await client.get("/reference-sets/nope"),
        await client.delete("/reference-sets/12"),
    ]
    for response in responses:
        assert response.status_code == 422
        assert response.json()["error"] == "validation_error"


async def test_delete(client: httpx.AsyncClient, make_space: Factory) -> None:
    space = await make_space()
    url = f"/spaces/{space['id']}/reference-sets"
    created = (await client.post(url, json={"name": "gone"})).json()
    set_url = f"/reference-sets/{created['id'].upper()}"
    assert (await client.delete(set_url)).status_code == 204
    assert (await client.get(set_url)).status_code == 404
    assert (await client.get(url)).json() == []
