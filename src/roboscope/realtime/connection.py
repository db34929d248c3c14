"""Creating Redis clients, and turning "Redis cannot serve this now" into one domain error.

Callers never see redis-py exceptions for an outage: every Redis call runs inside `guard`,
the one place where an error that means "not now" (unreachable, timed out, out of memory,
busy with a script, loading, read-only after a failover, cluster down; `unavailable()`)
becomes `RedisUnavailable`, which the HTTP edge answers with 503 and `Retry-After`, with the
reason in the message. The guard also reports each failure and each answer to the client's
outage tracker (outages.py), which logs an outage once. Any other Redis error is a bug and
stays one. Nothing here caches a broken state: once Redis is back the next request simply
works.

The pool. Each process keeps at most `max_connections` connections to Redis and a request
that finds them all busy waits for one, at most `pool_timeout` seconds (redis-py's
`BlockingConnectionPool`; its default pool refuses at once instead, which turned load into
false 503s). With a healthy Redis a connection is free again within milliseconds, so the
wait runs out only when Redis stops answering (its commands then hold their connections
until the command timeout) or when one process is given far more concurrent Redis work than
it can do in `pool_timeout` seconds: then raise the pool size or add processes.

Retries. redis-py retries a command once after a connection error: a pooled connection that
died with a Redis restart is replaced without the request noticing. It never retries after a
timeout: Redis may still run the command it did not answer in time, and a second copy only
adds work to a stalled server. Every script is safe to run twice (see `locks.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from weakref import WeakKeyDictionary

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import (
    BusyLoadingError,
    ClusterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from roboscope.errors import RETRY_AFTER_SECONDS, ServiceUnavailable
from roboscope.realtime.outages import Outages

# Clients give up after 30 s; a request must fail fast (and get 503) long before that.
DEFAULT_TIMEOUT = 2.0
DEFAULT_MAX_CONNECTIONS = 100
DEFAULT_POOL_TIMEOUT = 5.0
_RETRY = Retry(
    ExponentialBackoff(cap=0.2, base=0.05), retries=1, supported_errors=(RedisConnectionError,)
)


class RedisUnavailable(ServiceUnavailable):
    """Redis cannot serve this request now (503); `reason` says why.

    `outcome_unknown` is True when the command may have reached Redis and run there although
    no answer came back (a timeout, a connection lost mid-command): a caller that changed
    state must then undo what it may have done. `unreachable` tells a server that cannot be
    reached at all (nobody sees its state meanwhile) from one that stalls.
    """

    def __init__(
        self,
        reason: str,
        retry_after: int = RETRY_AFTER_SECONDS,
        *,
        outcome_unknown: bool = False,
        unreachable: bool = False,
    ) -> None:
        super().__init__("redis", retry_after)
        self.reason = reason
        self.outcome_unknown = outcome_unknown
        self.unreachable = unreachable
        self.message = f"redis is unavailable ({reason}), retry shortly"
        self.args = (self.message,)


class PoolExhausted(RedisConnectionError):
    """No pooled connection became free within the pool timeout (nothing was sent)."""


class _BlockingPool(aioredis.BlockingConnectionPool):
    """redis-py's blocking pool, with waiters served first come, first served.

    redis-py's own wait (an `asyncio.Condition`) lets a newly arrived request take a freed
    connection before the requests already waiting, so under a steady load of more requests
    than connections one of them could lose every time until its wait ran out: a 503 with a
    healthy Redis (seen with 1,000 connections on one process). An `asyncio.Semaphore`
    queues waiters in order, so each waits only for the requests ahead of it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._turns = asyncio.Semaphore(self.max_connections)
        self._lent: set[Any] = set()  # connections handed out, each holding one turn

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        try:
            async with asyncio.timeout(self.timeout):
                await self._turns.acquire()
        except TimeoutError:
            raise PoolExhausted(
                f"no connection to Redis became free within {self.timeout:g} s"
            ) from None
        try:
            connection = await super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call]
        except BaseException:
            # (A connection that failed to connect was already given back by redis-py, through
            # `release`, before it was lent: its turn is returned here, once.)
            self._turns.release()
            raise
        self._lent.add(connection)
        return connection

    async def release(self, connection: Any) -> None:
        try:
            await super().release(connection)
        finally:
            if connection in self._lent:
                self._lent.discard(connection)
                self._turns.release()


# Error codes that mean "not now", when redis-py has no class for them or Redis 6 wraps them
# in a script error ("Error running script (call to f_…): @user_script:9: -OOM command …").
_NOT_NOW = {
    "OOM": ("out of memory", 5),
    "BUSY": ("busy running a script", 2),
    "LOADING": ("loading its data set", 5),
    "READONLY": ("read-only, a failover is in progress", 2),
    "MASTERDOWN": ("cluster is unavailable", 2),
    "CLUSTERDOWN": ("cluster is unavailable", 2),
    "TRYAGAIN": ("cluster is unavailable", 2),
}


def _error_code(error: ResponseError) -> str:
    text = str(error)
    if text.startswith("Error running script"):
        text = text.rpartition(": -")[2]
    return text.split(" ", 1)[0]


