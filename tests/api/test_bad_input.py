"""Malformed input gets a short JSON 4xx and stores nothing; nothing produces a 500."""

from __future__ import annotations

import httpx
import pytest

from .conftest import SQUARE, Factory


@pytest.mark.parametrize(
    "raw",
    [
        '{"p1": [NaN, 0, 0]}',
        '{"p1": [Infinity, 0, 0]}',
        '{"p1": [-Infinity, 0, 0]}',
        '{"meta": {"x": NaN}}',
        '{"custom_props": {"deep": [1, {"y": Infinity}]}}',
        '{"p1": [0, 0]}',
        '{"p1": [0, 0, 0, 0]}',
        '{"p1": [0, "1", 0]}',
        '{"p1": [0, true, 0]}',
        '{"p1": null}',
        '{"meta": null}',
        '{"meta": [1, 2]}',
        '{"label": "nul \\u0000 inside"}',
        '{"label": "lone \\ud800 surrogate"}',
        '{"meta": {"\\u0000": 1}}',
        '{"work_session_id": "not-a-uuid"}',
    ],
)
async def test_bad_marker_bodies_are_refused(
    client: httpx.AsyncClient, make_session: Factory, raw: str
) -> None:
    session = await make_session()
    base = (
        f'{{"work_session_id": "{session["id"]}", '
        + '"p1": [0,0,0], "p2": [1,0,0], "p3": [1,0,1], "p4": [0,0,1]'
    )
    # The bad fields come last, so they override the good base ones (JSON: last key wins).
    body = base + ", " + raw.strip("{}") + "}"
    response = await client.post("/markers", content=body)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"] in {"validation_error", "invalid_json"}
    assert (await client.get("/markers")).json() == []


@pytest.mark.parametrize(
    "content",
    [b"", b"null", b"[]", b'"text"', b"{", b"\xff\xfe", b'{"markers": "x"}', b"1e999"],
)
async def test_bodies_that_are_not_objects(client: httpx.AsyncClient, content: bytes) -> None:
    for url in ("/spaces", "/work-sessions", "/markers", "/markers/bulk"):
        response = await client.post(url, content=content)
        assert 400 <= response.status_code < 500, (url, content, response.text)
        assert "error" in response.json()


async def test_oversized_body_is_413(client: httpx.AsyncClient, make_session: Factory) -> None:
    session = await make_session()
    huge_label = "x" * (5 * 1024 * 1024)
    response = await client.post(
        "/markers", json={"work_session_id": session["id"], **SQUARE, "label": huge_label}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"
    assert (await client.get("/markers")).json() == []


async def test_bad_query_and_path_values(client: httpx.AsyncClient) -> None:
    for url in (
        "/markers?work_session_id=nope",
        "/spaces?include_inactive=maybe",
        "/work-sessions?space_id=123",
        "/spaces/%00",
        "/work-sessions/" + "f" * 5000,
    ):
        response = await client.get(url)
        assert 400 <= response.status_code < 500, (url, response.text)


async def test_huge_numbers_are_refused_or_stored_never_500(
    client: httpx.AsyncClient, make_marker: Factory
) -> None:
    marker = await make_marker()
    url = f"/markers/{marker['id']}"
    assert (
        await client.patch(url, content=b'{"version": 99999999999999999999}')
    ).status_code == 422
    big = await client.patch(url, content=b'{"meta": {"n": 1' + b"0" * 5000 + b"}}")
    assert big.status_code in {400, 422}
    assert (await client.get(url)).json() == marker
    fine = await client.patch(url, json={"p1": [1e300, -1e-300, 0]})
    assert fine.status_code == 200
    assert fine.json()["p1"] == [1e300, -1e-300, 0]


async def test_bulk_limit(client: httpx.AsyncClient, make_session: Factory) -> None:
    session = await make_session()
    bodies = [{"work_session_id": session["id"], **SQUARE}] * 1001
    response = await client.post("/markers/bulk", json={"markers": bodies})
    assert response.status_code == 422
    assert (await client.get("/markers")).json() == []


@pytest.mark.parametrize(
    "stamp",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:59:59+00:59:59"],
)
async def test_timestamps_whose_utc_form_overflows_are_422(
    client: httpx.AsyncClient, make_space: Factory, make_session: Factory, stamp: str
) -> None:
    """An offset at the year limits moves the time out of range: 422, not a 500."""
    space = await make_space()
    body = {"space_id": space["id"], "session_type": "inspection", "started_at": stamp}
    response = await client.post("/work-sessions", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation_error"
    assert "started_at" in response.json()["message"]
    session = await make_session()
    patch = await client.patch(f"/work-sessions/{session['id']}", json={"completed_at": stamp})
    assert patch.status_code == 422, patch.text
    assert (await client.get(f"/work-sessions/{session['id']}")).json() == session


async def test_timestamps_at_the_year_limits_in_utc_are_kept(
    client: httpx.AsyncClient, make_session: Factory
) -> None:
    session = await make_session(
        started_at="0001-01-01T00:00:00Z", completed_at="9999-12-31T22:59:59-01:00"
    )
    assert session["started_at"] == "0001-01-01T00:00:00Z"
    assert session["completed_at"] == "9999-12-31T23:59:59Z"
