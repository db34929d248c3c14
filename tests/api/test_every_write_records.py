"""Every write records a change: checked over the whole API, not held by convention.

Each service records its own change (`changes.record` at some twenty call sites), so a new
write route that forgets to is easy to write. This test walks the OpenAPI document: every
`POST`, `PUT`, `PATCH` and `DELETE` route is either a data write with a request below, which
must add the named entry to the change log, or on the short list of routes that change no
stored data (presence, locks, tokens, stream tokens). A route on neither list fails the
first test, so a new route cannot slip past. Each write is made with a token of user
`alice`, whom its change must name as its actor: every write passes its caller down."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from roboscope.db.engine import Database

from ..conftest import api_client
from .conftest import SQUARE, SQUARE_DETAILS, Factory, Json
from .test_auth import Tokens

NOT_DATA = {
    # Presence and locks live in Redis; the lock's fence is bookkeeping, not data.
    ("POST", "/presence/{session_id}"),
    ("DELETE", "/presence/{session_id}/{user_id}"),
    ("POST", "/locks/work-sessions/{session_id}"),
    ("POST", "/locks/work-sessions/{session_id}/extend"),
    ("POST", "/locks/work-sessions/{session_id}/unlock"),
    ("POST", "/locks/{session_id}"),
    ("DELETE", "/locks/{session_id}"),
    ("POST", "/locks/{session_id}/extend"),
    ("POST", "/locks/{session_id}/force-release"),
    # Credentials are not in the change log (the log is readable with the read scope).
    ("POST", "/work-sessions/{session_id}/stream-token"),
    ("POST", "/tokens"),
    ("DELETE", "/tokens/{name_or_id}"),
}


@pytest.fixture
async def alice(secure_app: FastAPI, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """A client with an admin token of user `alice` (admin: spaces are admin writes)."""
    header = await Tokens(database).make("admin", user_id="alice")
    async with api_client(secure_app) as http:
        http.headers.update(header)
        yield http


@dataclass
class World:
    client: httpx.AsyncClient
    space: Json
    session: Json
    marker: Json


Write = Callable[[World], Awaitable[httpx.Response]]


async def _anchor(w: World) -> Json:
    body = {"session_id": w.session["id"], "run": 1, "local_z": 2.0, "world_position": [1, 2, 3]}
    made: Json = (await w.client.post("/anchors", json=body)).json()
    return made


async def _reference_set(w: World) -> Json:
    url = f"/spaces/{w.space['id']}/reference-sets"
    made: Json = (await w.client.post(url, json={"name": "v", "markers": [SQUARE]})).json()
    return made


async def _details(w: World) -> None:
    await w.client.post(f"/markers/{w.marker['id']}/details/calculate", json={})


async def _guide(w: World) -> None:
    await w.client.put(f"/spaces/{w.space['id']}/laser-guide", json={"grid": []})


async def _delete_details(w: World) -> httpx.Response:
    await _details(w)
    return await w.client.delete(f"/markers/{w.marker['id']}/details")


async def _patch_anchor(w: World) -> httpx.Response:
    anchor = await _anchor(w)
    return await w.client.patch(f"/anchors/{anchor['id']}", json={"world_position": [9, 8, 7]})


async def _delete_anchor(w: World) -> httpx.Response:
    return await w.client.delete(f"/anchors/{(await _anchor(w))['id']}")


async def _delete_guide(w: World) -> httpx.Response:
    await _guide(w)
    return await w.client.delete(f"/spaces/{w.space['id']}/laser-guide")


async def _patch_reference_set(w: World) -> httpx.Response:
    made = await _reference_set(w)
    return await w.client.patch(f"/reference-sets/{made['id']}", json={"name": "v1", "version": 0})


async def _delete_reference_set(w: World) -> httpx.Response:
    return await w.client.delete(f"/reference-sets/{(await _reference_set(w))['id']}")


WRITES: dict[tuple[str, str], tuple[tuple[str, str], Write]] = {
    # route: ((entity, op) of the newest change it records, a request making it)
    ("POST", "/spaces"): (
        ("space", "created"),
        lambda w: w.client.post("/spaces", json={"key": "k-new", "name": "New"}),
    ),
    ("PATCH", "/spaces/{space_id}"): (
        ("space", "updated"),
        lambda w: w.client.patch(f"/spaces/{w.space['id']}", json={"name": "Renamed"}),
    ),
    ("DELETE", "/spaces/{space_id}"): (
        ("space", "deleted"),
        lambda w: w.client.delete(f"/spaces/{w.space['id']}"),
    ),
    ("POST", "/work-sessions"): (
        ("work_session", "created"),
        lambda w: w.client.post(
            "/work-sessions", json={"space_id": w.space["id"], "session_type": "inspection"}
        ),
    ),
    ("PATCH", "/work-sessions/{session_id}"): (
        ("work_session", "updated"),
        lambda w: w.client.patch(f"/work-sessions/{w.session['id']}", json={"status": "done"}),
    ),
    ("DELETE", "/work-sessions/{session_id}"): (
        ("work_session", "deleted"),
        lambda w: w.client.delete(f"/work-sessions/{w.session['id']}"),
    ),
    ("POST", "/markers"): (
        ("marker", "created"),
        lambda w: w.client.post("/markers", json={"work_session_id": w.session["id"], **SQUARE}),
    ),
    ("POST", "/markers/bulk"): (
        ("marker", "created"),
        lambda w: w.client.post(
            "/markers/bulk",
            json={"markers": [{"work_session_id": w.session["id"], **SQUARE}] * 2},
        ),
    ),
    ("PATCH", "/markers/{marker_id}"): (
        ("marker", "updated"),
        lambda w: w.client.patch(f"/markers/{w.marker['id']}", json={"p1": [0.5, 0, 0]}),
    ),
    ("DELETE", "/markers/{marker_id}"): (
        ("marker", "deleted"),
        lambda w: w.client.delete(f"/markers/{w.marker['id']}"),
    ),
    ("PUT", "/markers/{marker_id}/details"): (
        ("details", "created"),
        lambda w: w.client.put(
            f"/markers/{w.marker['id']}/details",
            json=SQUARE_DETAILS,
        ),
    ),
    ("DELETE", "/markers/{marker_id}/details"): (("details", "deleted"), _delete_details),
    ("POST", "/markers/{marker_id}/details/calculate"): (
        ("details", "created"),
        lambda w: w.client.post(f"/markers/{w.marker['id']}/details/calculate", json={}),
    ),
    ("POST", "/anchors"): (
        ("anchor", "created"),
        lambda w: w.client.post(
            "/anchors",
            json={
                "session_id": w.session["id"],
                "run": 1,
                "local_z": 2.0,
                "world_position": [1, 2, 3],
            },
        ),
    ),
    ("PATCH", "/anchors/{anchor_id}"): (("anchor", "updated"), _patch_anchor),
    ("DELETE", "/anchors/{anchor_id}"): (("anchor", "deleted"), _delete_anchor),
    ("PUT", "/spaces/{space_id}/laser-guide"): (
        ("laser_guide", "created"),
        lambda w: w.client.put(f"/spaces/{w.space['id']}/laser-guide", json={"grid": []}),
    ),
    ("DELETE", "/spaces/{space_id}/laser-guide"): (("laser_guide", "deleted"), _delete_guide),
    ("POST", "/spaces/{space_id}/reference-sets"): (
        ("reference_set", "created"),
        lambda w: w.client.post(
            f"/spaces/{w.space['id']}/reference-sets", json={"name": "v", "markers": [SQUARE]}
        ),
    ),
    ("PATCH", "/reference-sets/{set_id}"): (("reference_set", "updated"), _patch_reference_set),
    ("DELETE", "/reference-sets/{set_id}"): (("reference_set", "deleted"), _delete_reference_set),
}


def _write_routes(app: FastAPI) -> set[tuple[str, str]]:
    prefix = "/api/v1"
    return {
        (method.upper(), path.removeprefix(prefix))
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method in ("post", "put", "patch", "delete")
    }


def test_every_write_route_is_known_to_record_a_change_or_to_store_no_data(app: FastAPI) -> None:
    routes = _write_routes(app)
    unlisted = routes - set(WRITES) - NOT_DATA
    assert not unlisted, f"write routes neither checked below nor listed as NOT_DATA: {unlisted}"
    assert not (set(WRITES) | NOT_DATA) - routes, "routes listed here that the API lacks"


async def _newest(client: httpx.AsyncClient) -> tuple[int, Json | None]:
    """The log's newest cursor and its change (paging from the start: the log of one test)."""
    since: dict[str, int] = {}
    newest: Json | None = None
    while True:
        page = await client.get("/events", params={**since, "limit": 500})
        assert page.status_code == 200, page.text
        body = page.json()
        if body["changes"]:
            newest = body["changes"][-1]
        since = {"since": body["cursor"]}
        if not body["has_more"]:
            return body["cursor"], newest


@pytest.mark.parametrize("route", sorted(WRITES), ids=lambda route: " ".join(route))
async def test_a_write_records_its_change(
    route: tuple[str, str],
    client: httpx.AsyncClient,
    alice: httpx.AsyncClient,
    make_space: Factory,
    make_session: Factory,
    make_marker: Factory,
) -> None:
    space = await make_space()
    session = await make_session(space_id=space["id"])
    world = World(alice, space, session, await make_marker(work_session_id=session["id"]))
    (entity, op), write = WRITES[route]
    before, _ = await _newest(client)
    answer = await write(world)
    assert answer.status_code < 300, answer.text
    after, newest = await _newest(client)
    assert after > before, f"{route} answered {answer.status_code} and recorded no change"
    assert newest is not None and (newest["entity"], newest["op"]) == (entity, op), newest
    assert newest["actor"] == "alice", newest
