"""Marker lists turn their own rows straight into their wire form (`stored_marker`, without
building or validating a model): the bytes must stay exactly those of the validated model,
for every optional field set and unset, on SQLite (naive timestamps) and PostgreSQL (aware
ones)."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pydantic_core
import pytest
from pydantic import Field, PlainSerializer

from roboscope.db import markers as rows
from roboscope.db.engine import Database
from roboscope.wire import Marker
from roboscope.wire.common import WireModel
from roboscope.wire.markers import stored_marker
from roboscope.wire.stored import WireForm

from .conftest import Factory

CORNERS = {"p1": [0, 0, 0], "p2": [1.5, 0, 0], "p3": [1.5, 0, 1e-7], "p4": [0, -0.0, 1]}
EVERYTHING = {
    **CORNERS,
    "label": "Ünïcode \u2603 label",
    "color": "#FF8800",
    "meta": {"nested": {"list": [1, 2.5, None, True, "x"], "empty": {}}, "n": 10**15},
    "custom_props": {"a": [], "b": ""},
    "calibrated_data": {**CORNERS, "center": [0.75, 0, 0.5]},
}
DETAILS = {
    "center_location_long": 1.25,
    "center_location_cross": -3,
    "x_negative": 0,
    "x_positive": 2.5,
    "z_positive": 1e-9,
    "z_negative": 123456789.125,
    "long_size": 1,
    "cross_size": 0.1,
}


def _validated(row: dict[str, Any], details: dict[str, Any] | None) -> Marker:
    """The old path: every row validated again on its way out."""
    return Marker.model_validate({**row, "details": details})


# pydantic warns when it encodes a value that is not of its field's type (a dict where a
# model belongs, a string for a timestamp): fail on it.
@pytest.mark.filterwarnings("error")
async def test_stored_markers_encode_as_validated_ones(
    client: httpx.AsyncClient, database: Database, make_session: Factory
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

    async with database.snapshot() as conn:
        stored = await rows.list_markers(conn, work_session_id=None)
    assert len(stored) == 4
    assert sum(details is not None for _, details in stored) == 2
    assert any(row["calibrated_data"] is None for row, _ in stored)
    assert any(row["label"] is None for row, _ in stored)
    for row, details in stored:
        old = pydantic_core.to_json(_validated(row, details))
        assert pydantic_core.to_json(stored_marker(row, details)) == old

    old_list = pydantic_core.to_json([_validated(*found) for found in stored])
    for path in ("/markers", f"/markers?work_session_id={session}"):
        assert (await client.get(path)).content == old_list
    assert (await client.get(f"/work-sessions/{session}/markers")).content == old_list


def test_a_wire_form_refuses_what_it_cannot_mirror() -> None:
    """A serializer of its own or an alias would make the plain form differ from the model's
    encoding: such a model is refused when its form is made, not answered wrongly."""

    class Renamed(WireModel):
        value: int = Field(serialization_alias="v")

    class Serialized(WireModel):
        value: Annotated[int, PlainSerializer(lambda v: v * 2)]

    class Nested(WireModel):
        inner: list[Serialized]

    for model in (Renamed, Serialized, Nested):
        with pytest.raises(TypeError):
            WireForm(model)
    assert WireForm(Marker)  # what the lists use
