"""Request bodies are capped before they are read whole: ROBOSCOPE_MAX_BODY_BYTES (1 MiB) for
every write, and ROBOSCOPE_MAX_BULK_BODY_BYTES for `POST /markers/bulk`, which takes up to
10,000 markers with every field, all or none. Past a cap: a short JSON 413, nothing stored."""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from roboscope.settings import Settings

from .conftest import Factory

MIB = 1024 * 1024
BULK_MAX = 10_000
"""Markers one bulk create takes (docs/limits.md): written here, not read from the code."""


def _point() -> list[float]:
    return [random.uniform(-100, 100) for _ in range(3)]


def full_marker(session_id: str, n: int) -> dict[str, Any]:
    """A marker as the app sends one with every field (about 1 KB of JSON)."""
    return {
        "work_session_id": session_id,
        "label": f"Marker {n} - north wall, beam B7",
        "p1": _point(),
        "p2": _point(),
        "p3": _point(),
        "p4": _point(),
        "color": "#FF8800",
        "meta": {"created_by": f"device-{uuid.uuid4()}", "note": "check weld", "tags": ["b7"]},
        "custom_props": {"material": "steel", "thickness_mm": 12.5, "status": "open"},
        "calibrated_data": {
            "p1": _point(),
            "p2": _point(),
            "p3": _point(),
            "p4": _point(),
            "center": _point(),
        },
    }


def assert_too_large(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 413, response.text[:300]
    assert response.headers["content-type"] == "application/json"
    assert len(response.content) < 200
    assert response.json() == {
        "error": "body_too_large",
        "message": f"request bodies are limited to {limit} bytes",
    }


def test_the_default_caps(settings: Settings) -> None:
    defaults = Settings()
    assert defaults.max_body_bytes == MIB
    assert defaults.max_bulk_body_bytes == 16 * MIB


async def test_ten_thousand_full_markers_in_one_bulk_create(
    client: httpx.AsyncClient, make_session: Factory
) -> None:
    session = await make_session()
    bodies = [full_marker(session["id"], n) for n in range(BULK_MAX)]
    response = await client.post("/markers/bulk", json={"markers": bodies}, timeout=60)
    assert response.status_code == 201, response.text[:300]
    created = response.json()
    assert [marker["label"] for marker in created] == [body["label"] for body in bodies]
    listed = await client.get(f"/work-sessions/{session['id']}/markers")
    assert len(listed.json()) == BULK_MAX


async def test_one_bad_marker_of_ten_thousand_stores_none(
    client: httpx.AsyncClient, make_session: Factory
) -> None:
    session = await make_session()
    bodies = [full_marker(session["id"], n) for n in range(BULK_MAX)]
    bodies[-1]["work_session_id"] = str(uuid.uuid4())  # a session that does not exist
    response = await client.post("/markers/bulk", json={"markers": bodies}, timeout=60)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_reference"
    assert (await client.get(f"/work-sessions/{session['id']}/markers")).json() == []


async def test_bodies_past_the_caps_are_413(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, make_session: Factory
) -> None:
    session = await make_session()
    marker = full_marker(session["id"], 0)
    # 1 MiB for every write: a marker with a label past it; the bulk route takes it.
    big = {**marker, "label": "x" * MIB}
    assert_too_large(await client.post("/markers", json=big), settings.max_body_bytes)
    one = await client.post("/markers/bulk", json={"markers": [big]})
    assert one.status_code == 201
    # Past the bulk cap, declared up front or only found while reading.
    huge = b'{"markers": [' + b" " * settings.max_bulk_body_bytes + b"]}"
    assert_too_large(await client.post("/markers/bulk", content=huge), settings.max_bulk_body_bytes)

    async def chunks() -> Any:
        for _ in range(17):
            yield b" " * MIB

    # (Streamed: no Content-Length. A plain client: the checking one reads request bodies.)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=str(client.base_url)
    ) as plain:
        streamed = await plain.post(
            "/markers/bulk", content=chunks(), headers={"content-type": "application/json"}
        )
    assert_too_large(streamed, settings.max_bulk_body_bytes)
    # Only POST /markers/bulk has the larger cap.
    assert_too_large(
        await client.patch(f"/markers/{uuid.uuid4()}", content=b" " * (MIB + 1)),
        settings.max_body_bytes,
    )
    stored = (await client.get(f"/work-sessions/{session['id']}/markers")).json()
    assert [marker["id"] for marker in stored] == [one.json()[0]["id"]]


async def test_more_than_ten_thousand_markers_are_refused(
    client: httpx.AsyncClient, make_session: Factory
) -> None:
    session = await make_session()
    small = {"work_session_id": session["id"], "p1": [0, 0, 0], "p2": [1, 0, 0]}
    small |= {"p3": [1, 0, 1], "p4": [0, 0, 1]}
    response = await client.post("/markers/bulk", json={"markers": [small] * (BULK_MAX + 1)})
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "markers"
    assert (await client.get(f"/work-sessions/{session['id']}/markers")).json() == []
