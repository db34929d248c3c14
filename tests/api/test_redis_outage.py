"""Redis going away, full, or busy: presence and locks answer 503 with the reason, /health
says so, the data API keeps working, and everything recovers without a restart."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from roboscope import __version__
from roboscope.realtime.embedded import EmbeddedRedis
from roboscope.settings import Settings

from ..conftest import require_service, serving
from ..realtime.busy import admin, busy, private_redis, wait_until_busy_replies
from ..tcp_proxy import TcpProxy
from .conftest import SQUARE

__all__ = ["private_redis"]  # the fixture


@pytest.fixture
async def proxied(
    settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[TcpProxy, httpx.AsyncClient]]:
    url = require_service("ROBOSCOPE_TEST_REDIS_URL", "Redis over TCP")
    real = urlsplit(url)
    proxy = TcpProxy(real.hostname or "127.0.0.1", real.port or 6379)
    await proxy.start()
    through = proxy.url(url)
    async with serving(
        settings.model_copy(
            update={"redis_url": through, "data_dir": tmp_path, "rate_limits": True}
        )
    ) as client:
        yield proxy, client
    await proxy.stop()


async def test_redis_outage_is_503_for_realtime_only(
    proxied: tuple[TcpProxy, httpx.AsyncClient],
) -> None:
    """(With the rate limits on: their limiter cannot reach Redis either, and lets the data
    API through.)"""
    proxy, client = proxied
    space = (await client.post("/spaces", json={"key": f"k-{uuid.uuid4()}", "name": "s"})).json()
    session = (
        await client.post(
            "/work-sessions", json={"space_id": space["id"], "session_type": "repair"}
        )
    ).json()
    presence = f"/presence/{session['id']}"
    assert (await client.post(presence, json={"user_id": "u"})).status_code == 200
    grant = (await client.post(f"/locks/{session['id']}", json={})).json()

    await proxy.stop()
    for response in (
        await client.post(presence, json={"user_id": "u"}),
        await client.get(presence),
        await client.delete(f"{presence}/u"),
        await client.post(f"/locks/{session['id']}", json={}),
        await client.get(f"/locks/work-sessions/{session['id']}/status"),
        await client.request("DELETE", f"/locks/{session['id']}", json={"token": "t"}),
        await client.post(
            "/markers",
            json={"work_session_id": session["id"], **SQUARE},
            headers={"X-Lock-Token": grant["token"]},
        ),
    ):
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"].isdigit()
        assert response.json() == {
            "error": "service_unavailable",
            "message": "redis is unavailable (unreachable), retry shortly",
            "service": "redis",
        }

    # The data API does not need Redis.
    marker = await client.post("/markers", json={"work_session_id": session["id"], **SQUARE})
    assert marker.status_code == 201
    assert (await client.get(f"/work-sessions/{session['id']}")).status_code == 200
    health = await client.get("/health")
    assert health.status_code == 200
    assert health.json() == {
        "status": "degraded",
        "version": __version__,
        "database": "up",
        "redis": "down",
        "redis_problem": "unreachable",
    }

    await proxy.start()
    assert (await client.get(presence)).json()["users"] == ["u"]
    assert (await client.get(f"/locks/{session['id']}")).json()["locked"] is True
    assert (await client.get("/health")).json() == {
        "status": "ok",
        "version": __version__,
        "database": "up",
        "redis": "up",
    }


@pytest.fixture
async def on_private_redis(
    settings: Settings, tmp_path: Path, private_redis: EmbeddedRedis
) -> AsyncIterator[httpx.AsyncClient]:
    """The app on a Redis of this test alone, which it may fill or stall."""
    own = settings.model_copy(update={"redis_url": private_redis.url, "data_dir": tmp_path})
    async with serving(own) as client:
        yield client


def _assert_503(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"].isdigit()
    assert response.json() == {
        "error": "service_unavailable",
        "message": f"redis is unavailable ({reason}), retry shortly",
        "service": "redis",
    }


async def _assert_redis_works(client: httpx.AsyncClient) -> None:
    session = uuid.uuid4()
    assert (await client.post(f"/presence/{session}", json={"user_id": "u"})).status_code == 200
    assert (await client.post(f"/locks/{session}", json={})).json()["acquired"] is True
    health = (await client.get("/health")).json()
    assert health == {
        "status": "ok",
        "version": __version__,
        "database": "up",
        "redis": "up",
    }


async def test_redis_out_of_memory_is_503_and_reported_until_it_recovers(
    on_private_redis: httpx.AsyncClient, private_redis: EmbeddedRedis
) -> None:
    client = on_private_redis
    session = uuid.uuid4()
    held = (await client.post(f"/locks/{session}", json={"owner": "ann"})).json()
    async with admin(private_redis.url) as redis:
        await redis.config_set("maxmemory", "1")  # every write is refused: OOM
        try:
            _assert_503(
                await client.post(f"/presence/{session}", json={"user_id": "u"}), "out of memory"
            )
            _assert_503(await client.post(f"/locks/{uuid.uuid4()}", json={}), "out of memory")
            # Reads still work.
            status = (await client.get(f"/locks/{session}")).json()
            assert (status["locked"], status["fence"]) == (True, held["fence"])
            health = await client.get("/health")
            assert health.status_code == 200
            report = health.json()
            assert (report["status"], report["redis"]) == ("degraded", "down")
            assert report["redis_problem"].startswith("out of memory (")
        finally:
            await redis.config_set("maxmemory", "0")
    await _assert_redis_works(client)


async def test_redis_busy_with_a_script_is_503_and_reported_until_it_recovers(
    on_private_redis: httpx.AsyncClient, private_redis: EmbeddedRedis
) -> None:
    client = on_private_redis
    async with admin(private_redis.url) as redis:
        await redis.config_set("lua-time-limit", "100")  # BUSY replies after 0.1 s, not 5 s
    session = uuid.uuid4()
    async with busy(private_redis.url, 3000):
        await wait_until_busy_replies(private_redis.url)
        _assert_503(
            await client.post(f"/presence/{session}", json={"user_id": "u"}),
            "busy running a script",
        )
        _assert_503(await client.post(f"/locks/{session}", json={}), "busy running a script")
        _assert_503(await client.get(f"/locks/{session}"), "busy running a script")
        report = (await client.get("/health")).json()
        assert report == {
            "status": "degraded",
            "version": __version__,
            "database": "up",
            "redis": "down",
            "redis_problem": "busy running a script",
        }
    await _assert_redis_works(client)
    assert (await client.get(f"/locks/{session}")).json()["locked"] is False


async def test_not_ready_and_counted_while_redis_is_down(
    proxied: tuple[TcpProxy, httpx.AsyncClient],
) -> None:
    """Readiness needs Redis too; the scrape still answers (without the presence and lock
    gauges, which live in Redis) and counts the failures."""
    proxy, client = proxied
    assert (await client.get("/health/ready")).status_code == 200
    before = (await client.get("http://roboscope.test/metrics")).text
    assert "roboscope_locks_held" in before

    await proxy.stop()
    ready = await client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.headers["retry-after"].isdigit()
    body = ready.json()
    assert (body["status"], body["database"], body["redis"]) == ("not_ready", "up", "down")
    assert body["migrations"] == "current"
    assert body["problems"] == ["redis unreachable"]
    assert (await client.get("/health/live")).status_code == 200
    assert (
        await client.post(f"/presence/{uuid.uuid4()}", json={"user_id": "u"})
    ).status_code == 503
    during = await client.get("http://roboscope.test/metrics")
    assert during.status_code == 200
    assert "roboscope_locks_held" not in during.text
    assert _redis_errors(during.text) >= _redis_errors(before) + 2

    await proxy.start()
    assert (await client.get("/health/ready")).status_code == 200


def _redis_errors(metrics: str) -> float:
    [line] = [
        line for line in metrics.splitlines() if line.startswith("roboscope_redis_errors_total ")
    ]
    return float(line.split()[-1])


async def test_an_outage_is_logged_once_and_the_sweeper_logs_no_tracebacks(
    proxied: tuple[TcpProxy, httpx.AsyncClient], caplog: pytest.LogCaptureFixture
) -> None:
    """Requests, lock undos, the expiry sweeper (every second) and the live channel all fail
    during the outage: one warning when it starts, one line when Redis is back; the rate
    limiter (on here) says once that it lets requests through."""
    caplog.set_level(logging.INFO)
    proxy, client = proxied
    before = _redis_errors((await client.get("http://roboscope.test/metrics")).text)
    await proxy.stop()
    session = uuid.uuid4()
    for _ in range(20):
        assert (await client.post(f"/presence/{session}", json={"user_id": "u"})).status_code == 503
        assert (await client.post(f"/locks/{session}", json={"ttl_seconds": 1})).status_code == 503
    deadline = time.monotonic() + 10
    while True:  # until the sweeper has failed a few rounds too (one a second)
        errors = _redis_errors((await client.get("http://roboscope.test/metrics")).text)
        if errors >= before + 40 + 3:
            break
        assert time.monotonic() < deadline, "the sweeper did not run"
        await asyncio.sleep(0.1)
    await proxy.start()
    deadline = time.monotonic() + 10
    while not any(r.getMessage().startswith("redis answers again") for r in caplog.records):
        assert time.monotonic() < deadline, "the end of the outage was not logged"
        await asyncio.sleep(0.1)

    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    # (The first failure's reason depends on which call meets the outage first: a pooled
    # connection that breaks mid-command may time out before a new one is refused.)
    noisy = [(r.name, r.getMessage()) for r in caplog.records if r.levelno >= logging.WARNING]
    assert [name for name, _ in noisy] == ["roboscope.redis", "roboscope.limits"], noisy
    assert noisy[0][1].startswith("redis is unavailable (")
    assert noisy[0][1].endswith(
        "): presence, locks and fenced writes get 503 until it answers again"
    )
    assert noisy[1][1].startswith("rate limits not enforced: redis is unavailable (")
