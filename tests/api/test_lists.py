"""List answers: bare arrays always; `limit`/`cursor` paging with `Link: rel="next"`; big
marker lists refused with a way out; long lists encoded without holding the loop."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from roboscope.db import markers as marker_rows
from roboscope.settings import Settings

from ..conftest import serving
from .conftest import SQUARE, Factory, get_scope

Json = dict[str, Any]
CHUNK_ITEMS = 100
"""Items per body message of a long list (server/lists.py), written here, not imported: a
change of the chunk size is a change this test has to be told about."""
LONG = 8000  # 80 batches: the long list's encoding outlasts a short request by far
BATCH = 100
"""Marker rows read and encoded per step in the long-list test (ROWS_PER_STEP, made small so
that a list the test can create quickly takes many steps)."""


async def _bulk(client: httpx.AsyncClient, session_id: str, count: int) -> list[Json]:
    created: list[Json] = []
    while len(created) < count:
        size = min(1000, count - len(created))
        body = {"markers": [{"work_session_id": session_id, **SQUARE}] * size}
        response = await client.post("/markers/bulk", json=body)
        assert response.status_code == 201, response.text
        created += response.json()
    return created


async def _walk(client: httpx.AsyncClient, path: str, params: dict[str, Any]) -> list[list[Json]]:
    """Follow `Link: rel="next"` from the first page to the last."""
    pages: list[list[Json]] = []
    response = await client.get(path, params=params)
    while True:
        assert response.status_code == 200, response.text
        pages.append(response.json())
        link = response.links.get("next")
        if link is None:
            return pages
        response = await client.get(link["url"])


async def test_markers_page_through_link_headers(
    client: httpx.AsyncClient, make_session: Factory, make_marker: Factory
) -> None:
    session = await make_session()
    created = await _bulk(client, session["id"], 7)
    other = await make_marker()  # another session's marker, after them

    pages = await _walk(client, "/markers", {"limit": 3})
    assert [len(p) for p in pages] == [3, 3, 2]
    assert [m for p in pages for m in p] == [*created, other]

    filtered = await _walk(client, "/markers", {"work_session_id": session["id"], "limit": 5})
    assert [m for p in filtered for m in p] == created
    assert [len(p) for p in filtered] == [5, 2]

    first = await client.get("/markers", params={"limit": 3, "work_session_id": session["id"]})
    link = first.headers["link"]
    assert link.startswith("<http://roboscope.test/api/v1/markers?") and link.endswith(
        '>; rel="next"'
    )
    assert "work_session_id=" in link and "limit=3" in link
    # A page that ends exactly at the end of the list announces no next page.
    exact = await client.get("/markers", params={"work_session_id": session["id"], "limit": 7})
    assert exact.json() == created and "link" not in exact.headers


async def test_sessions_and_spaces_page_too(
    client: httpx.AsyncClient, make_space: Factory, make_session: Factory
) -> None:
    space = await make_space()
    sessions = [await make_session(space_id=space["id"]) for _ in range(5)]
    pages = await _walk(client, "/work-sessions", {"space_id": space["id"], "limit": 2})
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [s for p in pages for s in p] == sessions
    for _ in range(4):
        await make_space()
    spaces = (await client.get("/spaces")).json()
    walked = await _walk(client, "/spaces", {"limit": 4})
    assert [len(p) for p in walked] == [4, 1]
    assert [s for p in walked for s in p] == spaces
    markers_pages = await _walk(client, f"/work-sessions/{sessions[0]['id']}/markers", {"limit": 1})
    assert markers_pages == [[]]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": -1},
        {"limit": "x"},
        {"limit": 10_001},
        {"cursor": "!!"},
        {"cursor": "AAAA"},
    ],
)
async def test_bad_paging_is_422(client: httpx.AsyncClient, params: dict[str, Any]) -> None:
    for path in ("/markers", "/work-sessions", "/spaces"):
        response = await client.get(path, params=params)
        assert response.status_code == 422, (path, params, response.text)
        assert response.json()["error"] == "validation_error"


async def test_answers_without_paging_are_unchanged(
    client: httpx.AsyncClient, make_marker: Factory
) -> None:
    """The iOS clients send no paging parameters: bare arrays, no Link header."""
    marker = await make_marker()
    response = await client.get("/markers")
    assert response.json() == [marker]
    assert "link" not in response.headers
    assert response.headers["content-type"] == "application/json"


async def test_big_unfiltered_list_is_refused_with_a_way_out(
    settings: Settings, client: httpx.AsyncClient, make_session: Factory
) -> None:
    one, two = await make_session(), await make_session()
    await _bulk(client, one["id"], 3)
    await _bulk(client, two["id"], 3)
    small = settings.model_copy(update={"max_list_items": 5})
    async with serving(small) as capped:
        refused = await capped.get("/markers")
        assert refused.status_code == 422
        body = refused.json()
        assert body["error"] == "list_too_large"
        assert "work_session_id" in body["message"] and "limit" in body["message"]
        assert body["max_items"] == 5
        # Filtering or paging gets everything.
        filtered = await capped.get("/markers", params={"work_session_id": one["id"]})
        assert len(filtered.json()) == 3
        pages = await _walk(capped, "/markers", {"limit": 5})
        assert [len(p) for p in pages] == [5, 1]
        assert (await capped.get("/markers", params={"limit": 6})).status_code == 422
    # Exactly at the maximum is still answered whole.
    at_max = settings.model_copy(update={"max_list_items": 6})
    async with serving(at_max) as capped:
        assert len((await capped.get("/markers")).json()) == 6


async def test_a_big_session_is_refused_with_a_way_out_and_a_small_one_unchanged(
    settings: Settings, client: httpx.AsyncClient, make_session: Factory
) -> None:
    """The iOS app reads a session's markers without paging: that answer stays the whole
    bare array up to the cap; past it, the same refusal as the unfiltered list, and paging."""
    big, small = await make_session(), await make_session()
    big_markers = await _bulk(client, big["id"], 6)
    small_markers = await _bulk(client, small["id"], 5)
    capped_settings = settings.model_copy(update={"max_list_items": 5})
    async with serving(capped_settings) as capped:

        def session_lists(session: Json) -> list[tuple[str, dict[str, str]]]:
            return [
                ("/markers", {"work_session_id": session["id"]}),
                (f"/work-sessions/{session['id']}/markers", {}),
            ]

        for path, params in session_lists(big):
            refused = await capped.get(path, params=params)
            assert refused.status_code == 422, (path, refused.text)
            body = refused.json()
            assert body["error"] == "list_too_large"
            assert body["max_items"] == 5
            assert "limit" in body["message"] and big["id"] in body["message"]
            pages = await _walk(capped, path, {**params, "limit": 5})
            assert [len(p) for p in pages] == [5, 1]
            assert [m for p in pages for m in p] == big_markers
            assert (await capped.get(path, params={**params, "limit": 6})).status_code == 422
        for path, params in session_lists(small):
            whole = await capped.get(path, params=params)
            assert whole.status_code == 200
            assert whole.json() == small_markers
            assert "link" not in whole.headers
        unknown = "00000000-0000-7000-8000-000000000000"
        assert (await capped.get("/markers", params={"work_session_id": unknown})).json() == []


async def test_long_lists_stream_the_same_bytes(
    client: httpx.AsyncClient, make_session: Factory
) -> None:
    session = await make_session()
    created = await _bulk(client, session["id"], CHUNK_ITEMS * 2 + 7)
    response = await client.get("/markers", params={"work_session_id": session["id"]})
    assert response.status_code == 200
    assert response.json() == created
    # Compact JSON, as the short answers: no whitespace added between chunks.
    assert response.content == json.dumps(created, separators=(",", ":")).encode()


async def _asgi_get(
    app: FastAPI,
    path: str,
    query: str,
    log: list[str],
    name: str,
) -> bytes:
    """Call the ASGI app directly, logging when its body messages are sent."""
    scope = get_scope(path, query)
    body = bytearray()
    done = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if not done.is_set():
            await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200
        if message["type"] == "http.response.body":
            body.extend(message.get("body", b""))
            if not message.get("more_body", False):
                log.append(name)
                done.set()

    await app(scope, receive, send)
    return bytes(body)


async def test_other_requests_are_answered_while_a_long_list_is_encoded(
    app: FastAPI,
    client: httpx.AsyncClient,
    make_session: Factory,
    make_marker: Factory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A long list is read and encoded a batch of rows at a time with the event loop free in
    between: a task that only counts its turns on the loop gets a turn between each two
    batches' encodings, and a short request sent meanwhile is answered. (Counting turns, not
    time: the result does not depend on how busy the machine is.)"""
    session = await make_session()
    await _bulk(client, session["id"], LONG)
    marker = await make_marker()
    monkeypatch.setattr(marker_rows, "ROWS_PER_STEP", BATCH)
    finished: list[str] = []
    started = asyncio.Event()
    turns = 0
    turns_at_batch: list[int] = []

    read_in_batches = marker_rows.listed_markers

    async def batches_counting_turns(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async for batch in read_in_batches(*args, **kwargs):
            turns_at_batch.append(turns)
            started.set()
            yield batch

    monkeypatch.setattr(marker_rows, "listed_markers", batches_counting_turns)

    async def count_turns() -> None:
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    counter = asyncio.create_task(count_turns())
    big = asyncio.create_task(
        _asgi_get(app, "/api/v1/markers", f"work_session_id={session['id']}", finished, "big")
    )
    await started.wait()
    small = await _asgi_get(app, f"/api/v1/markers/{marker['id']}", "", finished, "small")
    big_body = await big
    counter.cancel()
    assert json.loads(small)["id"] == marker["id"]
    assert len(json.loads(big_body)) == LONG
    # The list was encoded in batches, and the loop turned between (almost) each two of
    # them: one encoding of the whole list would be one batch, or batches with no turn between.
    assert len(turns_at_batch) >= LONG // BATCH
    gaps_with_a_turn = sum(b > a for a, b in itertools.pairwise(turns_at_batch))
    assert gaps_with_a_turn >= LONG // BATCH - 1
