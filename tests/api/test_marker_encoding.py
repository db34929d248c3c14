"""Marker lists send each marker's stored text (services/listed_markers.py): byte for byte
what its last writes answered, for every optional field set and unset, on SQLite and
PostgreSQL, whole, paged and in several batches. A text not made at its row's current version
(a row of an earlier release, or one no write stored yet) is never sent: the list renders it
from the columns, and `store_missing` stores it, without overwriting a newer write's."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pydantic_core
import pytest
from sqlalchemy import update

from roboscope.db import markers as rows
from roboscope.db.engine import Database
from roboscope.db.tables import marker_details, markers
from roboscope.server import lists
from roboscope.services import listed_markers
from roboscope.wire import Marker
from roboscope.wire.markers import LISTED_SHAPE, listed_marker, listed_shape

from .conftest import Factory

CORNERS = {"p1": [0, 0, 0], "p2": [1.5, 0, 0], "p3": [1.5, 0, 1e-7], "p4": [0, -0.0, 1]}
EVERYTHING = {
    **CORNERS,
    "label": 'Ünïcode \u2603 \U0001f600 "label"\n\t\\ </',
    "color": "#FF8800",
    "meta": {
        "nested": {"list": [1, 2.5, None, True, "x"], "empty": {}},
        "n": 10**15,
        "f": [1e20, 1e-7, 0.1 + 0.2],
    },
    "custom_props": {"a": [], "b": ""},
    "calibrated_data": {**CORNERS, "center": [0.75, 0, 0.5]},
}
DETAILS = {
    "center_location_long": 1.25,
    "center_location_cross": -3,
    "x_negative": -0.0,
    "x_positive": 0,
    "z_positive": 1e-9,
    "z_negative": 123456789.125,
    "long_size": 1,
    "cross_size": 0.30000000000000004,
}


def _validated(row: dict[str, Any], details: dict[str, Any] | None) -> Marker:
    """A marker made from its columns, validated."""
    return Marker.model_validate({**row, "details": details})


async def _from_columns(database: Database, ids: list[UUID]) -> list[Marker]:
    async with database.snapshot() as conn:
        stored = [await rows.get_marker_with_details(conn, marker_id) for marker_id in ids]
    return [_validated(*found) for found in stored if found is not None]


async def _forget_texts(database: Database) -> None:
    """As migration 0008 leaves every row: no text made at the row's version."""
    async with database.transaction() as conn:
        await conn.execute(update(markers).values(listed_version=None))
        await conn.execute(update(marker_details).values(listed_at=None))


