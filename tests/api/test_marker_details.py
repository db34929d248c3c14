"""Marker details: computed from p1 to p4, one per marker, embedded in every marker answer."""

from __future__ import annotations

import asyncio
import json
from uuid import UUID

import httpx
import pytest
from sqlalchemy import func, select

from roboscope.db.engine import Database
from roboscope.db.tables import marker_details
from roboscope.services.marker_details import footprint

from .conftest import SQUARE, SQUARE_DETAILS, Factory, Json
from .contract import assert_wire_response

# Every field of MarkerDetails, as the contract lists them (docs/contract.md): all required.
DETAILS_FIELDS = {
    "marker_id",
    "center_location_long",
    "center_location_cross",
    "x_negative",
    "x_positive",
    "z_positive",
    "z_negative",
    "long_size",
    "cross_size",
    "custom_props",
    "created_at",
    "updated_at",
}
CALIBRATED = {
    "p1": [0, 0, 0],
    "p2": [1, 0, 0],
    "p3": [1, 0, 1],
    "p4": [0, 0, 1],
    "center": [0.5, 0, 0.5],
}
MISSING = "00000000-0000-7000-8000-000000000000"


def assert_details(body: Json, marker_id: str, expected: dict[str, float]) -> None:
    assert set(body) >= DETAILS_FIELDS
    assert all(body[name] is not None for name in DETAILS_FIELDS)
    assert body["marker_id"] == marker_id
    for name, value in expected.items():
        assert body[name] == pytest.approx(value), name


async def details_rows(database: Database, marker_id: str) -> int:
    async with database.read() as conn:
        stmt = select(func.count()).where(marker_details.c.marker_id == UUID(marker_id))
        return int((await conn.execute(stmt)).scalar_one())


def test_footprint_of_a_skewed_quad() -> None:
    """x is index 0, z is index 2; y never matters."""
    corners = [[-1.0, 9.0, 2.0], [3.0, -9.0, 1.0], [2.0, 0.0, 6.0], [0.0, 5.0, 3.0]]
    assert footprint(corners) == {
        "center_location_long": 3.0,
        "center_location_cross": 1.0,
        "x_negative": -1.0,
        "x_positive": 3.0,
        "z_positive": 6.0,
        "z_negative": 1.0,
        "long_size": 5.0,
        "cross_size": 4.0,
    }


def test_footprint_of_huge_coordinates_does_not_overflow_the_center() -> None:
    corners = [[1e308, 0.0, 1e308]] * 4
    assert footprint(corners)["center_location_cross"] == 1e308


async def test_details_are_404_until_calculated(
    client: httpx.AsyncClient, make_marker: Factory
) -> None:
    marker = await make_marker()
    response = await client.get(f"/markers/{marker['id']}/details")
    assert response.status_code == 404
    assert "no details" in response.json()["message"]
    assert marker["details"] is None
    unknown = await client.get(f"/markers/{MISSING}/details")
    assert unknown.status_code == 404
    assert "does not exist" in unknown.json()["message"]


async def test_calculate_stores_and_embeds_the_details(
    client: httpx.AsyncClient, make_marker: Factory
) -> None:
    marker = await make_marker()
    marker_id = marker["id"].upper()
    calculated = await client.post(f"/markers/{marker_id}/details/calculate", json={})
    assert calculated.status_code == 200, calculated.text
    assert_wire_response(calculated)
    details = calculated.json()
    assert_details(details, marker["id"], SQUARE_DETAILS)
    assert details["custom_props"] == {}

    fetched = await client.get(f"/markers/{marker_id}/details")
    assert_wire_response(fetched)
    assert fetched.json() == details
    embedded = await client.get(f"/markers/{marker_id}")
    assert embedded.json()["details"] == details
    assert embedded.json()["version"] == 0
    for url in ("/markers", f"/markers?work_session_id={marker['work_session_id'].upper()}"):
        listed = await client.get(url)
        assert_wire_response(listed)
        assert [m["details"] for m in listed.json()] == [details]


@pytest.mark.parametrize("content", [None, b"", b"{}", b"null"])
async def test_calculate_tolerates_any_empty_body(
    client: httpx.AsyncClient, make_marker: Factory, content: bytes | None
) -> None:
    marker = await make_marker()
    response = await client.post(f"/markers/{marker['id']}/details/calculate", content=content)
    assert response.status_code == 200, response.text


async def test_calculate_for_unknown_marker_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post(f"/markers/{MISSING}/details/calculate", json={})
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_concurrent_calculations_both_succeed_and_leave_one_row(
    client: httpx.AsyncClient, make_marker: Factory, database: Database
) -> None:
    marker = await make_marker()
    url = f"/markers/{marker['id']}/details/calculate"
    first, second = await asyncio.gather(client.post(url, json={}), client.post(url, json={}))
    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    assert_details(first.json(), marker["id"], SQUARE_DETAILS)
    assert_details(second.json(), marker["id"], SQUARE_DETAILS)
    assert await details_rows(database, marker["id"]) == 1
    assert (await client.get(f"/markers/{marker['id']}")).json()["version"] == marker["version"]


