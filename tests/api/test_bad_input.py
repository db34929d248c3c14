"""Malformed input gets a short JSON 4xx and stores nothing; nothing produces a 500."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from .conftest import SQUARE, Factory


@pytest.mark.parametrize(
    "others",
    [{}, {"sec-fetch-site": "same-origin"}, {"sec-fetch-site": "none"}],
    ids=["origin-only", "claims-same-origin", "claims-typed-in"],
)
async def test_writes_with_another_sites_origin_are_403_whatever_else_they_say(
    client: httpx.AsyncClient, make_marker: Factory, others: dict[str, str]
) -> None:
    """A browser that sends no `Sec-Fetch-Site` still sends `Origin`: a body-less POST from a
    page elsewhere must not take the lock (with auth off nothing else stands in the way)."""
    marker = await make_marker()
    session = marker["work_session_id"]
    for origin in (
        "https://evil.example",
        "null",  # a sandboxed frame, a local file
        "http://roboscope.test.evil.example",
        "http://roboscope.test:8443",  # another port is another origin
    ):
        for method, url in (
            ("POST", f"/locks/{session}"),
            ("POST", f"/locks/work-sessions/{session}"),
            ("DELETE", f"/markers/{marker['id']}"),
        ):
            response = await send(client, method, url, headers={"origin": origin, **others})
            assert response.status_code == 403, (origin, method, url, response.text)
            assert response.json()["error"] == "cross_site_request"
    assert (await client.get(f"/locks/{session}")).json()["locked"] is False
    assert (await client.get(f"/markers/{marker['id']}")).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://roboscope.test"},
        {"origin": "http://ROBOSCOPE.test:80", "sec-fetch-site": "same-origin"},
        # Behind a proxy that terminates TLS and keeps the Host (docs/deployment.md) ...
        {"origin": "https://roboscope.test"},
        # ... or that passes the public host on in X-Forwarded-Host.
        {"origin": "https://public.example", "x-forwarded-host": "public.example"},
    ],
    ids=["plain", "default-port", "tls-proxy", "forwarded-host"],
)
async def test_writes_from_the_servers_own_pages_pass(
    client: httpx.AsyncClient, make_session: Factory, headers: dict[str, str]
) -> None:
    """The API docs page (and a console served by this server) are this server's origin."""
    session = (await make_session())["id"]
    own = await send(client, "POST", f"/locks/{session}", headers=headers)
    assert own.status_code == 200, own.text
    assert own.json()["acquired"] is True


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
    bodies = [{"work_session_id": session["id"], **SQUARE}] * 10_001
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


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    content: bytes = b"",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """A request with exactly these headers: the client's default JSON content type is
    dropped unless `headers` names one (curl sends none without `-H`)."""
    request = client.build_request(method, url, content=content, headers=headers)
    if not headers or "content-type" not in {name.lower() for name in headers}:
        del request.headers["content-type"]
    return await client.send(request)


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("text/plain", b""),
        ("text/plain;charset=UTF-8", b'{"ttl_seconds": 30}'),
        ("application/x-www-form-urlencoded", b""),
        ("application/x-www-form-urlencoded", b"ttl_seconds=30"),
        ("multipart/form-data; boundary=x", b"--x--\r\n"),
        ("application/jsonp", b"{}"),
        ("json", b"{}"),
    ],
)
async def test_a_cross_site_form_cannot_take_a_lock(
    client: httpx.AsyncClient, content_type: str, content: bytes
) -> None:
    """A web page can POST these without a preflight; the lock must stay free (415)."""
    session = str(uuid.uuid4())
    for url in (f"/locks/{session}", f"/locks/work-sessions/{session}"):
        response = await send(client, "POST", url, content, {"content-type": content_type})
        assert response.status_code == 415, response.text
        assert response.json()["error"] == "unsupported_media_type"
        assert response.headers["cache-control"] == "no-store"
    assert (await client.get(f"/locks/{session}")).json()["locked"] is False


