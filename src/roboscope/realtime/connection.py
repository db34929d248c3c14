"""Creating Redis clients, and turning "Redis is unreachable" into one domain error.

Callers never see redis-py exceptions for an outage: `guard()` maps them to
`ServiceUnavailable("redis")`, which the HTTP edge answers with 503 and `Retry-After`. Nothing
here caches a broken state: redis-py reconnects per command, so once Redis is back the next
request simply works.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from roboscope.errors import ServiceUnavailable

# Clients give up after 30 s; a request must fail fast (and get 503) long before that. One quick
# retry lets a pooled connection that died with a Redis restart be replaced transparently.
DEFAULT_TIMEOUT = 2.0
_RETRY = Retry(ExponentialBackoff(cap=0.2, base=0.05), retries=1)

# What an outage looks like from redis-py. BusyLoadingError is a ConnectionError (Redis still
# loading); ReadOnlyError is what a demoted primary answers during a failover. Both are transient.
# Python's TimeoutError and asyncio.TimeoutError are OSError subclasses.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ReadOnlyError,
    OSError,
)


def create_redis(url: str, *, timeout: float = DEFAULT_TIMEOUT) -> aioredis.Redis:
    """A client for `redis://`, `rediss://` (TLS) or `unix://` URLs, passwords included.

    Responses are decoded to `str`. The connect and socket timeouts bound every command, so a
    dead or unreachable server costs a request a few seconds at most, never a hang.
    """
    client: aioredis.Redis = aioredis.Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        health_check_interval=15,
        retry=_RETRY,
    )
    return client


@asynccontextmanager
async def guard(service: str = "redis") -> AsyncIterator[None]:
    """Run a block of Redis calls; an outage surfaces as `ServiceUnavailable`."""
    try:
        yield
    except UNAVAILABLE as exc:
        raise ServiceUnavailable(service) from exc


async def ping(client: aioredis.Redis) -> bool:
    """True when Redis answers PING; for /health, so it never raises."""
    try:
        async with asyncio.timeout(DEFAULT_TIMEOUT + 1):
            return bool(await client.ping())
    except Exception:
        return False
