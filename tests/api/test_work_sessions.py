from __future__ import annotations

import asyncio

import httpx

from .conftest import Clock, Factory

MISSING = "00000000-0000-7000-8000-000000000000"


async def test_create_defaults_to_draft_at_version_0(make_session: Factory) -> None:
    session = await make_session()
    assert session["status"] == "draft"
    assert session["version"] == 0
    assert session["meta"] == {}
    assert session["started_at"] is None


async def test_filters(
    client: httpx.AsyncClient, make_space: Factory, make_session: Factory
) -> None:
    space = await make_space()
    a = await make_session(space_id=space["id"], status="active", session_type="repair")
    b = await make_session(space_id=space["id"], session_type="other")
    c = await make_session()

    async def ids(**params: str) -> list[str]:
        return [s["id"] for s in (await client.get("/work-sessions", params=params)).json()]

    assert await ids() == [a["id"], b["id"], c["id"]]
    assert await ids(space_id=space["id"].upper()) == [a["id"], b["id"]]
    assert await ids(status="active") == [a["id"]]
    assert await ids(session_type="other") == [b["id"]]
    assert await ids(space_id=space["id"], status="draft", session_type="other") == [b["id"]]
    assert await ids(space_id=MISSING) == []


async def test_unknown_enum_values_are_422(client: httpx.AsyncClient, make_space: Factory) -> None:
    space = await make_space()
    for body in (
        {"space_id": space["id"], "session_type": "Inspection"},
        {"space_id": space["id"], "session_type": "inspection", "status": "closed"},
    ):
        response = await client.post("/work-sessions", json=body)
        assert response.status_code == 422
        assert response.json()["error"] == "validation_error"
    assert (await client.get("/work-sessions", params={"status": "DONE"})).status_code == 422
    assert (await client.get("/work-sessions")).json() == []


async def test_session_for_unknown_space_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/work-sessions", json={"space_id": MISSING, "session_type": "inspection"}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_reference"
    assert (await client.get("/work-sessions")).json() == []


async def test_patch_bumps_version_by_one_and_checks_it(
    client: httpx.AsyncClient, make_session: Factory
) -> None:
    session = await make_session()
    url = f"/work-sessions/{session['id']}"
    first = await client.patch(url, json={"status": "active", "version": 0})
    assert first.status_code == 200
    assert first.json()["version"] == 1
    assert first.json()["status"] == "active"

    stale = await client.patch(url, json={"status": "done", "version": 0})
    assert stale.status_code == 409
    assert stale.json() == {
        "error": "version_conflict",
        "message": stale.json()["message"],
        "current_version": 1,
    }
    assert (await client.get(url)).json()["status"] == "active"

    unchecked = await client.patch(url, json={"status": "archived"})
    assert unchecked.json()["version"] == 2


async def test_any_status_transition_and_space_move(
    client: httpx.AsyncClient, make_session: Factory, make_space: Factory
) -> None:
    session = await make_session(status="archived")
    other = await make_space()
    url = f"/work-sessions/{session['id']}"
    moved = await client.patch(
        url,
        json={
            "status": "draft",
            "space_id": other["id"].upper(),
            "started_at": "2026-11-28T10:00:00.5+01:00",
            "completed_at": "2026-11-28T09:30:00Z",
        },
    )
    assert moved.status_code == 200
    body = moved.json()
    assert body["status"] == "draft"
    assert body["space_id"] == other["id"]
    assert body["started_at"] == "2026-11-28T09:00:00Z"
    assert body["completed_at"] == "2026-11-28T09:30:00Z"
    refused = await client.patch(url, json={"space_id": MISSING})
    assert refused.status_code == 422
    assert (await client.get(url)).json()["version"] == 1


async def test_patch_unknown_session_is_404(client: httpx.AsyncClient) -> None:
    response = await client.patch(
        f"/work-sessions/{MISSING}", json={"status": "done", "version": 0}
    )
    assert response.status_code == 404


