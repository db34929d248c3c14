"""Marker lists are encoded from rows the database hands back as text (ids, timestamps, one
JSON array of the JSON columns: db/text_columns.py, `wire.markers.encode_listed`), without
building or validating a model: the bytes must stay exactly those of the validated model, for
every optional field set and unset, on SQLite (naive timestamps) and PostgreSQL (aware ones),
whole, paged and in several batches."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
import pydantic_core
import pytest

from roboscope.db import markers as rows
from roboscope.db.engine import Database
from roboscope.server import lists
from roboscope.wire import Marker
from roboscope.wire.markers import ListedMarker

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
    """The old path: every row validated again on its way out."""
    return Marker.model_validate({**row, "details": details})


# pydantic warns when it encodes a value that is not of its field's type (a dict where a
# model belongs, a string for a timestamp): fail on it.
@pytest.mark.filterwarnings("error")
async def test_listed_markers_encode_as_validated_ones(
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
    for answer in (bare, full, computed, cleared):
        assert answer.status_code == 201, answer.text
    put = await client.put(
        f"/markers/{full.json()['id']}/details", json={**DETAILS, "custom_props": {"k": {}}}
    )
    assert put.status_code == 200, put.text
    calculate = f"/markers/{computed.json()['id']}/details/calculate"
    assert (await client.post(calculate, json={})).status_code == 200
    patch: dict[str, Any] = {
        "label": None,
        "color": None,
        "calibrated_data": None,
        "meta": {},
        "version": 0,
    }
    patched = await client.patch(f"/markers/{cleared.json()['id']}", json=patch)
    assert patched.status_code == 200, patched.text

    ids = [UUID(answer.json()["id"]) for answer in (bare, full, computed, cleared)]
    async with database.snapshot() as conn:
        stored = [await rows.get_marker_with_details(conn, marker_id) for marker_id in ids]
    assert sum(found is not None and found[1] is not None for found in stored) == 2
    validated = [_validated(*found) for found in stored if found is not None]
    assert any(marker.calibrated_data is None for marker in validated)
    assert any(marker.label is None for marker in validated)
    old_list = pydantic_core.to_json(validated)
    for path in ("/markers", f"/markers?work_session_id={session}"):
        assert (await client.get(path)).content == old_list
    assert (await client.get(f"/work-sessions/{session}/markers")).content == old_list

    # Read and encoded a batch of rows at a time, whole (one body, or streamed a chunk at
    # a time) and paged: the same bytes.
    monkeypatch.setattr(rows, "ROWS_PER_STEP", 3)
    assert (await client.get(f"/work-sessions/{session}/markers")).content == old_list
    with monkeypatch.context() as streamed:
        streamed.setattr(lists, "ONE_BODY_BYTES", 0)
        answer = await client.get(f"/work-sessions/{session}/markers")
        assert answer.content == old_list
        assert "content-length" not in answer.headers
    pages = [await client.get(f"/work-sessions/{session}/markers?limit={n}") for n in (3, 4, 5)]
    assert pages[0].content == pydantic_core.to_json(validated[:3])
    assert "next" in pages[0].headers["link"]
    assert pages[1].content == pages[2].content == old_list
    assert "link" not in pages[1].headers and "link" not in pages[2].headers


def test_listed_rows_are_read_in_the_order_they_are_encoded() -> None:
    """db/ selects the columns that wire/ unpacks by position: one order, named alike."""
    assert ListedMarker._fields == rows.LISTED_COLUMNS
    assert len(rows._listed().selected_columns) == len(ListedMarker._fields)
