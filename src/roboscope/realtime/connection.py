"""Creating Redis clients, and turning "Redis cannot serve this now" into one domain error.

One client for whichever Redis `ROBOSCOPE_REDIS_URL` names (roboscope/redis_endpoints.py):
one server, the primary of a Sentinel set (every new connection asks the sentinels where it
is, so connections opened after a failover reach the new primary), or a Redis Cluster
(redis-py's cluster client, which routes each command by the slot of its keys and follows
MOVED and ASK). The stores use them alike (`RedisClient`).

Callers never see redis-py exceptions for an outage: every Redis call runs inside `guard`,
the one place where an error that means "not now" (unreachable, timed out, out of memory,
busy with a script, loading, read-only after a failover, cluster down; `unavailable()`)
becomes `RedisUnavailable`, which the HTTP edge answers with 503 and `Retry-After`, with the
reason in the message. The guard also reports each failure and each answer to the client's
outage tracker (outages.py), which logs an outage once. Any other Redis error is a bug and
stays one. Nothing here caches a broken state: once Redis is back the next request simply
works.

The pool. Each process keeps at most `max_connections` connections to Redis (on a cluster:
commands in flight) and a request that finds them all busy waits for one, in turn, at most
`pool_timeout` seconds (`_Turns`; redis-py's default pool and its cluster client refuse at
once instead, which turned load into false 503s). With a healthy Redis a connection is free
again within milliseconds, so the wait runs out only when Redis stops answering (its
commands then hold their connections until the command timeout) or when one process is given
far more concurrent Redis work than it can do in `pool_timeout` seconds: then raise the pool
size or add processes.

Retries. redis-py retries a command once after a connection error: a pooled connection that
died with a Redis restart is replaced without the request noticing (on a cluster, up to three
times, each on the topology read anew: a failover in progress). It never retries after a
timeout: Redis may still run the command it did not answer in time, and a second copy only
adds work to a stalled server. Every script is safe to run twice (see `locks.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from types import TracebackType
from typing import Any, TypeAlias
from weakref import WeakKeyDictionary

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import (
    Connection,
    ConnectionPool,
    SSLConnection,
    UnixDomainSocketConnection,
)
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import MasterNotFoundError, Sentinel, SentinelConnectionPool
from redis.backoff import ExponentialBackoff
from redis.exceptions import (
    BusyLoadingError,
    ClusterDownError,
    ClusterError,
    MaxConnectionsError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    ResponseError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from roboscope.errors import RedisUnavailable
from roboscope.realtime.outages import Outages
from roboscope.redis_endpoints import Kind, RedisEndpoint, parse

RedisClient: TypeAlias = aioredis.Redis | RedisCluster
"""What the stores talk to: one Redis (also the primary a Sentinel set names), or a Redis
Cluster. Both offer the same commands; a cluster routes each by the slot of its keys."""

REDIS_FAILURES = (RedisError, OSError, RedisClusterException)
"""Everything redis-py raises (its cluster client's topology errors are not RedisErrors)."""

# Clients give up after 30 s; a request must fail fast (and get 503) long before that.
DEFAULT_TIMEOUT = 2.0
DEFAULT_MAX_CONNECTIONS = 100
DEFAULT_POOL_TIMEOUT = 5.0
_RETRY = Retry(
    ExponentialBackoff(cap=0.2, base=0.05), retries=1, supported_errors=(RedisConnectionError,)
)
# A cluster command is retried after a broken connection, a cluster that is down or a slot
# nobody serves (a failover in progress), each time on a freshly read topology.
_CLUSTER_RETRY = Retry(ExponentialBackoff(cap=0.5, base=0.1), retries=3)
# Per cluster node, beyond the commands in flight (which `max_connections` bounds): the
# census's pipelines.
_CLUSTER_SPARE_CONNECTIONS = 4


class PoolExhausted(RedisConnectionError):
    """No pooled connection became free within the pool timeout (nothing was sent)."""


class _Turns:
    """At most `size` callers at once, served first come, first served, each waiting at most
    `timeout` seconds for its turn (`PoolExhausted` after that).

    redis-py's blocking pool waits on an `asyncio.Condition`, which lets a newly arrived
    request take a freed connection before the requests already waiting, so under a steady
    load of more requests than connections one of them could lose every time until its wait
    ran out: a 503 with a healthy Redis (seen with 1,000 connections on one process); its
    cluster client does not wait at all. An `asyncio.Semaphore` queues waiters in order, so
    each waits only for the requests ahead of it.
    """

    def __init__(self, size: int, timeout: float) -> None:
        self._semaphore = asyncio.Semaphore(size)
        self.timeout = timeout

    async def take(self) -> None:
        if not self._semaphore.locked():
            await self._semaphore.acquire()  # a turn is free and nobody waits: no timer needed
            return
        try:
            async with asyncio.timeout(self.timeout):
                await self._semaphore.acquire()
        except TimeoutError:
            raise PoolExhausted(
                f"no connection to Redis became free within {self.timeout:g} s"
            ) from None

    def give_back(self) -> None:
        self._semaphore.release()


class _InTurn:
    """A connection pool whose connections are lent in turn (`_Turns`); mixed into redis-py's
    pool of one Redis and into its pool of the primary a Sentinel set names."""

    max_connections: int

    def __init__(self, *args: Any, pool_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._turns = _Turns(self.max_connections, pool_timeout)
        self._lent: set[Any] = set()  # connections handed out, each holding one turn

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        await self._turns.take()
        try:
            connection = await super().get_connection(*args, **kwargs)  # type: ignore[misc]
        except BaseException:
            # (A connection that failed to connect was already given back by redis-py, through
            # `release`, before it was lent: its turn is returned here, once.)
            self._turns.give_back()
            raise
        self._lent.add(connection)
        return connection

    async def release(self, connection: Any) -> None:
        try:
            await super().release(connection)  # type: ignore[misc]
        finally:
            if connection in self._lent:
                self._lent.discard(connection)
                self._turns.give_back()


class _Pool(_InTurn, ConnectionPool):
    """The pool of one Redis."""


class _SentinelPool(_InTurn, SentinelConnectionPool):
    """The pool of the primary a Sentinel set names: every new connection asks the sentinels
    where the primary is, so connections opened after a failover reach the new primary."""


class _SentinelRedis(aioredis.Redis):
    """The client of a Sentinel set's primary; closing it also closes its sentinel clients."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        pool = self.connection_pool
        await super().aclose(close_connection_pool)
        if isinstance(pool, SentinelConnectionPool):
            await pool.sentinel_manager.aclose()


class _Cluster(RedisCluster):
    """redis-py's cluster client, with the commands in flight bounded and taken in turn
    (`_Turns`) like the pools above, and never retried after a timeout (Redis may still run a
    command it did not answer in time; a second copy only adds work to a stalled server).

    Two of redis-py's ways (8.1) are avoided, each of which made requests fail on a healthy
    cluster under concurrent load:
    - A command sent before the client knows the topology goes to a random primary (its
      routing falls back to "any node" without a default node) and comes back MOVED; so the
      topology is read first (`initialize`, a no-op once known).
    - Every fifth MOVED made it close every connection, also those other commands were
      using at that moment; a MOVED now only updates the slot it names
      (`reinitialize_steps=0`): a slot migration redirects a few commands, nothing more.
    It still closes every connection when it reads the topology anew after a lost node, a
    cluster that is down or a slot nobody serves (a failover); a command whose connection is
    closed under it that way fails inside redis-py with an AttributeError (asyncio) or a
    RuntimeError (uvloop: "the handler is closed"), which is the lost connection it is, and
    is reported as one.
    """

    ERRORS_ALLOW_RETRY = (RedisConnectionError, ClusterDownError, SlotNotCoveredError)  # type: ignore[assignment]

    def __init__(self, *, pool_timeout: float, in_flight: int, **kwargs: Any) -> None:
        super().__init__(
            max_connections=in_flight + _CLUSTER_SPARE_CONNECTIONS,
            reinitialize_steps=0,
            **kwargs,
        )
        self._turns = _Turns(in_flight, pool_timeout)

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        await self._turns.take()
        try:
            await self.initialize()
            return await super().execute_command(*args, **kwargs)
        except (AttributeError, RuntimeError) as error:
            if not _closed_under_us(error):
                raise
            raise RedisConnectionError("connection closed while in use") from error
        finally:
            self._turns.give_back()


def _closed_under_us(error: Exception) -> bool:
    """The error of a command whose connection another task closed: its reader or writer is
    gone (asyncio), or its transport is (uvloop)."""
    text = str(error)
    if isinstance(error, AttributeError):
        return "'NoneType' object has no attribute" in text
    return "handler is closed" in text


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
    if isinstance(error, PoolExhausted | MaxConnectionsError):  # nothing was sent
        return RedisUnavailable(str(error) or "no connection to Redis became free", retry_after=1)
    if isinstance(error, MasterNotFoundError):  # asked the sentinels, reached no Redis
        return RedisUnavailable("no primary: the sentinels name none now", unreachable=True)
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
    if isinstance(error, TryAgainError | ClusterError):  # down, or redirected past redis-py's
        return RedisUnavailable(*_NOT_NOW["CLUSTERDOWN"])  # retries (MOVED, ASK, TRYAGAIN)
    if isinstance(error, SlotNotCoveredError):
        return RedisUnavailable(*_NOT_NOW["CLUSTERDOWN"])
    if isinstance(error, RedisClusterException):
        return _cluster_topology_problem(error)
    if isinstance(error, ResponseError) and (known := _NOT_NOW.get(_error_code(error))):
        return RedisUnavailable(*known)
    return None


def _cluster_topology_problem(error: RedisClusterException) -> RedisUnavailable | None:
    """The cluster client's own errors: no seed node reachable, or a topology it cannot use;
    None for a request that can never work (keys of two slots in one command: a bug)."""
    text = str(error)
    if "cannot be connected" in text:
        return RedisUnavailable("unreachable", unreachable=True)
    if "not enabled" in text:
        return RedisUnavailable("not a cluster (cluster mode is off on the node)", retry_after=5)
    if "same slot" in text:
        return None
    return RedisUnavailable(*_NOT_NOW["CLUSTERDOWN"])


def create_redis(
    url: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    pool_timeout: float = DEFAULT_POOL_TIMEOUT,
) -> RedisClient:
    """A client for any `ROBOSCOPE_REDIS_URL` (roboscope/redis_endpoints.py): one Redis, the
    primary of a Sentinel set (found anew after a failover), or a Redis Cluster; TLS and
    passwords included.

    Responses are decoded to `str`. The connect and command timeouts bound every command, and
    `pool_timeout` bounds the wait for a free connection, so a dead, stalled or unreachable
    server costs a request a few seconds at most, never a hang. Nothing connects here.
    """
    endpoint = parse(url)
    common: dict[str, Any] = {
        "decode_responses": True,
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
        "username": endpoint.username,
        "password": endpoint.password,
    }
    tls: dict[str, Any] = dict(endpoint.tls_options) if endpoint.tls else {}
    if endpoint.kind == "cluster":
        return _Cluster(
            startup_nodes=[ClusterNode(host, port) for host, port in endpoint.nodes],
            in_flight=max_connections,
            pool_timeout=pool_timeout,
            retry=_CLUSTER_RETRY,
            ssl=endpoint.tls,
            **tls,
            **common,
        )
    pooled = {
        **common,
        "max_connections": max_connections,
        "pool_timeout": pool_timeout,
        "health_check_interval": 15,
        "retry": _RETRY,
        "db": endpoint.db,
    }
    if endpoint.kind == "sentinel":
        return _sentinel_primary(endpoint, pooled, tls, timeout)
    if endpoint.path is not None:
        pool = _Pool(connection_class=UnixDomainSocketConnection, path=endpoint.path, **pooled)
    else:
        host, port = endpoint.nodes[0]
        connection_class = SSLConnection if endpoint.tls else Connection
        pool = _Pool(connection_class=connection_class, host=host, port=port, **tls, **pooled)
    return aioredis.Redis.from_pool(pool)


def _sentinel_primary(
    endpoint: RedisEndpoint, pooled: dict[str, Any], tls: dict[str, Any], timeout: float
) -> aioredis.Redis:
    sentinel_options: dict[str, Any] = {
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
        "decode_responses": True,
        "username": endpoint.sentinel_username,
        "password": endpoint.sentinel_password,
    }
    if endpoint.tls:
        sentinel_options |= {"ssl": True, **tls}
    sentinel = Sentinel(list(endpoint.nodes), sentinel_kwargs=sentinel_options)  # type: ignore[no-untyped-call]
    client: aioredis.Redis = sentinel.master_for(
        endpoint.service or "",
        redis_class=_SentinelRedis,
        connection_pool_class=_SentinelPool,
        ssl=endpoint.tls,
        **tls,
        **pooled,
    )
    return client


def is_cluster(client: RedisClient) -> bool:
    return isinstance(client, RedisCluster)


def kind_of(client: RedisClient) -> Kind:
    if isinstance(client, RedisCluster):
        return "cluster"
    if isinstance(client.connection_pool, SentinelConnectionPool):
        return "sentinel"
    return "single"


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
        elif isinstance(error, REDIS_FAILURES) and (mapped := unavailable(error)):
            self.outages.failed(mapped.reason)
            raise mapped from error


_GUARDS: WeakKeyDictionary[Any, Guard] = WeakKeyDictionary()


def guard(client: RedisClient) -> Guard:
    """The guard of `client`'s connection pool (a cluster client's own: it has one set of
    node pools): every client on one pool shares one outage."""
    owner: Any = client if isinstance(client, RedisCluster) else client.connection_pool
    found = _GUARDS.get(owner)
    if found is None:
        found = _GUARDS[owner] = Guard(Outages())
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


async def ping(client: RedisClient) -> bool:
    """True when Redis answers PING; never raises."""
    try:
        async with asyncio.timeout(DEFAULT_TIMEOUT + 1):
            return bool(await client.ping())
    except Exception:
        return False
