from __future__ import annotations

import httpx

from .conftest import SQUARE, Factory

MISSING = "00000000-0000-7000-8000-000000000000"


async def test_create_and_get(client: httpx.AsyncClient, make_session: Factory) -> None:
    session = await make_session()
    response = await client.post(
        "/markers",
        json={
            "work_session_id": session["id"].upper(),
            **SQUARE,
            "label": "A1",
            "color": "#ff0000",
        },
    )
    assert response.status_code == 201
    marker = response.json()
    assert marker["version"] == 0
    assert marker["work_session_id"] == session["id"]
    assert marker["p3"] == [1, 0, 1]
    assert marker["meta"] == {} and marker["custom_props"] == {}
    assert (await client.get(f"/markers/{marker['id'].upper()}")).json() == marker


async def test_list_all_and_by_session(
    client: httpx.AsyncClient, make_session: Factory, make_marker: Factory
) -> None:
    one, two = await make_session(), await make_session()
    a = await make_marker(work_session_id=one["id"])
    b = await make_marker(work_session_id=two["id"])
    c = await make_marker(work_session_id=one["id"])
    assert (await client.get("/markers")).json() == [a, b, c]
    by_one = await client.get("/markers", params={"work_session_id": one["id"].upper()})
    assert by_one.json() == [a, c]
    assert (await client.get("/markers", params={"work_session_id": MISSING})).json() == []


async def test_bulk_create_keeps_request_order(
    client: httpx.AsyncClient, make_session: Factory
) -> None:
    session = await make_session()
    bodies = [{"work_session_id": session["id"], **SQUARE, "label": f"m{i}"} for i in range(25)]
    response = await client.post("/markers/bulk", json={"markers": bodies})
    assert response.status_code == 201
    assert [m["label"] for m in response.json()] == [f"m{i}" for i in range(25)]
    listed = (await client.get("/markers", params={"work_session_id": session["id"]})).json()
    assert listed == response.json()


async def test_failed_bulk_create_stores_nothing(
    client: httpx.AsyncClient, make_session: Factory
) -> None:
    session = await make_session()
    good = {"work_session_id": session["id"], **SQUARE}
    unknown_session = {**good, "work_session_id": MISSING}
    bad_point = {**good, "p2": [1, 2]}
    for markers in ([good, good, unknown_session], [good, bad_point, good]):
        response = await client.post("/markers/bulk", json={"markers": markers})
        assert response.status_code == 422, response.text
    assert (await client.get("/markers")).json() == []


async def test_marker_for_missing_session_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/markers", json={"work_session_id": MISSING, **SQUARE})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_reference"


async def test_patch_versions(client: httpx.AsyncClient, make_marker: Factory) -> None:
    marker = await make_marker()
    url = f"/markers/{marker['id']}"
    moved = await client.patch(url, json={"p1": [0.5, 0, 0], "version": 0})
    assert moved.status_code == 200
    assert moved.json()["version"] == 1
    assert moved.json()["p1"] == [0.5, 0, 0]
    assert moved.json()["p2"] == marker["p2"]

    stale = await client.patch(url, json={"label": "late", "version": 0})
    assert stale.status_code == 409
    assert stale.json()["current_version"] == 1
    assert (await client.get(url)).json()["label"] is None

    assert (await client.patch(url, json={"label": "free"})).json()["version"] == 2


async def test_patch_refuses_null_points_and_keeps_the_marker(
    client: httpx.AsyncClient, make_marker: Factory
) -> None:
    marker = await make_marker()
    url = f"/markers/{marker['id']}"
    for body in ({"p1": None}, {"meta": None}, {"p4": [1, 2, 3, 4]}, {"version": -1}):
        assert (await client.patch(url, json=body)).status_code == 422
    assert (await client.get(url)).json() == marker


async def test_delete(client: httpx.AsyncClient, make_marker: Factory) -> None:
    marker = await make_marker()
    assert (await client.delete(f"/markers/{marker['id']}")).status_code == 204
    assert (await client.get(f"/markers/{marker['id']}")).status_code == 404
    assert (await client.delete(f"/markers/{marker['id']}")).status_code == 404
