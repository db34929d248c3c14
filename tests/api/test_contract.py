"""docs/contract.md, end to end: what the iOS clients send, and what they can decode."""

from __future__ import annotations

import json
import uuid

import httpx

from .conftest import SQUARE, Factory
from .contract import assert_contract, assert_wire_response


async def test_a_full_ios_walkthrough_obeys_the_contract(client: httpx.AsyncClient) -> None:
    """Every call the app makes, shaped like the app makes it, checked against the rules."""
    seen: list[httpx.Response] = []

    async def call(method: str, url: str, body: object | None = None) -> httpx.Response:
        # The clients send a JSON content type on every request, body or not.
        content = json.dumps(body).replace("/", "\\/") if body is not None else None
        response = await client.request(method, url, content=content)
        seen.append(response)
        assert response.status_code < 400, f"{method} {url}: {response.text}"
        return response

    space = (
        await call(
            "POST", "/spaces", {"key": "hall", "name": "Hall", "preview_url": "https://cdn/x.png"}
        )
    ).json()
    space_id = space["id"].upper()
    session = (
        await call("POST", "/work-sessions", {"space_id": space_id, "session_type": "inspection"})
    ).json()
    session_id = session["id"].upper()
    marker = (
        await call("POST", "/markers", {"work_session_id": session_id, **SQUARE, "p4": [0, 0, 2e0]})
    ).json()
    marker_id = marker["id"].upper()
    await call("POST", "/markers/bulk", {"markers": [{"work_session_id": session_id, **SQUARE}]})
    await call("GET", "/spaces")
    await call("GET", f"/spaces/{space_id}")
    await call("GET", "/work-sessions", None)
    await call("GET", f"/work-sessions/{session_id}")
    await call("GET", "/markers")
    await call("GET", f"/markers?work_session_id={session_id}")
    await call("GET", f"/markers/{marker_id}")
    await call("PATCH", f"/markers/{marker_id}", {"p1": [1, 2, 3], "version": 0})
    await call("PATCH", f"/work-sessions/{session_id}", {"status": "active", "version": 0})
    await call("PATCH", f"/spaces/{space_id}", {"name": "Hall 2"})
    await call("DELETE", f"/markers/{marker_id}")
    await call("DELETE", f"/work-sessions/{session_id}")
    await call("DELETE", f"/spaces/{space_id}")
    for response in seen:
        assert_wire_response(response)


async def test_resources_carry_every_required_field(
    client: httpx.AsyncClient, make_marker: Factory
) -> None:
    marker = await make_marker()
    session = (await client.get(f"/work-sessions/{marker['work_session_id']}")).json()
    space = (await client.get(f"/spaces/{session['space_id']}")).json()
    required = {
        "space": (space, {"id", "key", "name", "meta", "is_active", "created_at", "updated_at"}),
        "session": (
            session,
            {
                "id",
                "space_id",
                "session_type",
                "status",
                "version",
                "meta",
                "created_at",
                "updated_at",
            },
        ),
        "marker": (
            marker,
            {
                "id",
                "work_session_id",
                "p1",
                "p2",
                "p3",
                "p4",
                "version",
                "meta",
                "custom_props",
                "created_at",
                "updated_at",
            },
        ),
    }
    for name, (body, fields) in required.items():
        missing = {f for f in fields if body.get(f) is None}
        assert not missing, f"{name} lacks {missing}"
    nullable_urls = {
        "description",
        "model_glb_url",
        "model_usdc_url",
        "preview_url",
        "scan_url",
        "ml_model_url",
    }
    assert nullable_urls <= space.keys()
    assert all(space[k] is None for k in nullable_urls)
    assert_contract([space, session, marker])


async def test_ids_are_uuids_parsed_case_insensitively(
    client: httpx.AsyncClient, make_marker: Factory
) -> None:
    marker = await make_marker()
    lower = await client.get(f"/markers/{marker['id'].lower()}")
    upper = await client.get(f"/markers/{marker['id'].upper()}")
    assert lower.json() == upper.json() == marker
    assert uuid.UUID(marker["id"]).version == 7


async def test_no_trailing_slash_redirects(client: httpx.AsyncClient) -> None:
    response = await client.get("/spaces/")
    assert response.status_code == 404
    assert "location" not in response.headers
    assert response.json()["error"] == "not_found"


async def test_errors_are_short_json_with_no_store(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/markers/not-a-uuid"),
        await client.get("/nothing-here"),
        await client.put("/spaces"),
        await client.post("/spaces", content=b"{"),
    ):
        assert 400 <= response.status_code < 500
        body = response.json()
        assert set(body) >= {"error", "message"}
        assert len(response.content) < 1024
        assert response.headers["cache-control"] == "no-store"


async def test_floats_with_exponents_and_whole_numbers(
    client: httpx.AsyncClient, make_session: Factory
) -> None:
    session = await make_session()
    points = '"p1": [1e-3, 2E2, -0.5e+1], "p2": [1, 2, 3], "p3": [0, 0, 0], "p4": [4, 5, 6]'
    body = f'{{"work_session_id": "{session["id"].upper()}", {points}}}'
    response = await client.post("/markers", content=body)
    assert response.status_code == 201
    assert response.json()["p1"] == [0.001, 200.0, -5.0]


async def test_openapi_document_is_served(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert "/api/v1/markers/bulk" in document["paths"]
    assert (await client.get("/docs")).status_code == 200