async def test_marker_writes_do_not_bump_session_version(
    client: httpx.AsyncClient, make_marker: Factory
) -> None:
    marker = await make_marker()
    await client.patch(f"/markers/{marker['id']}", json={"label": "x", "version": 0})
    await client.delete(f"/markers/{marker['id']}")
    session = (await client.get(f"/work-sessions/{marker['work_session_id']}")).json()
    assert session["version"] == 0


async def test_delete_cascades_to_markers_only_of_that_session(
    client: httpx.AsyncClient, make_session: Factory, make_marker: Factory
) -> None:
    doomed = await make_session()
    kept = await make_session()
    for _ in range(3):
        await make_marker(work_session_id=doomed["id"])
    survivor = await make_marker(work_session_id=kept["id"])

    assert (await client.delete(f"/work-sessions/{doomed['id'].upper()}")).status_code == 204
    assert (await client.get("/markers", params={"work_session_id": doomed["id"]})).json() == []
    assert (await client.get("/markers")).json() == [survivor]
    assert (await client.delete(f"/work-sessions/{doomed['id']}")).status_code == 404


async def test_server_stamps_started_at_and_completed_at(
    client: httpx.AsyncClient, make_session: Factory, clock: Clock
) -> None:
    session = await make_session()
    url = f"/work-sessions/{session['id']}"
    assert session["started_at"] is None and session["completed_at"] is None

    active = (await client.patch(url, json={"status": "active"})).json()
    assert active["started_at"] is not None
    assert active["started_at"] == active["updated_at"]
    assert active["completed_at"] is None

    clock.advance(2)  # timestamps have whole seconds on the wire
    # Becoming active again (after a pause) keeps the first start.
    await client.patch(url, json={"status": "draft"})
    again = (await client.patch(url, json={"status": "active"})).json()
    assert again["started_at"] == active["started_at"]

    done = (await client.patch(url, json={"status": "done"})).json()
    assert done["completed_at"] == done["updated_at"]
    assert done["completed_at"] > done["started_at"]
    assert done["started_at"] == active["started_at"]

    # Saying "done" again, or editing something else, does not move the completion time.
    clock.advance(2)
    repeated = (await client.patch(url, json={"status": "done", "meta": {"n": 1}})).json()
    assert repeated["completed_at"] == done["completed_at"]
    assert repeated["version"] == done["version"] + 1


async def test_sessions_created_active_or_done_are_stamped(make_session: Factory) -> None:
    active = await make_session(status="active")
    assert active["started_at"] == active["created_at"]
    assert active["completed_at"] is None
    done = await make_session(status="done")
    assert done["completed_at"] == done["created_at"]
    # It never was active here: no invented start.
    assert done["started_at"] is None
    draft = await make_session(status="draft")
    assert draft["started_at"] is None and draft["completed_at"] is None


async def test_client_timestamps_win_over_the_stamps(
    client: httpx.AsyncClient, make_session: Factory
) -> None:
    created = await make_session(status="active", started_at="2026-01-02T03:04:05Z")
    assert created["started_at"] == "2026-01-02T03:04:05Z"
    url = f"/work-sessions/{created['id']}"
    done = await client.patch(
        url, json={"status": "done", "completed_at": "2026-01-02T05:00:00+02:00"}
    )
    assert done.json()["completed_at"] == "2026-01-02T03:00:00Z"
    # An explicit null in the same PATCH is the client's value too.
    reopened = await make_session(status="draft")
    body = (
        await client.patch(
            f"/work-sessions/{reopened['id']}", json={"status": "active", "started_at": None}
        )
    ).json()
    assert body["started_at"] is None


async def test_stamps_follow_the_stored_status_under_concurrency(
    client: httpx.AsyncClient, make_session: Factory
) -> None:
    """Many devices start the same session at once: one start time, the first one."""
    session = await make_session()
    url = f"/work-sessions/{session['id']}"
    answers = await asyncio.gather(
        *(client.patch(url, json={"status": "active"}) for _ in range(10))
    )
    assert all(a.status_code == 200 for a in answers)
    starts = {a.json()["started_at"] for a in answers}
    assert len(starts) == 1
    assert (await client.get(url)).json()["started_at"] in starts