async def test_many_concurrent_calculations(
    client: httpx.AsyncClient, make_marker: Factory, database: Database
) -> None:
    marker = await make_marker()
    url = f"/markers/{marker['id']}/details/calculate"
    responses = await asyncio.gather(*(client.post(url, json={}) for _ in range(10)))
    assert [r.status_code for r in responses] == [200] * 10
    assert len({r.json()["created_at"] for r in responses}) == 1
    assert await details_rows(database, marker["id"]) == 1
    assert (await client.get(f"/markers/{marker['id']}")).json()["version"] == 0


async def test_moving_points_recalculates_the_details_in_the_patch(
    client: httpx.AsyncClient, make_marker: Factory
) -> None:
    marker = await make_marker()
    url = f"/markers/{marker['id']}"
    stored = await client.put(
        f"{url}/details", json={**SQUARE_DETAILS, "custom_props": {"note": "kept"}}
    )
    assert stored.status_code == 200, stored.text
    patched = await client.patch(url, json={"p3": [3, 0, 5], "version": 0})
    assert patched.status_code == 200, patched.text
    assert_wire_response(patched)
    body = patched.json()
    assert body["version"] == 1
    expected = {
        "center_location_long": 1.5,
        "center_location_cross": 1.0,
        "x_negative": 0.0,
        "x_positive": 3.0,
        "z_positive": 5.0,
        "z_negative": 0.0,
        "long_size": 5.0,
        "cross_size": 3.0,
    }
    assert_details(body["details"], marker["id"], expected)
    assert body["details"]["custom_props"] == {"note": "kept"}
    assert (await client.get(f"{url}/details")).json() == body["details"]
    assert (await client.get(url)).json()["version"] == 1


async def test_patch_without_points_keeps_the_details(
    client: httpx.AsyncClient, make_marker: Factory
) -> None:
    marker = await make_marker()
    details = (await client.post(f"/markers/{marker['id']}/details/calculate", json={})).json()
    patched = (await client.patch(f"/markers/{marker['id']}", json={"label": "x"})).json()
    assert patched["details"] == details
    assert patched["version"] == 1


async def test_patch_of_a_marker_without_details_keeps_none(
    client: httpx.AsyncClient, make_marker: Factory
) -> None:
    marker = await make_marker()
    patched = (await client.patch(f"/markers/{marker['id']}", json={"p1": [0, 1, -1]})).json()
    assert patched["details"] is None
    assert (await client.get(f"/markers/{marker['id']}/details")).status_code == 404


async def test_put_and_delete_details(client: httpx.AsyncClient, make_marker: Factory) -> None:
    marker = await make_marker()
    url = f"/markers/{marker['id'].upper()}/details"
    values = {**SQUARE_DETAILS, "long_size": 7, "custom_props": {"a": [1]}}
    stored = await client.put(url, json=values)
    assert stored.status_code == 200, stored.text
    assert_wire_response(stored)
    assert_details(stored.json(), marker["id"], {**SQUARE_DETAILS, "long_size": 7.0})
    replaced = await client.put(url, json={**SQUARE_DETAILS})
    assert replaced.json()["custom_props"] == {}
    assert replaced.json()["created_at"] == stored.json()["created_at"]
    assert (await client.delete(url)).status_code == 204
    assert (await client.get(url)).status_code == 404
    assert (await client.delete(url)).status_code == 404
    assert (await client.put(f"/markers/{MISSING}/details", json=values)).status_code == 404


@pytest.mark.parametrize(
    "raw",
    [
        '"long_size": NaN',
        '"cross_size": Infinity',
        '"x_negative": "1"',
        '"x_positive": true',
        '"z_negative": null',
        '"custom_props": null',
        '"custom_props": [1]',
    ],
)
async def test_bad_details_are_refused_and_nothing_stored(
    client: httpx.AsyncClient, make_marker: Factory, raw: str
) -> None:
    marker = await make_marker()
    url = f"/markers/{marker['id']}/details"
    good = ", ".join(f'"{name}": {value}' for name, value in SQUARE_DETAILS.items())
    response = await client.put(url, content="{" + good + ", " + raw + "}")
    assert 400 <= response.status_code < 500, response.text
    assert "error" in response.json()
    assert (await client.get(url)).status_code == 404


async def test_details_need_every_field(client: httpx.AsyncClient, make_marker: Factory) -> None:
    marker = await make_marker()
    url = f"/markers/{marker['id']}/details"
    partial = {k: v for k, v in SQUARE_DETAILS.items() if k != "long_size"}
    assert (await client.put(url, json=partial)).status_code == 422
    assert (await client.get(url)).status_code == 404


async def test_bad_marker_ids_in_the_path(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/markers/not-a-uuid/details"),
        await client.post("/markers/not-a-uuid/details/calculate", json={}),
        await client.delete("/markers/123/details"),
    ):
        assert response.status_code == 422
        assert response.json()["error"] == "validation_error"