async def test_writes_with_a_body_that_is_not_json_are_415(
    client: httpx.AsyncClient, make_marker: Factory
) -> None:
    marker = await make_marker()
    space = {"key": "k415", "name": "n"}
    cases = [
        ("POST", "/spaces", "text/plain", space),
        ("POST", "/spaces", None, space),
        ("PATCH", f"/markers/{marker['id']}", "text/plain", {"label": "x"}),
        ("PATCH", f"/markers/{marker['id']}", None, {"label": "x"}),
        ("DELETE", f"/markers/{marker['id']}", "text/plain", {}),
        ("DELETE", f"/markers/{marker['id']}", "application/x-www-form-urlencoded", None),
        ("PUT", f"/markers/{marker['id']}/details", "text/html", {}),
    ]
    for method, url, content_type, body in cases:
        content = b"" if body is None else json.dumps(body).encode()
        headers = {"content-type": content_type} if content_type else None
        response = await send(client, method, url, content, headers)
        assert response.status_code == 415, (method, url, content_type, response.text)
        assert response.json()["error"] == "unsupported_media_type"
    assert (await client.get("/spaces", params={"key": "k415"})).json() == []
    assert (await client.get(f"/markers/{marker['id']}")).json() == marker


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/merge-patch+json",
    ],
)
async def test_json_content_types_are_accepted(
    client: httpx.AsyncClient, content_type: str
) -> None:
    body = json.dumps({"key": f"k-{content_type}", "name": "n"}).encode()
    response = await send(client, "POST", "/spaces", body, {"content-type": content_type})
    assert response.status_code == 201, response.text


async def test_body_less_writes_without_a_content_type_work_like_curl(
    client: httpx.AsyncClient, make_marker: Factory
) -> None:
    """`curl -X DELETE …` and `curl -X POST …` (no `-d`) send no content type at all."""
    marker = await make_marker()
    session = marker["work_session_id"]
    calculated = await send(client, "POST", f"/markers/{marker['id']}/details/calculate")
    assert calculated.status_code == 200, calculated.text
    grant = await send(client, "POST", f"/locks/{session}")
    assert grant.status_code == 200 and grant.json()["acquired"] is True, grant.text
    deleted = await send(client, "DELETE", f"/markers/{marker['id']}")
    assert deleted.status_code == 204, deleted.text


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
async def test_browser_writes_from_another_site_are_403(
    client: httpx.AsyncClient, make_marker: Factory, site: str
) -> None:
    """A page elsewhere can send a body-less POST with no content type (no preflight either);
    the browser marks it with `Sec-Fetch-Site`, which no page can forge."""
    marker = await make_marker()
    session = marker["work_session_id"]
    for method, url in (
        ("POST", f"/locks/{session}"),
        ("POST", f"/locks/work-sessions/{session}"),
        ("DELETE", f"/markers/{marker['id']}"),
    ):
        response = await send(client, method, url, headers={"sec-fetch-site": site})
        assert response.status_code == 403, response.text
        assert response.json()["error"] == "cross_site_request"
    assert (await client.get(f"/locks/{session}")).json()["locked"] is False
    assert (await client.get(f"/markers/{marker['id']}")).status_code == 200
    # Reads are not writes, and the browser's own page (the docs) is same-origin.
    reading = await client.get(f"/locks/{session}", headers={"sec-fetch-site": site})
    assert reading.status_code == 200
    own = await send(client, "POST", f"/locks/{session}", headers={"sec-fetch-site": "same-origin"})
    assert own.json()["acquired"] is True


@pytest.mark.parametrize(
    "raw",
    [
        '{"version": false}',
        '{"version": true}',
        '{"started_at": 0}',
        '{"completed_at": 1700000000}',
        '{"started_at": 1.7e9}',
        '{"started_at": true}',
    ],
)
async def test_values_of_the_wrong_json_type_are_refused_not_coerced(
    client: httpx.AsyncClient, make_session: Factory, raw: str
) -> None:
    """`false` is not version 0, and `0` is not 1970-01-01T00:00:00Z (found by fuzzing)."""
    session = await make_session()
    url = f"/work-sessions/{session['id']}"
    response = await client.patch(url, content=raw)
    assert response.status_code == 422, response.text
    assert (await client.get(url)).json() == session


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("OPTIONS", "/anchors", {"GET", "POST"}),
        ("PUT", f"/markers/{uuid.UUID(int=1)}", {"GET", "PATCH", "DELETE"}),
        ("PUT", f"/locks/{uuid.UUID(int=1)}", {"GET", "POST", "DELETE"}),
        ("POST", f"/presence/{uuid.UUID(int=1)}/ann", {"DELETE"}),
        ("OPTIONS", "/markers/bulk", {"POST"}),
    ],
)
async def test_a_method_not_allowed_names_every_allowed_one(
    client: httpx.AsyncClient, method: str, path: str, allowed: set[str]
) -> None:
    """405's `Allow` lists what the resource supports, not only its first route's methods."""
    response = await client.request(method, path)
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    assert set(response.headers["allow"].split(", ")) - {"HEAD"} == allowed
