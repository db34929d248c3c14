"""What an operator sees: metrics that move with requests, a request id on every answer, one
log line per request that never carries a token, and the liveness/readiness probes.

(Several processes summed into one /metrics, and live streams: tests/server/test_observability.py.)
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import Request, Response
from prometheus_client.parser import text_string_to_metric_families

from roboscope import __version__
from roboscope.db.migrate import downgrade, upgrade
from roboscope.logs import JsonFormatter, TextFormatter
from roboscope.server.app import create_app
from roboscope.settings import Settings

from ..conftest import serving
from .conftest import SQUARE, Factory

METRICS = "http://roboscope.test/metrics"
ACCESS_LOGGER = "roboscope.access"  # the request lines' logger (docs/observability.md)
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get(METRICS)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


SPACE_ROUTE = "/api/v1/spaces/{space_id}"


async def test_requests_are_counted_by_route_template_and_status(
    client: httpx.AsyncClient, make_space: Factory
) -> None:
    space = await make_space()
    before = await scrape(client)
    for _ in range(3):
        assert (await client.get(f"/spaces/{space['id']}")).status_code == 200
    for _ in range(2):
        assert (await client.get(f"/spaces/{uuid.uuid4()}")).status_code == 404
    after = await scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "roboscope_http_requests_total"
    assert moved(requests, method="GET", route=SPACE_ROUTE, status="200") == 3
    assert moved(requests, method="GET", route=SPACE_ROUTE, status="404") == 2
    duration = "roboscope_http_request_duration_seconds"
    assert moved(f"{duration}_count", method="GET", route=SPACE_ROUTE) == 5
    assert moved(f"{duration}_bucket", method="GET", route=SPACE_ROUTE, le="+Inf") == 5
    assert moved(f"{duration}_sum", method="GET", route=SPACE_ROUTE) > 0
    # Buckets are cumulative and the largest holds everything.
    buckets = sorted(
        (float(dict(labels)["le"]), count)
        for (name, labels), count in after.items()
        if name == f"{duration}_bucket"
        and dict(labels).get("route") == SPACE_ROUTE
        and dict(labels).get("method") == "GET"
    )
    assert [count for _, count in buckets] == sorted(count for _, count in buckets)
    # No series is labelled with a concrete id.
    assert not any(space["id"] in str(labels) for _, labels in after)


async def test_unmatched_paths_share_one_label(client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    for n in range(3):
        response = await client.get(f"http://roboscope.test/scan/{uuid.uuid4()}/{n}")
        assert response.status_code == 404
    response = await client.request("BREW", "/spaces")
    after = await scrape(client)
    requests = "roboscope_http_requests_total"
    moved = value(after, requests, method="GET", route="unmatched", status="404") - value(
        before, requests, method="GET", route="unmatched", status="404"
    )
    assert moved == 3
    assert not any("/scan/" in str(labels) for _, labels in after)
    assert not any("BREW" in str(labels) for _, labels in after)
    brewed = [labels for (name, labels), _ in after.items() if ("method", "other") in labels]
    assert brewed, response.status_code


async def test_the_metrics_document_is_in_openapi(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert "text/plain" in document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    for path in ("/api/v1/health/live", "/api/v1/health/ready", "/api/v1/version"):
        assert "get" in document["paths"][path]


# -- request ids ----------------------------------------------------------------------------


async def test_a_request_id_is_made_and_returned(client: httpx.AsyncClient) -> None:
    first = await client.get("/spaces")
    second = await client.get("/spaces")
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_the_clients_request_id_is_kept(client: httpx.AsyncClient) -> None:
    sent = "edge-7f3a:upstream/42"
    response = await client.get("/spaces", headers={"X-Request-ID": sent})
    assert response.headers["x-request-id"] == sent


@pytest.mark.parametrize("bad", [b"x" * 129, b"has space", b"tab\there", "café".encode(), b""])
async def test_an_insane_request_id_is_replaced(client: httpx.AsyncClient, bad: bytes) -> None:
    response = await client.get("/spaces", headers={b"X-Request-ID": bad})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_refusals_of_the_middleware_carry_the_request_id(
    client: httpx.AsyncClient,
) -> None:
    for response in (
        await client.post("/spaces", content=b"x", headers={"content-type": "text/plain"}),
        await client.post("/spaces", json={}, headers={"sec-fetch-site": "cross-site"}),
        await client.post("/spaces", content=b"{}" * 3_000_000),
    ):
        assert response.status_code in (403, 413, 415)
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


# -- logs -----------------------------------------------------------------------------------


def request_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == ACCESS_LOGGER]


async def test_one_log_line_per_request_with_its_fields(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, make_space: Factory
) -> None:
    space = await make_space()
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    caplog.clear()
    response = await client.get(
        f"/spaces/{space['id']}?include=x", headers={"X-Request-ID": "trace-1"}
    )
    assert response.status_code == 200
    [record] = request_lines(caplog)
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "info"
    assert line["logger"] == ACCESS_LOGGER
    assert line["method"] == "GET"
    assert line["route"] == SPACE_ROUTE
    assert line["path"] == f"/api/v1/spaces/{space['id']}"
    assert line["status"] == 200
    assert line["request_id"] == "trace-1"
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    assert line["client"] == "127.0.0.1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
    assert "include=x" not in json.dumps(line)  # query strings are never logged
    text = TextFormatter().format(record)
    assert f"GET /api/v1/spaces/{space['id']} 200" in text
    assert "id=trace-1" in text


class Named:
    """What the auth dependency leaves in `request.state.identity` (only the name is read)."""

    token_name = "ci-robot"


@pytest.fixture
async def probe_app(
    settings: Settings, tmp_path: Path, database: object
) -> AsyncIterator[httpx.AsyncClient]:
    """An app of the test's own with three more routes: one that leaves a token's identity
    as the auth dependency does, one that crashes, one that answers 429 (the shared app
    stays as it is: its OpenAPI document is checked elsewhere)."""
    app = create_app(settings.model_copy(update={"data_dir": tmp_path}))

    @app.get("/api/v1/test-identity", include_in_schema=False)
    async def identity(request: Request) -> dict[str, str]:
        request.state.identity = Named()
        return {}

    @app.get("/api/v1/test-crash", include_in_schema=False)
    async def crash() -> None:
        raise RuntimeError("boom")

    @app.get("/api/v1/test-limited", include_in_schema=False)
    async def limited() -> Response:
        return Response(status_code=429)

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=transport, base_url="http://roboscope.test/api/v1") as http,
    ):
        yield http


async def test_the_log_line_names_the_token_not_the_token(
    probe_app: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    caplog.clear()
    await probe_app.get("/test-identity", headers={"Authorization": "Bearer secret-xyz"})
    [record] = request_lines(caplog)
    line = JsonFormatter().format(record)
    assert json.loads(line)["token_name"] == "ci-robot"
    assert "token=ci-robot" in TextFormatter().format(record)
    assert "secret-xyz" not in line


async def test_logs_never_carry_a_token(
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    make_session: Factory,
) -> None:
    session = await make_session()
    grant = (await client.post(f"/locks/{session['id']}", json={})).json()
    lock_token = grant["token"]
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    secret = "secret-xyz"
    await client.get("/spaces", headers={"Authorization": f"Bearer {secret}"})
    await client.get(f"/spaces?access_token={secret}")
    await client.get(f"/work-sessions/{session['id']}?access_token={secret}")
    await client.get(f"http://roboscope.test/nowhere?access_token={secret}")
    marker = await client.post(
        "/markers",
        json={"work_session_id": session["id"], **SQUARE},
        headers={"X-Lock-Token": lock_token, "Authorization": f"Bearer {secret}"},
    )
    assert marker.status_code == 201
    stale = await client.post(
        "/markers",
        json={"work_session_id": session["id"], **SQUARE},
        headers={"X-Lock-Token": "wrong-" + lock_token},
    )
    assert stale.status_code == 423
    await client.request("DELETE", f"/locks/{session['id']}", json={"token": lock_token})

    assert len(request_lines(caplog)) == 7
    # Everything the server logged (httpx's lines are this test client's own).
    server = [record for record in caplog.records if not record.name.startswith("httpx")]
    output = "\n".join(
        formatter.format(record)
        for record in server
        for formatter in (JsonFormatter(), TextFormatter())
    )
    for record in server:
        output += repr(record.__dict__)
    assert secret not in output
    assert lock_token not in output


async def test_an_unexpected_error_is_logged_with_the_request_id(
    probe_app: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    caplog.clear()
    response = await probe_app.get("/test-crash", headers={"X-Request-ID": "crash-1"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "crash-1"
    [error] = [record for record in caplog.records if record.levelno == logging.ERROR]
    line = json.loads(JsonFormatter().format(error))
    assert line["request_id"] == "crash-1"
    assert "RuntimeError: boom" in line["exception"]
    [request] = request_lines(caplog)
    assert request.__dict__["fields"]["status"] == 500
    assert request.__dict__["fields"]["request_id"] == "crash-1"


# -- health -----------------------------------------------------------------------------------


async def test_liveness_and_version(client: httpx.AsyncClient) -> None:
    live = await client.get("/health/live")
    assert live.status_code == 200
    assert live.json() == {"status": "ok", "version": __version__}
    version = await client.get("/version")
    assert version.json() == {"version": __version__, "api_version": "v1"}
    assert (await client.get("/health")).json()["version"] == __version__


async def test_ready_when_everything_serves(client: httpx.AsyncClient) -> None:
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    body = ready.json()
    [server] = body.pop("redis_nodes")  # the test Redis, or the embedded one's socket
    assert server["role"] == "primary" and server["address"]
    assert body == {
        "status": "ready",
        "version": __version__,
        "database": "up",
        "redis": "up",
        "redis_kind": "single",
        "migrations": "current",
        "problems": [],
    }


async def test_not_ready_while_migrations_are_behind(tmp_path: Path, settings: Settings) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'behind.db'}"
    await asyncio.to_thread(upgrade, url)
    await asyncio.to_thread(downgrade, url, "-1")
    async with serving(settings.model_copy(update={"database_url": url})) as client:
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "not_ready"
        assert body["migrations"] == "behind"
        assert body["database"] == "up"
        [problem] = body["problems"]
        assert "roboscope db upgrade" in problem
        # Liveness does not care: restarting the process would not help.
        assert (await client.get("/health/live")).status_code == 200
        await asyncio.to_thread(upgrade, url)
        assert (await client.get("/health/ready")).status_code == 200


# -- presence and locks, counted in Redis at scrape time ------------------------------------


@pytest.fixture
async def own_redis(settings: Settings, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An app on an embedded Redis of this test alone: the gauges count only its work."""
    async with serving(
        settings.model_copy(update={"redis_url": None, "data_dir": tmp_path})
    ) as client:
        yield client


