"""Limits that only real server processes show: one rate budget shared by two processes
(kept in Redis), and the caps on live streams, per process and per caller, refused with a
short JSON answer before a stream starts."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from contextlib import AsyncExitStack
from pathlib import Path

import httpx

from ..servers import running_server

Json = dict[str, object]


def _address() -> str:
    """A caller of this test alone (the shared Redis outlives a test); the servers trust
    `X-Forwarded-For` from loopback (uvicorn's default), so each test client picks its own."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def _short_json(response: httpx.Response, status: int, error: str) -> Json:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert len(response.content) < 200
    body: Json = response.json()
    assert body["error"] == error
    assert int(response.headers["retry-after"]) >= 1
    return body


async def test_two_processes_draw_on_one_budget(tmp_path: Path, shared_redis_url: str) -> None:
    env = {
        "ROBOSCOPE_REDIS_URL": shared_redis_url,
        "ROBOSCOPE_RATE_LIMITS": "true",
        "ROBOSCOPE_RATE_LIMIT_HEARTBEATS_PER_SECOND": "0.01",  # no refill during the test
        "ROBOSCOPE_RATE_LIMIT_HEARTBEATS_BURST": "4",
    }
    caller = {"X-Forwarded-For": _address()}
    session = uuid.uuid4()
    beat = {"user_id": "u", "device_id": "d"}
    with (
        running_server(tmp_path / "one", env=env) as one,
        running_server(tmp_path / "two", env=env) as two,
    ):
        async with httpx.AsyncClient(headers=caller) as http:
            for server in (one, two, one, two):
                answer = await http.post(f"{server.api}/presence/{session}", json=beat)
                assert answer.status_code == 200, answer.text
            for server in (one, two):
                refused = await http.post(f"{server.api}/presence/{session}", json=beat)
                body = _short_json(refused, 429, "rate_limited")
                assert body["budget"] == "heartbeats"
            # Another caller, the same processes: a budget of its own.
            elsewhere = {"X-Forwarded-For": _address()}
            answer = await http.post(f"{one.api}/presence/{session}", json=beat, headers=elsewhere)
            assert answer.status_code == 200


async def _session(http: httpx.AsyncClient, api: str) -> str:
    space = await http.post(f"{api}/spaces", json={"key": f"k-{uuid.uuid4()}", "name": "S"})
    body = {"space_id": space.json()["id"], "session_type": "inspection"}
    session: str = (await http.post(f"{api}/work-sessions", json=body)).json()["id"]
    return session


async def test_live_streams_are_capped_per_caller_and_per_process(tmp_path: Path) -> None:
    env = {"ROBOSCOPE_LIVE_MAX_STREAMS": "3", "ROBOSCOPE_LIVE_MAX_STREAMS_PER_CALLER": "2"}
    alice, bob, carol = ({"X-Forwarded-For": _address()} for _ in range(3))
    with running_server(tmp_path, env=env) as server:
        timeout = httpx.Timeout(10, read=None)
        async with AsyncExitStack() as streams, httpx.AsyncClient(timeout=timeout) as http:
            session = await _session(http, server.api)
            url = f"{server.api}/work-sessions/{session}/events"

            async def open_stream(caller: dict[str, str]) -> httpx.Response:
                request = http.build_request("GET", url, headers=caller)
                response = await http.send(request, stream=True)
                if response.status_code == 200:
                    streams.push_async_callback(response.aclose)
                else:
                    await response.aread()
                    await response.aclose()
                return response

            # Refused streams hold no place.
            missing = f"{server.api}/work-sessions/{uuid.uuid4()}/events"
            for _ in range(3):
                assert (await http.get(missing, headers=alice)).status_code == 404
                bad_id = {**alice, "Last-Event-ID": "not-a-cursor"}
                assert (await http.get(url, headers=bad_id)).status_code == 422
                ahead = await http.get(url, headers=alice, params={"since": 10**9})
                assert ahead.status_code == 410
            first = await open_stream(alice)
            assert first.status_code == 200
            assert (await open_stream(alice)).status_code == 200
            body = _short_json(await open_stream(alice), 429, "too_many_streams")
            assert "budget" not in body
            assert (await open_stream(bob)).status_code == 200  # 3 of 3 on this process
            _short_json(await open_stream(carol), 503, "stream_capacity")
            _short_json(await open_stream(bob), 503, "stream_capacity")

            # A stream that ends gives its place back (once the server sees the disconnect).
            await first.aclose()
            deadline = time.monotonic() + 20
            while True:
                again = await open_stream(carol)
                if again.status_code == 200:
                    break
                assert again.status_code == 503, again.text
                assert time.monotonic() < deadline, "the closed stream's place never came back"
                await asyncio.sleep(0.2)
            # Other requests are not affected by the stream caps.
            assert (await http.get(f"{server.api}/health")).status_code == 200
