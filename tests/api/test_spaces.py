from __future__ import annotations

import httpx

from .conftest import Clock, Factory


async def test_create_get_and_list(client: httpx.AsyncClient, make_space: Factory) -> None:
    space = await make_space(name="Hall A", description="north wing", meta={"floor": 2})
    assert space["is_active"] is True
    assert space["meta"] == {"floor": 2}
    fetched = (await client.get(f"/spaces/{space['id'].upper()}")).json()
    assert fetched == space
    listed = (await client.get("/spaces")).json()
    assert listed == [space]


async def test_inactive_spaces_are_hidden_unless_asked(
    client: httpx.AsyncClient, make_space: Factory
) -> None:
    active = await make_space()
    inactive = await make_space(is_active=False)
    assert [s["id"] for s in (await client.get("/spaces")).json()] == [active["id"]]
    everything = (await client.get("/spaces", params={"include_inactive": "true"})).json()
    assert [s["id"] for s in everything] == [active["id"], inactive["id"]]


async def test_key_filter(client: httpx.AsyncClient, make_space: Factory) -> None:
    await make_space(key="a")
    b = await make_space(key="b")
    assert (await client.get("/spaces", params={"key": "b"})).json() == [b]
    assert (await client.get("/spaces", params={"key": "zzz"})).json() == []


async def test_duplicate_key_is_a_conflict(client: httpx.AsyncClient, make_space: Factory) -> None:
    await make_space(key="dup")
    response = await client.post("/spaces", json={"key": "dup", "name": "again"})
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"


async def test_patch_changes_every_field_including_is_active(
    client: httpx.AsyncClient, make_space: Factory, clock: Clock
) -> None:
    space = await make_space()
    clock.advance(2)  # timestamps have whole seconds on the wire
    patch = {
        "name": "Renamed",
        "description": "d",
        "model_glb_url": "https://cdn.example/a.glb",
        "model_usdc_url": "https://cdn.example/a.usdc",
        "preview_url": "https://cdn.example/a.png",
        "scan_url": "https://cdn.example/scan",
        "ml_model_url": "https://cdn.example/model.mlmodel",
        "meta": {"k": [1, 2]},
        "is_active": False,
    }
    updated = (await client.patch(f"/spaces/{space['id']}", json=patch)).json()
    for name, value in patch.items():
        assert updated[name] == value
    assert updated["updated_at"] > space["updated_at"]
    assert updated["created_at"] == space["created_at"]


async def test_patch_with_same_values_keeps_updated_at(
    client: httpx.AsyncClient, make_space: Factory, clock: Clock
) -> None:
    space = await make_space(name="Same", meta={"a": 1})
    clock.advance(2)
    response = await client.patch(f"/spaces/{space['id']}", json={"name": "Same", "meta": {"a": 1}})
    assert response.status_code == 200
    assert response.json()["updated_at"] == space["updated_at"]


async def test_patch_can_clear_urls_but_not_required_fields(
    client: httpx.AsyncClient, make_space: Factory
) -> None:
    space = await make_space(preview_url="https://x/p.png")
    cleared = await client.patch(f"/spaces/{space['id']}", json={"preview_url": None})
    assert cleared.json()["preview_url"] is None
    refused = await client.patch(f"/spaces/{space['id']}", json={"name": None})
    assert refused.status_code == 422
    assert (await client.get(f"/spaces/{space['id']}")).json()["name"] == space["name"]


async def test_empty_url_is_stored_as_null(client: httpx.AsyncClient, make_space: Factory) -> None:
    space = await make_space(scan_url="", ml_model_url="")
    assert space["scan_url"] is None
    assert space["ml_model_url"] is None


async def test_unknown_space_is_404(client: httpx.AsyncClient) -> None:
    missing = "00000000-0000-7000-8000-000000000000"
    for response in (
        await client.get(f"/spaces/{missing}"),
        await client.patch(f"/spaces/{missing}", json={"name": "x"}),
        await client.delete(f"/spaces/{missing}"),
    ):
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


async def test_delete_space_deletes_its_sessions_and_markers(
    client: httpx.AsyncClient, make_marker: Factory
) -> None:
    marker = await make_marker()
    session = (await client.get(f"/work-sessions/{marker['work_session_id']}")).json()
    assert (await client.delete(f"/spaces/{session['space_id']}")).status_code == 204
    assert (await client.get(f"/spaces/{session['space_id']}")).status_code == 404
    assert (await client.get(f"/work-sessions/{session['id']}")).status_code == 404
    assert (await client.get(f"/markers/{marker['id']}")).status_code == 404