def unavailable(error: BaseException) -> RedisUnavailable | None:
    """The 503 for a redis-py (or socket) error that means "not now"; None for anything else,
    which is a bug and must stay visible as one."""
    if isinstance(error, PoolExhausted):
        return RedisUnavailable(str(error), retry_after=1)
    if isinstance(error, BusyLoadingError):  # a ConnectionError subclass: test it first
        return RedisUnavailable(*_NOT_NOW["LOADING"])
    if isinstance(error, RedisTimeoutError | TimeoutError):
        return RedisUnavailable("timed out", outcome_unknown=True)
    if isinstance(error, RedisConnectionError | OSError):
        return RedisUnavailable("unreachable", outcome_unknown=True, unreachable=True)
    # redis-py strips the code from the errors it has a class for.
    if isinstance(error, OutOfMemoryError):
        return RedisUnavailable(*_NOT_NOW["OOM"])
    if isinstance(error, ReadOnlyError):
        return RedisUnavailable(*_NOT_NOW["READONLY"])
    if isinstance(error, TryAgainError | ClusterDownError):  # MasterDownError included
        return RedisUnavailable(*_NOT_NOW["CLUSTERDOWN"])
    if isinstance(error, ResponseError) and (known := _NOT_NOW.get(_error_code(error))):
        return RedisUnavailable(*known)
    return None


def create_redis(
    url: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    pool_timeout: float = DEFAULT_POOL_TIMEOUT,
) -> aioredis.Redis:
    """A client for `redis://`, `rediss://` (TLS) or `unix://` URLs, passwords included.

    Responses are decoded to `str`. The connect and command timeouts bound every command, and
    `pool_timeout` bounds the wait for a free connection, so a dead, stalled or unreachable
    server costs a request a few seconds at most, never a hang.
    """
    pool = _BlockingPool.from_url(
        url,
        max_connections=max_connections,
        timeout=pool_timeout,
        decode_responses=True,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        health_check_interval=15,
        retry=_RETRY,
    )
    return aioredis.Redis.from_pool(pool)


class Guard:
    """`async with guard(client):` around Redis calls of `client`: "Redis cannot serve this
    now" surfaces as `RedisUnavailable`, and the client's `outages` hear of every failure and
    every answer. Holds no state of one call, so one guard serves every call of its client
    at once (a class, not a generator: scripts use it on the hottest paths)."""

    __slots__ = ("_answers", "outages")

    def __init__(self, outages: Outages, *, answers: bool = True) -> None:
        self.outages = outages
        self._answers = answers

    def failures_only(self) -> Guard:
        """A guard on the same outages that reports failures but no answers: for waits whose
        quiet return proves nothing (an idle pub/sub channel reads nothing from a stalled
        Redis too)."""
        return Guard(self.outages, answers=False)

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if error is None:
            if self._answers:
                self.outages.answered()
        elif isinstance(error, RedisError | OSError) and (mapped := unavailable(error)):
            self.outages.failed(mapped.reason)
            raise mapped from error


_GUARDS: WeakKeyDictionary[Any, Guard] = WeakKeyDictionary()


def guard(client: aioredis.Redis) -> Guard:
    """The guard of `client`'s connection pool: every client on one pool shares one outage."""
    pool = client.connection_pool
    found = _GUARDS.get(pool)
    if found is None:
        found = _GUARDS[pool] = Guard(Outages())
    return found


STOP_ROUNDS = 5


async def stop_tasks(tasks: Iterable[asyncio.Task[Any]]) -> int:
    """Cancel background tasks that use Redis and wait for them; how many did not stop.

    A cancel that lands while redis-py is connecting can be swallowed by it (the task
    carries on to its next wait), so the tasks still running are asked again, a bounded
    number of times: a shutdown never waits forever on one of them."""
    pending = set(tasks)
    for _ in range(STOP_ROUNDS):
        if not pending:
            break
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=1)
    return len(pending)


async def ping(client: aioredis.Redis) -> bool:
    """True when Redis answers PING; never raises."""
    try:
        async with asyncio.timeout(DEFAULT_TIMEOUT + 1):
            return bool(await client.ping())
    except Exception:
        return False


@dataclass(frozen=True, slots=True)
class RedisHealth:
    """What /health reports about Redis: up, or down with the reason."""

    up: bool
    problem: str | None = None


async def check(client: aioredis.Redis) -> RedisHealth:
    """Whether Redis can serve presence and locks now, probed live (nothing remembered).

    PING finds an unreachable, stalled, loading or script-busy server. A full one still
    answers PING, so `INFO memory` is compared too: with the `noeviction` policy (the one under
    which writes fail instead of evicting keys) a used memory at `maxmemory` refuses every
    write. A replica (after a failover demoted this server) refuses writes as well.
    """
    try:
        async with asyncio.timeout(DEFAULT_TIMEOUT + 1), guard(client):
            await client.ping()
            memory = await _info(client, "memory")
            replication = await _info(client, "replication")
    except RedisUnavailable as error:
        return RedisHealth(up=False, problem=error.reason)
    except TimeoutError:  # no pooled connection came free in time, or the probe stalled
        return RedisHealth(up=False, problem="timed out")
    except (RedisError, OSError) as error:
        return RedisHealth(up=False, problem=f"unexpected answer: {error.__class__.__name__}")
    limit = int(memory.get("maxmemory", 0) or 0)
    used = int(memory.get("used_memory", 0) or 0)
    if limit and used >= limit and memory.get("maxmemory_policy") == "noeviction":
        return RedisHealth(up=False, problem=f"out of memory ({used} of {limit} bytes used)")
    if replication.get("role") == "slave":
        return RedisHealth(up=False, problem="read-only replica, a failover is in progress")
    return RedisHealth(up=True)


async def _info(client: aioredis.Redis, section: str) -> dict[str, Any]:
    """One INFO section; empty where INFO is not allowed (some managed services forbid it)."""
    try:
        info: dict[str, Any] = await client.info(section)
    except ResponseError as error:
        if unavailable(error) is not None:
            raise
        return {}
    return info
