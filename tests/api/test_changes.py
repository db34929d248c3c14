"""The change log: every write recorded with the object the API answered, exact catch-up under
concurrent writers, paging, and 410 past retention (each test on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx

from roboscope.db.engine import Database
from roboscope.services import changes

from .conftest import SQUARE, Factory, Json


async def _log(client: httpx.AsyncClient, **params: Any) -> list[Json]:
    """The whole audit trail matching `params`, page by page (from the oldest change kept:
    other tests' retention runs may have removed the first ones)."""
    found: list[Json] = []
    since: dict[str, int] = {}
    while True:
        page = await client.get("/events", params={**params, **since, "limit": 7})
        assert page.status_code == 200, page.text
        body = page.json()
        found += body["changes"]
        since = {"since": body["cursor"]}
        if not body["has_more"]:
            return found


def _summary(log: list[Json]) -> list[tuple[str, str]]:
    return [(c["entity"], c["op"]) for c in log]


async def test_every_write_is_recorded_with_what_the_api_answered(
    client: httpx.AsyncClient, make_space: Factory
) -> None:
    space = await make_space()
    session = (
        await client.post(
            "/work-sessions", json={"space_id": space["id"], "session_type": "inspection"}
        )
    ).json()
    sid = session["id"]
    marker = (await client.post("/markers", json={"work_session_id": sid, **SQUARE})).json()
    moved = (await client.patch(f"/markers/{marker['id']}", json={"p1": [0.5, 0, 0]})).json()
    details = (await client.post(f"/markers/{marker['id']}/details/calculate", json={})).json()
    anchor = (
        await client.post(
            "/anchors",
            json={"session_id": sid, "run": 1, "local_z": 2.0, "world_position": SQUARE["p2"]},
        )
    ).json()
    guide = (await client.put(f"/spaces/{space['id']}/laser-guide", json={"grid": []})).json()
    assert (await client.delete(f"/markers/{marker['id']}")).status_code == 204
    assert (await client.delete(f"/work-sessions/{sid}")).status_code == 204

    log = await _log(client)
    assert _summary(log) == [
        ("space", "created"),
        ("work_session", "created"),
        ("marker", "created"),
        ("marker", "updated"),
        ("details", "created"),
        ("anchor", "created"),
        ("laser_guide", "created"),
        ("marker", "deleted"),
        ("work_session", "deleted"),
    ]
    assert [c["cursor"] for c in log] == sorted(c["cursor"] for c in log)
    assert log[0]["data"] == space and log[1]["data"] == session
    assert log[3]["data"] == moved and log[3]["version"] == 1
    assert log[4]["data"] == details and log[4]["work_session_id"] == sid
    assert log[5]["data"] == anchor and log[6]["data"] == guide
    assert log[7]["data"] == {"id": marker["id"], "work_session_id": sid}
    # Entities inside a session carry its space too, so the trail filters by either.
    assert {c["space_id"] for c in log} == {space["id"]}
    assert [c["entity"] for c in await _log(client, work_session_id=sid)] == [
        "work_session",
        "marker",
        "marker",
        "details",
        "anchor",
        "marker",
        "work_session",
    ]
    assert _summary(await _log(client, entity="marker", entity_id=marker["id"])) == [
        ("marker", "created"),
        ("marker", "updated"),
        ("marker", "deleted"),
    ]


async def test_refused_writes_record_nothing(
    client: httpx.AsyncClient, make_marker: Factory
) -> None:
    marker = await make_marker()
    before = await _log(client)
    stale = await client.patch(f"/markers/{marker['id']}", json={"label": "x", "version": 7})
    assert stale.status_code == 409
    bad = await client.post(
        "/markers/bulk",
        json={
            "markers": [
                {**SQUARE, "work_session_id": marker["work_session_id"]},
                {**SQUARE, "work_session_id": "00000000-0000-7000-8000-000000000000"},
            ]
        },
    )
    assert bad.status_code == 422
    assert await _log(client) == before


async def test_session_catch_up_pages_in_order_and_tells_the_next_cursor(
    client: httpx.AsyncClient, make_session: Factory
) -> None:
    session, other = await make_session(), await make_session()
    url = f"/work-sessions/{session['id']}/changes"
    start = (await client.get(url)).json()["cursor"]
    bodies = [{"work_session_id": session["id"], **SQUARE, "label": f"m{i}"} for i in range(5)]
    await client.post("/markers/bulk", json={"markers": bodies})
    await client.post("/markers", json={"work_session_id": other["id"], **SQUARE})

    first = (await client.get(url, params={"since": start, "limit": 3})).json()
    assert [c["data"]["label"] for c in first["changes"]] == ["m0", "m1", "m2"]
    assert first["has_more"] is True
    second = (await client.get(url, params={"since": first["cursor"], "limit": 3})).json()
    assert [c["data"]["label"] for c in second["changes"]] == ["m3", "m4"]
    assert second["has_more"] is False
    # Nothing new: the same cursor comes back (the other session's change is not this one's).
    again = (await client.get(url, params={"since": second["cursor"]})).json()
    assert again["changes"] == [] and again["cursor"] >= second["cursor"]


WRITERS = 8
MUTATIONS_PER_WRITER = 25


async def _writer(client: httpx.AsyncClient, session_id: str, n: int) -> list[tuple[str, int]]:
    """Create a marker, then PATCH it; answers every (marker id, version) it wrote."""
    body = {"work_session_id": session_id, **SQUARE, "label": f"w{n}"}
    marker = (await client.post("/markers", json=body)).json()
    written = [(marker["id"], 0)]
    for step in range(MUTATIONS_PER_WRITER - 1):
        answer = await client.patch(f"/markers/{marker['id']}", json={"label": f"w{n}-{step}"})
        assert answer.status_code == 200, answer.text
        written.append((marker["id"], answer.json()["version"]))
        await asyncio.sleep(random.uniform(0, 0.002))
    return written


async def test_a_reader_polling_during_concurrent_writes_misses_and_repeats_nothing(
    client: httpx.AsyncClient, make_session: Factory
) -> None:
    """The classic sequence gap: with cursors from an autoincrement, a transaction that got
    cursor n can commit after one that got n+1, and a reader that already moved past n+1
    never sees n. Here a reader polls as fast as it can while 8 writers commit."""
    session = await make_session()
    url = f"/work-sessions/{session['id']}/changes"
    since = (await client.get(url)).json()["cursor"]
    seen: list[Json] = []
    done = asyncio.Event()

    async def reader() -> None:
        nonlocal since
        while True:
            finished = done.is_set()
            page = (await client.get(url, params={"since": since})).json()
            seen.extend(page["changes"])
            since = page["cursor"]
            if finished and not page["has_more"]:
                return

    reading = asyncio.create_task(reader())
    written = await asyncio.gather(*(_writer(client, session["id"], n) for n in range(WRITERS)))
    done.set()
    await reading

    got = [(c["entity_id"], c["version"]) for c in seen]
    assert len(got) == len(set(got)), "a change was delivered twice"
    assert sorted(got) == sorted(pair for one in written for pair in one), "a change was missed"
    assert [c["cursor"] for c in seen] == sorted(c["cursor"] for c in seen)
    for one in written:  # per entity, versions arrive in order
        versions = [c["version"] for c in seen if c["entity_id"] == one[0][0]]
        assert versions == list(range(MUTATIONS_PER_WRITER))


async def test_a_cursor_older_than_the_kept_log_gets_410(
    client: httpx.AsyncClient, database: Database, make_session: Factory
) -> None:
    session = await make_session()
    base = (await client.get("/events")).json()["cursor"]
    for i in range(10):
        body = {"work_session_id": session["id"], **SQUARE, "label": str(i)}
        assert (await client.post("/markers", json=body)).status_code == 201
    await changes.purge_expired(database, changes.Retention(max_count=5, batch=3))
    gone = await client.get(f"/work-sessions/{session['id']}/changes", params={"since": base})
    assert gone.status_code == 410
    assert gone.json()["error"] == "cursor_expired"
    assert "reload" in gone.json()["message"]
    kept = (await client.get("/events", params={"since": base + 5})).json()["changes"]
    assert [c["data"]["label"] for c in kept] == ["5", "6", "7", "8", "9"]


AHEAD = (1, 999_999_999, 2**63 - 1, 2**63, 2**64, 10**30)
"""How far past the newest cursor: a made-up number, and past the databases' integer range."""


def _reload_required(response: httpx.Response) -> None:
    assert response.status_code == 410, response.text
    body = response.json()
    assert body["error"] == "cursor_expired"
    assert "reload" in body["message"]
    assert isinstance(body["oldest_cursor"], int)


async def test_a_cursor_ahead_of_the_log_gets_410_everywhere(
    client: httpx.AsyncClient, make_session: Factory
) -> None:
    """A cursor past every one issued (a device that synced with the server before it was
    restored from an older backup) would otherwise hear "nothing new" until the log caught
    up, and miss every change meanwhile: the catch-up, the audit trail and the stream (before
    it starts) all answer it like an expired one. The newest cursor itself is fine."""
    session = await make_session()
    newest = (await client.get("/events")).json()["cursor"]
    readers = {
        "events": "/events",
        "changes": f"/work-sessions/{session['id']}/changes",
        "stream": f"/work-sessions/{session['id']}/events",
    }
    for name, url in readers.items():
        for past in AHEAD:
            _reload_required(await client.get(url, params={"since": newest + past}))
        if name == "stream":
            for past in AHEAD:
                headers = {"Last-Event-ID": str(newest + past)}
                _reload_required(await client.get(url, headers=headers))
            continue
        at_newest = (await client.get(url, params={"since": newest})).json()
        assert at_newest["changes"] == [] and at_newest["cursor"] == newest


async def test_the_newest_cursor_stays_valid_when_retention_removed_its_record(
    client: httpx.AsyncClient, database: Database, make_session: Factory
) -> None:
    """Retention may remove every record, the newest too: a reader that saw it is up to date
    (not ahead, not expired), and the next change comes after it."""
    session = await make_session()
    url = f"/work-sessions/{session['id']}/changes"
    newest = (await client.get(url)).json()["cursor"]
    await changes.purge_expired(database, changes.Retention(max_count=0))
    assert (await client.get("/events")).json() == {
        "changes": [],
        "cursor": newest,
        "has_more": False,
    }
    caught_up = (await client.get(url, params={"since": newest})).json()
    assert caught_up == {"changes": [], "cursor": newest, "has_more": False}
    _reload_required(await client.get(url, params={"since": newest - 1}))
    _reload_required(await client.get(url, params={"since": newest + 1}))

    marker = {"work_session_id": session["id"], **SQUARE}
    assert (await client.post("/markers", json=marker)).status_code == 201
    [created] = (await client.get(url, params={"since": newest})).json()["changes"]
    assert created["cursor"] == newest + 1


async def test_a_stream_is_refused_as_json_before_it_starts(
    client: httpx.AsyncClient, make_session: Factory
) -> None:
    missing = await client.get("/work-sessions/00000000-0000-7000-8000-000000000000/events")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    session = await make_session()
    url = f"/work-sessions/{session['id']}/events"
    for not_a_cursor in (b"not-a-cursor", b"-1", b"1.5", b"\xb2"):  # (\xb2, "²", is a digit)
        bad = await client.get(url, headers=[(b"Last-Event-ID", not_a_cursor)])
        assert bad.status_code == 422, not_a_cursor
    assert (await client.get(url, params={"ping": 0})).status_code == 422