async def test_presence_and_lock_gauges_follow_redis(
    own_redis: httpx.AsyncClient, database: object
) -> None:
    client = own_redis
    sessions = []
    for n in range(2):
        space = await client.post("/spaces", json={"key": f"g-{uuid.uuid4()}", "name": f"{n}"})
        body = {"space_id": space.json()["id"], "session_type": "inspection"}
        sessions.append((await client.post("/work-sessions", json=body)).json()["id"])

    def gauges(samples: Samples) -> tuple[float, float, float]:
        return (
            value(samples, "roboscope_presence_sessions"),
            value(samples, "roboscope_presence_members"),
            value(samples, "roboscope_locks_held"),
        )

    assert gauges(await scrape(client)) == (0, 0, 0)
    for user in ("ann", "bob"):
        await client.post(f"/presence/{sessions[0]}", json={"user_id": user, "device_id": "a"})
    await client.post(f"/presence/{sessions[0]}", json={"user_id": "ann", "device_id": "b"})
    await client.post(f"/presence/{sessions[1]}", json={"user_id": "ann"})
    grant = (await client.post(f"/locks/{sessions[0]}", json={})).json()
    assert gauges(await scrape(client)) == (2, 3, 1)

    await client.delete(f"/presence/{sessions[1]}/ann")
    await client.request("DELETE", f"/locks/{sessions[0]}", json={"token": grant["token"]})
    assert gauges(await scrape(client)) == (1, 2, 0)


async def test_429_answers_count_as_rate_limited(probe_app: httpx.AsyncClient) -> None:
    """Whatever refuses with 429 (a rate limit, a connection cap) is counted, once."""
    name = "roboscope_rate_limited_requests_total"
    before = value(await scrape(probe_app), name)
    assert (await probe_app.get("/test-limited")).status_code == 429
    assert (await probe_app.get("/spaces")).status_code == 200
    assert value(await scrape(probe_app), name) - before == 1
