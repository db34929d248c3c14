"""Many concurrent requests: waiting for a pooled Redis connection is not an outage, so a
healthy Redis gives no 503 (and no other error) however many wait, on a real server process
and in the pool itself."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import httpx
import pytest
from redis.exceptions import RedisError

from roboscope.errors import ServiceUnavailable
from roboscope.realtime.connection import create_redis, unavailable

from ..servers import running_server

CONCURRENCY = 250


async def _one_client(api: str, index: int) -> list[str]:
    """A device: its own connection, a heartbeat and a lock cycle; returns what went wrong
    (nothing, we expect).

    One client per device, as in the field: 250 tasks sharing one httpx pool spend seconds in
    the pool's own bookkeeping, and its keep-alive expiry can close a connection it has just
    handed to a waiting request (a client-side `ReadError(ClosedResourceError)` that the
    server never saw: it had answered every request)."""
    try:
        async with httpx.AsyncClient(timeout=60) as http:
            return await _cycle(http, api, index)
    except httpx.TransportError as error:  # a dropped connection counts as a failure too
        return [repr(error)]


async def _cycle(http: httpx.AsyncClient, api: str, index: int) -> list[str]:
    problems: list[str] = []
    presence = f"{api}/presence/{uuid.UUID(int=index // 10 + 10_000)}"  # 10 users a session
    beat = await http.post(presence, json={"user_id": f"u{index}"})
    if beat.status_code != 200:
        problems.append(f"heartbeat {beat.status_code} {beat.text[:100]}")
    lock = f"{api}/locks/{uuid.uuid4()}"
    grant = await http.post(lock, json={"ttl_seconds": 30})
    if grant.status_code != 200 or not grant.json()["acquired"]:
        problems.append(f"acquire {grant.status_code} {grant.text[:100]}")
        return problems
    released = await http.request("DELETE", lock, json={"token": grant.json()["token"]})
    if released.status_code != 200 or not released.json()["released"]:
        problems.append(f"release {released.status_code} {released.text[:100]}")
    return problems


@pytest.mark.parametrize("pool", [None, 2], ids=["default-pool", "pool-of-2"])
async def test_concurrent_requests_wait_for_a_connection(tmp_path: Path, pool: int | None) -> None:
    """A pool of 2 makes nearly every request wait, on any machine; the default pool (100)
    is what the issue saw refuse two thirds of 200 concurrent requests."""
    # The server keeps idle connections longer than the test runs: a keep-alive close racing
    # a request reused on a loaded 2-core machine (a ReadError) is not what this test is about.
    env = {"ROBOSCOPE_HTTP_KEEP_ALIVE_SECONDS": "120"}
    if os.environ.get("ROBOSCOPE_TEST_REDIS_URL"):  # else the server's own embedded Redis
        env["ROBOSCOPE_REDIS_URL"] = os.environ["ROBOSCOPE_TEST_REDIS_URL"]
    if pool is not None:
        env["ROBOSCOPE_REDIS_MAX_CONNECTIONS"] = str(pool)
    with running_server(tmp_path, env=env) as server:
        results = await asyncio.gather(*(_one_client(server.api, i) for i in range(CONCURRENCY)))
        problems = [problem for result in results for problem in result]
        assert problems == [], f"{len(problems)} failed, e.g. {problems[:3]}"


async def test_waiting_requests_get_connections_in_turn(redis_url: str) -> None:
    """A steady load of far more requests than connections: each waits only for the ones
    ahead of it, so none waits out the pool timeout while Redis answers. (redis-py's own
    blocking pool let newcomers take freed connections first: some waited until they failed.)"""
    client = create_redis(redis_url, max_connections=2, pool_timeout=1.0)
    failures: list[BaseException] = []

    async def steady(index: int) -> None:
        for _ in range(30):
            try:
                await client.incr(f"roboscope:test:turns:{index}")
            except ServiceUnavailable as error:
                failures.append(error)
            except RedisError as error:
                failures.append(unavailable(error) or error)

    try:
        await asyncio.gather(*(steady(i) for i in range(300)))
    finally:
        await client.aclose()
    assert failures == []
