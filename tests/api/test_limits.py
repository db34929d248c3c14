"""`meta` and `custom_props` are capped (ROBOSCOPE_MAX_META_BYTES, compact JSON): past the cap
a write is refused with 422 naming the field, and nothing is stored. Stored objects are never
refused on the way out, even after the cap is lowered."""

from __future__ import annotations

from typing import Any

import httpx

from roboscope.db.engine import Database
from roboscope.settings import Settings

from ..conftest import serving
from .conftest import SQUARE

LIMIT = 100
# {"k":"xxx…"} is exactly LIMIT bytes as compact JSON; one more character is over.
AT_LIMIT = {"k": "x" * (LIMIT - 8)}
OVER = {"k": "x" * (LIMIT - 7)}


def _refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_error"
    assert body["problems"][0]["field"] == field
    assert body["message"].startswith(f"{field}: ")
    assert f"limit of {LIMIT} " in body["message"]


async def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_meta_and_custom_props_are_capped(settings: Settings, database: Database) -> None:
    capped = settings.model_copy(update={"max_meta_bytes": LIMIT})
    async with serving(capped) as client:
        _refused(await client.post("/spaces", json={"key": "k", "name": "n", "meta": OVER}), "meta")
        space = await _created(
            await client.post("/spaces", json={"key": "k", "name": "n", "meta": AT_LIMIT})
        )
        _refused(await client.patch(f"/spaces/{space['id']}", json={"meta": OVER}), "meta")

        session_body = {"space_id": space["id"], "session_type": "inspection"}
        _refused(await client.post("/work-sessions", json={**session_body, "meta": OVER}), "meta")
        session = await _created(
            await client.post("/work-sessions", json={**session_body, "meta": AT_LIMIT})
        )
        _refused(await client.patch(f"/work-sessions/{session['id']}", json={"meta": OVER}), "meta")

        marker = {"work_session_id": session["id"], **SQUARE}
        for field in ("meta", "custom_props"):
            _refused(await client.post("/markers", json={**marker, field: OVER}), field)
            bulk = {"markers": [marker, {**marker, field: OVER}]}
            _refused(await client.post("/markers/bulk", json=bulk), f"markers.1.{field}")
        created = await _created(
            await client.post(
                "/markers", json={**marker, "meta": AT_LIMIT, "custom_props": AT_LIMIT}
            )
        )
        for field in ("meta", "custom_props"):
            _refused(await client.patch(f"/markers/{created['id']}", json={field: OVER}), field)
        details = {
            name: 1.0
            for name in (
                "center_location_long",
                "center_location_cross",
                "x_negative",
                "x_positive",
                "z_positive",
                "z_negative",
                "long_size",
                "cross_size",
            )
        }
        details_url = f"/markers/{created['id']}/details"
        _refused(
            await client.put(details_url, json={**details, "custom_props": OVER}), "custom_props"
        )
        guide = {"grid": [{"x": 0, "z": 0, "segment_length": 1}]}
        guide_url = f"/spaces/{space['id']}/laser-guide"
        _refused(await client.put(guide_url, json={**guide, "meta": OVER}), "meta")
        assert (await client.get(details_url)).status_code == 404
        assert (await client.get(guide_url)).status_code == 404

        # Nothing refused was stored or changed.
        assert [m["id"] for m in (await client.get("/markers")).json()] == [created["id"]]
        assert (await client.get(f"/markers/{created['id']}")).json() == created
        assert (await client.get(f"/work-sessions/{session['id']}")).json() == session
        assert (await client.get(f"/spaces/{space['id']}")).json() == space
        assert len((await client.get("/work-sessions")).json()) == 1

    # A lower cap later refuses new writes only: what is stored is still answered.
    lower = settings.model_copy(update={"max_meta_bytes": 10})
    async with serving(lower) as client:
        assert (await client.get(f"/markers/{created['id']}")).json() == created
        assert (await client.get("/spaces")).json() == [space]


async def test_no_cap_outside_a_request() -> None:
    """The SDK builds the same wire models: no server setting applies there."""
    from roboscope.wire import SpaceCreate

    assert SpaceCreate(key="k", name="n", meta={"k": "x" * 100_000}).meta["k"]


async def test_default_cap_refuses_a_megabytes_meta(client: httpx.AsyncClient) -> None:
    """The report's case, a 3.8 MB `meta`, is now past the 1 MiB body limit (413); a 0.9 MB
    one, valid JSON under the body limit, is refused by the `meta` cap."""
    meta = {"items": [{"id": i, "name": "n" * 10, "tags": ["a", "b"]} for i in range(80_000)]}
    response = await client.post("/spaces", json={"key": "big", "name": "Big", "meta": meta})
    assert response.status_code == 413
    meta = {"items": meta["items"][:19_000]}
    response = await client.post("/spaces", json={"key": "big", "name": "Big", "meta": meta})
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "meta"
    assert "limit of 65536 " in response.json()["message"]
    assert (await client.get("/spaces")).json() == []


def test_every_route_with_a_body_has_the_cap(settings: Settings) -> None:
    """The app mounts the cap, not each router (server/app.py): a new route with a body is
    capped without remembering anything."""
    from fastapi.routing import APIRoute, iter_route_contexts

    from roboscope.server.app import create_app
    from roboscope.server.params import JSON_LIMIT

    with_body = [
        context
        for context in iter_route_contexts(create_app(settings).routes)
        if isinstance(context.original_route, APIRoute)
        and context.original_route.body_field is not None
    ]
    assert len(with_body) > 20
    uncapped = [
        (context.methods, context.path)
        for context in with_body
        if JSON_LIMIT.dependency not in {depends.dependency for depends in context.dependencies}
    ]
    assert uncapped == []
