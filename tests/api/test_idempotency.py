"""`Idempotency-Key` on creates: a repeated key replays the first answer and creates nothing."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from roboscope.db.engine import Database
from roboscope.db.migrate import upgrade
from roboscope.db.tables import idempotency_keys
from roboscope.settings import Settings

from ..conftest import require_service, serving
from ..tcp_proxy import TcpProxy
from .conftest import SQUARE, Factory

Json = dict[str, Any]


async def _creates(make_session: Factory, make_space: Factory) -> list[tuple[str, Json, str]]:
    """(path, body, list path) for every create that honours the key."""
    session = await make_session()
    space = await make_space()
    marker = {"work_session_id": session["id"], **SQUARE}
    return [
        ("/markers", marker, f"/markers?work_session_id={session['id']}"),
        (
            "/markers/bulk",
            {"markers": [marker, marker]},
            f"/markers?work_session_id={session['id']}",
        ),
        ("/work-sessions", {"space_id": space["id"], "session_type": "repair"}, "/work-sessions"),
        ("/spaces", {"key": "idem", "name": "Idem"}, "/spaces"),
    ]


async def test_a_repeated_key_replays_the_first_answer(
    client: httpx.AsyncClient, make_session: Factory, make_space: Factory
) -> None:
    for path, body, list_path in await _creates(make_session, make_space):
        before = len((await client.get(list_path)).json())
        headers = {"Idempotency-Key": f"retry-{path}"}
        first = await client.post(path, json=body, headers=headers)
        assert first.status_code == 201, first.text
        assert "idempotent-replayed" not in first.headers
        again = await client.post(path, json=body, headers=headers)
        assert again.status_code == 201
        assert again.content == first.content
        assert again.headers["idempotent-replayed"] == "true"
        assert again.headers["content-type"] == "application/json"
        created = len(first.json()) if isinstance(first.json(), list) else 1
        assert len((await client.get(list_path)).json()) == before + created, path


async def test_without_a_key_every_post_creates(
    client: httpx.AsyncClient, make_session: Factory
) -> None:
    session = await make_session()
    body = {"work_session_id": session["id"], **SQUARE}
    one = await client.post("/markers", json=body)
    two = await client.post("/markers", json=body)
    assert one.json()["id"] != two.json()["id"]


async def test_the_same_key_with_another_body_is_refused(
    client: httpx.AsyncClient, make_space: Factory
) -> None:
    headers = {"Idempotency-Key": "k-1"}
    first = await client.post("/spaces", json={"key": "a", "name": "A"}, headers=headers)
    assert first.status_code == 201
    other = await client.post("/spaces", json={"key": "b", "name": "B"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["error"] == "idempotency_key_reused"
    assert [s["key"] for s in (await client.get("/spaces")).json()] == ["a"]


async def test_keys_are_scoped_per_route(client: httpx.AsyncClient, make_space: Factory) -> None:
    """One key on two routes is two requests (a client may use one key per user action)."""
    space = await make_space()
    headers = {"Idempotency-Key": "shared"}
    session = await client.post(
        "/work-sessions", json={"space_id": space["id"], "session_type": "other"}, headers=headers
    )
    created_space = await client.post("/spaces", json={"key": "s", "name": "S"}, headers=headers)
    assert session.status_code == created_space.status_code == 201
    assert "idempotent-replayed" not in created_space.headers


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\tkey", "é"])
async def test_invalid_keys_are_422_and_create_nothing(
    client: httpx.AsyncClient, database: Database, key: str
) -> None:
    response = await client.post(
        "/spaces",
        json={"key": "k", "name": "K"},
        headers={b"Idempotency-Key": key.encode("utf-8")},
    )
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["message"]
    assert (await client.get("/spaces")).json() == []


async def test_longest_key_is_accepted(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "~" * 255}
    first = await client.post("/spaces", json={"key": "k", "name": "K"}, headers=headers)
    again = await client.post("/spaces", json={"key": "k", "name": "K"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"


async def test_a_refused_create_is_not_stored(
    client: httpx.AsyncClient, make_space: Factory
) -> None:
    """Only a committed create answers for its key: a 4xx stored nothing, so the repeat runs
    again (and succeeds once its reason is gone)."""
    await make_space(key="taken")
    headers = {"Idempotency-Key": "after-conflict"}
    body = {"key": "taken", "name": "T"}
    assert (await client.post("/spaces", json=body, headers=headers)).status_code == 409
    taken = (await client.get("/spaces", params={"key": "taken"})).json()[0]
    assert (await client.delete(f"/spaces/{taken['id']}")).status_code == 204
    retried = await client.post("/spaces", json=body, headers=headers)
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers


async def _key_rows(database: Database) -> int:
    async with database.read() as conn:
        count: int = (
            await conn.execute(select(func.count()).select_from(idempotency_keys))
        ).scalar_one()
    return count


async def test_concurrent_duplicates_create_once(
    client: httpx.AsyncClient, database: Database, make_session: Factory
) -> None:
    """Twenty copies of one keyed bulk create at once: one creates, the rest replay it."""
    session = await make_session()
    body = {
        "markers": [
            {"work_session_id": session["id"], **SQUARE, "label": str(i)} for i in range(20)
        ]
    }
    headers = {"Idempotency-Key": "burst"}
    answers = await asyncio.gather(
        *(client.post("/markers/bulk", json=body, headers=headers) for _ in range(20))
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.content for a in answers}) == 1
    replayed = [a for a in answers if a.headers.get("idempotent-replayed") == "true"]
    assert len(replayed) == 19
    listed = (await client.get("/markers", params={"work_session_id": session["id"]})).json()
    assert listed == answers[0].json()
    assert await _key_rows(database) == 1


async def test_concurrent_different_keys_all_create(
    client: httpx.AsyncClient, make_space: Factory
) -> None:
    space = await make_space()
    body = {"space_id": space["id"], "session_type": "inspection"}
    answers = await asyncio.gather(
        *(
            client.post("/work-sessions", json=body, headers={"Idempotency-Key": f"k{n}"})
            for n in range(15)
        )
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 15


async def test_expired_keys_create_anew_and_are_purged(
    settings: Settings, database: Database, app: FastAPI
) -> None:
    """Past the retention a key is free again, and old keys are deleted lazily."""
    brief = settings.model_copy(update={"idempotency_retention_hours": 1e-9})
    async with serving(brief) as client:
        headers = {"Idempotency-Key": "short-lived"}
        first = await client.post("/spaces", json={"key": "a", "name": "A"}, headers=headers)
        # Same key, other body: the old key has expired, so this is a new request.
        second = await client.post("/spaces", json={"key": "b", "name": "B"}, headers=headers)
        assert first.status_code == second.status_code == 201
        assert "idempotent-replayed" not in second.headers
        for n in range(3):
            await client.post(
                "/spaces", json={"key": f"c{n}", "name": "C"}, headers={"Idempotency-Key": f"c{n}"}
            )
    # Each keyed create purges the expired keys before it: only the newest can remain.
    assert await _key_rows(database) <= 1


async def test_a_retry_learns_of_its_create_after_the_lock_is_gone(
    client: httpx.AsyncClient, make_session: Factory
) -> None:
    """A fenced create whose answer was lost: the retry gets the marker it made, not a 423,
    even though the lock was released in between."""
    session = await make_session()
    grant = (await client.post(f"/locks/{session['id']}", json={"ttl_seconds": 30})).json()
    headers = {"X-Lock-Token": grant["token"], "Idempotency-Key": "fenced"}
    body = {"work_session_id": session["id"], **SQUARE}
    first = await client.post("/markers", json=body, headers=headers)
    assert first.status_code == 201
    released = await client.request(
        "DELETE", f"/locks/{session['id']}", json={"token": grant["token"]}
    )
    assert released.json()["released"] is True
    again = await client.post("/markers", json=body, headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()
    # A new request with that token is refused: the lock is gone.
    fresh = await client.post("/markers", json=body, headers={"X-Lock-Token": grant["token"]})
    assert fresh.status_code == 423


async def test_a_create_answered_503_is_retried_safely(tmp_path: Path) -> None:
    """The database drops out under a keyed create: the 503 committed nothing, and retrying
    with the key creates the space exactly once, however often the client retries."""
    real = make_url(require_service("ROBOSCOPE_TEST_DATABASE_URL", "PostgreSQL"))
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432)
    await proxy.start()
    url = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    await asyncio.to_thread(upgrade, real.render_as_string(hide_password=False))
    quick = Settings(
        database_url=url,
        redis_url=os.environ.get("ROBOSCOPE_TEST_REDIS_URL"),
        data_dir=tmp_path,
        database_timeout_seconds=2,
    )
    try:
        async with serving(quick) as client:
            unique = uuid.uuid4().hex
            headers = {"Idempotency-Key": unique}
            body = {"key": f"outage-{unique}", "name": "O"}
            await proxy.stop()
            down = await client.post("/spaces", json=body, headers=headers)
            assert down.status_code == 503
            await proxy.start()
            retried = await client.post("/spaces", json=body, headers=headers)
            assert retried.status_code == 201
            assert "idempotent-replayed" not in retried.headers
            again = await client.post("/spaces", json=body, headers=headers)
            assert again.headers["idempotent-replayed"] == "true"
            assert again.json()["id"] == retried.json()["id"]
            listed = (await client.get("/spaces", params={"key": body["key"]})).json()
            assert [s["id"] for s in listed] == [retried.json()["id"]]
            await client.delete(f"/spaces/{retried.json()['id']}")
    finally:
        await proxy.stop()
