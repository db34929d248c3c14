"""Redis through a TCP proxy that tests can stall or reset, beside a direct connection that
reads the truth: faults between the calls of one operation, and whole outages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis

from roboscope.errors import RedisUnavailable
from roboscope.realtime import scripts
from roboscope.realtime.connection import create_redis

from ..conftest import require_service
from ..tcp_proxy import Fault, TcpProxy

TIMEOUT = 0.5  # the proxied client's command timeout: a stall outlasts it
SCRIPTS_LOADED = [
    *(f"lock_{name}" for name in ("acquire", "abandon", "extend", "release", "status", "sweep")),
    "lock_force_release",
    *(f"presence_{name}" for name in ("heartbeat", "leave", "snapshot", "sweep")),
    "rate_take",
    "rate_refund",
]
T = TypeVar("T")


class Proxied:
    def __init__(self, proxy: TcpProxy, through: Redis, direct: Redis) -> None:
        self.proxy = proxy
        self.through = through
        self.direct = direct

    async def faulted(self, writes: int, fault: Fault, call: Awaitable[T]) -> T | RedisUnavailable:
        """`call`'s answer, or its 503, with `fault` after its first `writes` calls; the proxy
        heals before this returns (a stalled call's data then reaches Redis, late)."""
        self.proxy.fault_after(writes, fault)
        try:
            return await call
        except RedisUnavailable as error:
            return error
        finally:
            await self.proxy.heal()


@pytest.fixture
async def proxied(redis_url: str) -> AsyncIterator[Proxied]:
    """For the external Redis only (a TCP proxy cannot stand before a unix socket or a
    cluster): tests/realtime/conftest.py gives tests that use it no other kind."""
    assert redis_url == require_service("ROBOSCOPE_TEST_REDIS_URL", "Redis over TCP")
    real = urlsplit(redis_url)
    proxy = TcpProxy(real.hostname or "127.0.0.1", real.port or 6379)
    await proxy.start()
    # (One Redis behind a proxy: never a cluster client.)
    through: Redis = create_redis(proxy.url(redis_url), timeout=TIMEOUT)  # type: ignore[assignment]
    direct: Redis = create_redis(redis_url)  # type: ignore[assignment]
    await direct.flushdb()
    # As in a running server: the scripts loaded, a connection open (else loading a script or
    # connecting would be an operation's first call).
    for name in SCRIPTS_LOADED:
        await direct.script_load(scripts.source_for(direct, name))
    await through.ping()
    try:
        yield Proxied(proxy, through, direct)
    finally:
        await through.aclose()
        await direct.aclose()
        await proxy.stop()


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within: float = 5) -> None:
    """Wait until `check()` holds, polling; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)