async def test_deleting_a_marker_deletes_its_details(
    client: httpx.AsyncClient, make_marker: Factory, database: Database
) -> None:
    marker = await make_marker()
    await client.post(f"/markers/{marker['id']}/details/calculate", json={})
    assert (await client.delete(f"/markers/{marker['id']}")).status_code == 204
    assert await details_rows(database, marker["id"]) == 0


async def test_calibrated_data_on_create_patch_and_clear(
    client: httpx.AsyncClient, make_session: Factory
) -> None:
    session = await make_session()
    created = await client.post(
        "/markers",
        json={"work_session_id": session["id"].upper(), **SQUARE, "calibrated_data": CALIBRATED},
    )
    assert created.status_code == 201, created.text
    assert_wire_response(created)
    marker = created.json()
    assert marker["calibrated_data"] == CALIBRATED
    url = f"/markers/{marker['id']}"
    moved = {**CALIBRATED, "center": [1, 2, 3]}
    patched = await client.patch(url, json={"calibrated_data": moved, "version": 0})
    assert patched.json()["calibrated_data"] == moved
    assert patched.json()["version"] == 1
    cleared = await client.patch(url, json={"calibrated_data": None})
    assert cleared.json()["calibrated_data"] is None
    assert (await client.get(url)).json()["calibrated_data"] is None
    plain = await client.post("/markers", json={"work_session_id": session["id"], **SQUARE})
    assert plain.json()["calibrated_data"] is None


@pytest.mark.parametrize(
    "calibrated",
    [
        {**CALIBRATED, "center": [0, 0]},
        {k: v for k, v in CALIBRATED.items() if k != "center"},
        {**CALIBRATED, "p1": None},
        {**CALIBRATED, "p2": [0, 0, float("nan")]},
        [1, 2, 3],
    ],
)
async def test_bad_calibrated_data_is_refused(
    client: httpx.AsyncClient, make_marker: Factory, calibrated: object
) -> None:
    marker = await make_marker(calibrated_data=CALIBRATED)
    url = f"/markers/{marker['id']}"
    content = json.dumps({"calibrated_data": calibrated})  # NaN goes out as `NaN`
    response = await client.patch(url, content=content)
    assert response.status_code == 422, response.text
    assert (await client.get(url)).json() == marker
    sent = {"work_session_id": marker["work_session_id"], **SQUARE, "calibrated_data": calibrated}
    content = json.dumps(sent)
    assert (await client.post("/markers", content=content)).status_code == 422
    assert len((await client.get("/markers")).json()) == 1


async def test_bulk_markers_carry_calibrated_data_and_null_details(
    client: httpx.AsyncClient, make_session: Factory
) -> None:
    session = await make_session()
    body = {
        "markers": [
            {"work_session_id": session["id"], **SQUARE, "calibrated_data": CALIBRATED},
            {"work_session_id": session["id"], **SQUARE},
        ]
    }
    response = await client.post("/markers/bulk", json=body)
    assert response.status_code == 201, response.text
    assert_wire_response(response)
    assert [m["calibrated_data"] for m in response.json()] == [CALIBRATED, None]
    assert [m["details"] for m in response.json()] == [None, None]


async def test_work_session_markers_alias(
    client: httpx.AsyncClient, make_marker: Factory, make_session: Factory
) -> None:
    marker = await make_marker()
    await make_marker()  # another session's marker stays out
    await client.post(f"/markers/{marker['id']}/details/calculate", json={})
    session_id = marker["work_session_id"].upper()
    response = await client.get(f"/work-sessions/{session_id}/markers")
    assert response.status_code == 200
    assert_wire_response(response)
    assert response.json() == (await client.get(f"/markers?work_session_id={session_id}")).json()
    assert [m["id"] for m in response.json()] == [marker["id"]]
    empty = await make_session()
    assert (await client.get(f"/work-sessions/{empty['id']}/markers")).json() == []
    missing = await client.get(f"/work-sessions/{MISSING}/markers")
    assert missing.status_code == 404


async def test_details_that_would_overflow_are_refused_not_stored(
    client: httpx.AsyncClient, make_marker: Factory
) -> None:
    marker = await make_marker()
    url = f"/markers/{marker['id']}"
    await client.post(f"{url}/details/calculate", json={})
    far = {"p1": [-1e308, 0, 0], "p2": [1e308, 0, 0]}
    patched = await client.patch(url, json=far)
    assert patched.status_code == 422, patched.text
    assert patched.json()["error"] == "invalid_value"
    assert (await client.get(url)).json() == {
        **marker,
        "details": (await client.get(f"{url}/details")).json(),
    }
    assert (await client.get(url)).json()["version"] == 0


async def test_openapi_documents_the_new_endpoints(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in (
        "/api/v1/markers/{marker_id}/details",
        "/api/v1/markers/{marker_id}/details/calculate",
        "/api/v1/anchors",
        "/api/v1/anchors/{anchor_id}",
        "/api/v1/spaces/{space_id}/laser-guide",
        "/api/v1/spaces/{space_id}/reference-sets",
        "/api/v1/reference-sets/{set_id}",
        "/api/v1/work-sessions/{session_id}/markers",
    ):
        assert path in paths
