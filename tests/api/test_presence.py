"""Presence over HTTP, as the iOS guide's PresenceService uses it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from asgi_lifespan import LifespanManager

from roboscope.server.app import create_app
from roboscope.settings import Settings

from ..conftest import serving
from ..waiting import until
from .contract import assert_wire_response


def session_path() -> str:
    return f"/presence/{str(uuid.uuid4()).upper()}"


async def test_heartbeat_list_and_leave(client: httpx.AsyncClient) -> None:
    path = session_path()
    beat = await client.post(path, json={"user_id": "A1B2-user"})
    assert beat.status_code == 200
    assert_wire_response(beat)
    second = (await client.post(path, json={"user_id": "Zoë 🚀"})).json()
    assert second["user_id"] == "Zoë 🚀" and second["device_id"] == "default"
    assert (second["user_count"], second["device_count"]) == (2, 2)
    listed = await client.get(path)
    assert_wire_response(listed)
    body = listed.json()
    assert body["users"] == ["A1B2-user", "Zoë 🚀"]
    assert body["user_count"] == 2 and body["device_count"] == 2
    member = body["members"][0]
    assert member["user_id"] == "A1B2-user"
    assert member["devices"] == ["default"]
    assert member["expires_at"] >= member["last_seen"]

    left = await client.request("DELETE", f"{path}/A1B2-user")
    assert left.status_code == 200
    assert left.json()["users"] == ["Zoë 🚀"]
    assert (await client.get(path)).json()["users"] == ["Zoë 🚀"]


async def test_user_ids_are_verbatim_even_with_slashes(client: httpx.AsyncClient) -> None:
    path = session_path()
    user = "Team/A user?#"
    await client.post(path, json={"user_id": user})
    assert (await client.get(path)).json()["users"] == [user]
    await client.delete(f"{path}/{quote(user, safe='')}")
    assert (await client.get(path)).json()["users"] == []


async def test_two_devices_of_one_user(client: httpx.AsyncClient) -> None:
    path = session_path()
    for device in ("ipad", "iphone"):
        await client.post(
            path,
            json={"user_id": "u", "device_id": device, "display_name": "Ann", "meta": {"v": 1}},
        )
    body = (await client.get(path)).json()
    assert body["users"] == ["u"]
    assert body["user_count"] == 1 and body["device_count"] == 2
    assert body["members"][0]["devices"] == ["ipad", "iphone"]
    assert body["members"][0]["display_name"] == "Ann"
    assert body["members"][0]["meta"] == {"v": 1}

    one_left = await client.delete(f"{path}/u", params={"device_id": "ipad"})
    assert one_left.json()["users"] == ["u"]
    assert one_left.json()["device_count"] == 1
    gone = await client.delete(f"{path}/u", params={"device_id": "iphone"})
    assert gone.json()["users"] == []


async def test_bad_heartbeats(client: httpx.AsyncClient) -> None:
    path = session_path()
    bodies: list[dict[str, Any]] = [
        {},
        {"user_id": ""},
        {"user_id": 42},
        {"user_id": "u", "meta": {"big": "x" * 65536}},  # over ROBOSCOPE_MAX_META_BYTES
        {"user_id": "u", "meta": {"n": float("nan")}},
    ]
    for body in bodies:
        response = (
            await client.post(path, json=body)
            if "n" not in body.get("meta", {})
            else (await client.post(path, content=b'{"user_id": "u", "meta": {"n": NaN}}'))
        )
        assert response.status_code == 422, (body, response.text)
    assert (await client.post("/presence/not-a-uuid", json={"user_id": "u"})).status_code == 422
    assert (await client.get(path)).json()["users"] == []


async def test_meta_is_capped_at_max_meta_bytes(settings: Settings, tmp_path: Path) -> None:
    """The one cap on free-form objects (ROBOSCOPE_MAX_META_BYTES, compact JSON), not one of
    its own: 2 KB of meta is fine by default, and a lowered cap applies to presence too."""
    path = session_path()
    roomy = {"user_id": "u", "meta": {"k": "x" * 2000}}
    async with serving(settings.model_copy(update={"data_dir": tmp_path})) as client:
        assert (await client.post(path, json=roomy)).status_code == 200
        assert (await client.get(path)).json()["members"][0]["meta"] == roomy["meta"]
    limit = 100
    at_limit, over = {"k": "x" * (limit - 8)}, {"k": "x" * (limit - 7)}
    capped = settings.model_copy(update={"max_meta_bytes": limit, "data_dir": tmp_path})
    async with serving(capped) as client:
        refused = await client.post(path, json={"user_id": "v", "meta": over})
        assert refused.status_code == 422, refused.text
        assert refused.json()["problems"][0]["field"] == "meta"
        assert f"over the limit of {limit} (ROBOSCOPE_MAX_META_BYTES)" in refused.json()["message"]
        assert "v" not in (await client.get(path)).json()["users"]  # nothing stored
        accepted = await client.post(path, json={"user_id": "v", "meta": at_limit})
        assert accepted.status_code == 200, accepted.text


@pytest.fixture
async def short_ttl_client(settings: Settings, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    quick = settings.model_copy(update={"presence_ttl_seconds": 0.5, "data_dir": tmp_path})
    app = create_app(quick)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://roboscope.test/api/v1"
        ) as client:
            yield client


async def test_silent_users_expire(short_ttl_client: httpx.AsyncClient) -> None:
    path = session_path()
    await short_ttl_client.post(path, json={"user_id": "quiet"})
    await short_ttl_client.post(path, json={"user_id": "chatty"})

    async def only_chatty_left() -> bool:  # chatty beats on, well within the TTL
        await short_ttl_client.post(path, json={"user_id": "chatty"})
        return bool((await short_ttl_client.get(path)).json()["users"] == ["chatty"])

    async def nobody_left() -> bool:
        body = (await short_ttl_client.get(path)).json()
        return bool(body == {"users": [], "members": [], "user_count": 0, "device_count": 0})

    await until(only_chatty_left)
    await until(nobody_left)


async def test_a_full_session_refuses_new_devices_only(settings: Settings, tmp_path: Path) -> None:
    capped = settings.model_copy(
        update={"presence_max_devices_per_session": 3, "data_dir": tmp_path}
    )
    path = session_path()
    async with serving(capped) as client:
        for device in ("a", "b", "c"):
            beat = await client.post(path, json={"user_id": "u", "device_id": device})
            assert beat.status_code == 200
        full = await client.post(path, json={"user_id": "v"})
        assert full.status_code == 409
        assert full.json() == {
            "error": "presence_full",
            "message": full.json()["message"],
            "max_devices": 3,
        }
        assert "3 devices" in full.json()["message"]
        again = await client.post(path, json={"user_id": "u", "device_id": "a"})
        assert again.status_code == 200 and again.json()["device_count"] == 3
        assert (await client.get(path)).json()["users"] == ["u"]

        await client.delete(f"{path}/u", params={"device_id": "b"})
        assert (await client.post(path, json={"user_id": "v"})).status_code == 200
        assert (await client.get(path)).json()["users"] == ["u", "v"]