# pydantic warns when it encodes a value that is not of its field's type (a dict where a
# model belongs, a string for a timestamp): fail on it.
@pytest.mark.filterwarnings("error")
async def test_listed_markers_are_sent_as_their_writes_answered(
    client: httpx.AsyncClient,
    database: Database,
    make_session: Factory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = (await make_session())["id"]
    bare = await client.post("/markers", json={"work_session_id": session, **CORNERS})
    full = await client.post("/markers", json={"work_session_id": session, **EVERYTHING})
    computed = await client.post("/markers", json={"work_session_id": session, **EVERYTHING})
    cleared = await client.post("/markers", json={"work_session_id": session, **EVERYTHING})
    undetailed = await client.post("/markers", json={"work_session_id": session, **CORNERS})
    for answer in (bare, full, computed, cleared, undetailed):
        assert answer.status_code == 201, answer.text
    put = await client.put(
        f"/markers/{full.json()['id']}/details", json={**DETAILS, "custom_props": {"k": {}}}
    )
    assert put.status_code == 200, put.text
    calculated = await client.post(f"/markers/{computed.json()['id']}/details/calculate", json={})
    assert calculated.status_code == 200, calculated.text
    for_cleared = await client.post(f"/markers/{cleared.json()['id']}/details/calculate", json={})
    assert for_cleared.status_code == 200
    patch: dict[str, Any] = {
        "label": None,
        "color": None,
        "calibrated_data": None,
        "meta": {},
        "p1": [0.5, 0, 0.25],  # moves a corner: its details are calculated again
        "version": 0,
    }
    patched = await client.patch(f"/markers/{cleared.json()['id']}", json=patch)
    assert patched.status_code == 200, patched.text
    assert patched.json()["details"]["updated_at"] is not None
    for_undetailed = f"/markers/{undetailed.json()['id']}/details"
    assert (await client.post(f"{for_undetailed}/calculate", json={})).status_code == 200
    assert (await client.delete(for_undetailed)).status_code == 204

    answered = [
        Marker.model_validate(answer)
        for answer in (
            bare.json(),
            {**full.json(), "details": put.json()},
            {**computed.json(), "details": calculated.json()},
            patched.json(),
            undetailed.json(),
        )
    ]
    assert any(marker.calibrated_data is None for marker in answered)
    assert any(marker.label is None for marker in answered)
    as_answered = pydantic_core.to_json(answered)
    for path in ("/markers", f"/markers?work_session_id={session}"):
        assert (await client.get(path)).content == as_answered
    assert (await client.get(f"/work-sessions/{session}/markers")).content == as_answered

    # The same markers made from their columns: the same values (PostgreSQL's JSONB orders
    # the keys of `meta` its own way, so the bytes are compared on SQLite only).
    ids = [marker.id for marker in answered]
    from_columns = await _from_columns(database, ids)
    assert json.loads(pydantic_core.to_json(from_columns)) == json.loads(as_answered)
    if database.is_sqlite:
        assert pydantic_core.to_json(from_columns) == as_answered

    # Read a batch of rows at a time, whole (one body, or streamed a chunk at a time) and
    # paged: the same bytes.
    monkeypatch.setattr(rows, "ROWS_PER_STEP", 3)
    assert (await client.get(f"/work-sessions/{session}/markers")).content == as_answered
    with monkeypatch.context() as streamed:
        streamed.setattr(lists, "ONE_BODY_BYTES", 0)
        answer = await client.get(f"/work-sessions/{session}/markers")
        assert answer.content == as_answered
        assert "content-length" not in answer.headers
    pages = [await client.get(f"/work-sessions/{session}/markers?limit={n}") for n in (3, 5, 6)]
    assert pages[0].content == pydantic_core.to_json(answered[:3])
    assert "next" in pages[0].headers["link"]
    assert pages[1].content == pages[2].content == as_answered
    assert "link" not in pages[1].headers and "link" not in pages[2].headers

    # Without texts (migration 0008's rows), the list renders each marker from its columns;
    # `store_missing` stores them all, and the list is unchanged.
    await _forget_texts(database)
    by_columns = pydantic_core.to_json(from_columns)
    assert (await client.get(f"/work-sessions/{session}/markers")).content == by_columns
    assert await listed_markers.store_missing(database, batch=2) == len(ids)
    assert await listed_markers.store_missing(database) == 0
    assert (await client.get(f"/work-sessions/{session}/markers")).content == by_columns
    # A text gone but its version kept counts as missing too.
    async with database.transaction() as conn:
        await conn.execute(update(markers).values(listed=None))
        await conn.execute(update(marker_details).values(listed=None))
    assert (await client.get(f"/work-sessions/{session}/markers")).content == by_columns
    assert await listed_markers.store_missing(database) == len(ids)
    assert (await client.get(f"/work-sessions/{session}/markers")).content == by_columns


async def test_a_text_left_stale_by_another_write_is_not_sent(
    client: httpx.AsyncClient, database: Database, make_marker: Factory
) -> None:
    """A write that does not store the text (a process of an earlier release, during a
    rolling upgrade) moves the version: the list renders that marker from its columns."""
    marker = await make_marker(label="before")
    marker_id = UUID(marker["id"])
    path = f"/markers/{marker_id}"
    assert (await client.post(f"{path}/details/calculate", json={})).status_code == 200
    async with database.transaction() as conn:
        older_release = update(markers).where(markers.c.id == marker_id)
        await conn.execute(older_release.values(label="after", version=markers.c.version + 1))
        await conn.execute(
            update(marker_details)
            .where(marker_details.c.marker_id == marker_id)
            .values(long_size=42.0, updated_at=datetime.now(UTC) + timedelta(seconds=1))
        )
    listed = (await client.get(f"/markers?work_session_id={marker['work_session_id']}")).json()
    assert listed[0]["label"] == "after" and listed[0]["version"] == 1
    assert listed[0]["details"]["long_size"] == 42.0
    assert listed == [(await client.get(path)).json()]


async def test_a_text_is_stored_only_at_the_version_it_was_made_at(
    client: httpx.AsyncClient, database: Database, make_marker: Factory
) -> None:
    """`store_missing` read a row, a write moved it meanwhile: its text is not overwritten."""
    marker = await make_marker()
    marker_id = UUID(marker["id"])
    await _forget_texts(database)
    async with database.snapshot() as conn:
        [(row, details)] = await rows.unlisted(conn, 10)
    old_text = listed_marker(_validated(row, details))
    patched = await client.patch(f"/markers/{marker_id}", json={"label": "new", "version": 0})
    assert patched.status_code == 200
    async with database.transaction() as conn:
        await rows.fill_listed(conn, [(marker_id, row["version"], old_text)])
        assert await rows.unlisted(conn, 10) == []
    listed = (await client.get(f"/markers?work_session_id={marker['work_session_id']}")).json()
    assert listed == [patched.json()]


def test_the_stored_texts_shape_is_pinned() -> None:
    """A change to `Marker` or `MarkerDetails` makes every stored text stale: it needs a
    migration that forgets them (as `_forget_texts` does), and `LISTED_SHAPE` follows."""
    assert listed_shape() == LISTED_SHAPE, (
        "Marker or MarkerDetails changed: add a migration that sets markers.listed_version "
        "and marker_details.listed_at to NULL, then set wire.markers.LISTED_SHAPE to "
        f"{listed_shape()!r}"
    )
