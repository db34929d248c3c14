"""What Redis is made of and whether it can serve now: the ready probe's, `/health`'s and the
metrics' view of it, probed live (nothing remembered).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.exceptions import ResponseError

from roboscope.errors import RedisUnavailable
from roboscope.realtime.connection import (
    DEFAULT_TIMEOUT,
    REDIS_FAILURES,
    RedisClient,
    guard,
    kind_of,
    unavailable,
)
from roboscope.redis_endpoints import Kind

Role = Literal["primary", "replica"]


@dataclass(frozen=True, slots=True)
class RedisNode:
    """One Redis server the API uses: `host:port` (or a socket path), primary or replica."""

    address: str
    role: Role


@dataclass(frozen=True, slots=True)
class RedisHealth:
    """What the health reports say about Redis: up, or down with the reason; its kind and
    the servers it is made of (as far as they could be learnt)."""

    up: bool
    problem: str | None = None
    kind: Kind = "single"
    nodes: tuple[RedisNode, ...] = ()


async def check(client: RedisClient) -> RedisHealth:
    """Whether Redis can serve presence and locks now, probed live (nothing remembered).

    PING finds an unreachable, stalled, loading or script-busy server. A full one still
    answers PING, so `INFO memory` is compared too: with the `noeviction` policy (the one under
    which writes fail instead of evicting keys) a used memory at `maxmemory` refuses every
    write. A replica (after a failover demoted this server) refuses writes as well. A cluster
    is up when it says so itself (`cluster_state:ok`: every slot served) and every primary
    passes these checks.
    """
    kind = kind_of(client)
    nodes: tuple[RedisNode, ...] = ()
    try:
        async with asyncio.timeout(DEFAULT_TIMEOUT * 2 + 1), guard(client):
            nodes = await topology(client)
            if isinstance(client, RedisCluster):
                problem = await _cluster_problem(client)
            else:
                problem = await _server_problem(client)
    except RedisUnavailable as error:
        problem = error.reason
    except TimeoutError:  # no pooled connection came free in time, or the probe stalled
        problem = "timed out"
    except REDIS_FAILURES as error:
        problem = f"unexpected answer: {error.__class__.__name__}"
    return RedisHealth(up=problem is None, problem=problem, kind=kind, nodes=nodes)


async def _server_problem(client: aioredis.Redis | RedisCluster, node: Any = None) -> str | None:
    """What keeps one server (the cluster's `node`) from taking writes now, or None."""
    target = {} if node is None else {"target_nodes": node}
    await client.ping(**target)
    memory = await _info(client, "memory", **target)
    replication = await _info(client, "replication", **target)
    limit = int(memory.get("maxmemory", 0) or 0)
    used = int(memory.get("used_memory", 0) or 0)
    if limit and used >= limit and memory.get("maxmemory_policy") == "noeviction":
        return f"out of memory ({used} of {limit} bytes used)"
    if replication.get("role") == "slave":
        return "read-only replica, a failover is in progress"
    return None


async def _cluster_problem(client: RedisCluster) -> str | None:
    for node in client.get_primaries():
        try:
            problem = await _server_problem(client, node)
        except REDIS_FAILURES as error:
            mapped = unavailable(error)
            if mapped is None:
                raise
            problem = mapped.reason
        if problem is not None:
            return f"primary {node.name}: {problem}"
    info = await client.execute_command("CLUSTER INFO", target_nodes=client.get_primaries()[0])
    state = info.get("cluster_state") if isinstance(info, dict) else None
    if state != "ok":
        return f"cluster state is {state or 'unknown'} (slots not served, a failover in progress?)"
    return None


async def topology(client: RedisClient) -> tuple[RedisNode, ...]:
    """The servers behind `client` now: the cluster's nodes as the client last learnt them
    (it reads the topology again after every redirection or lost node), the primary the
    sentinels name and the replicas they know, or the one server."""
    if isinstance(client, RedisCluster):
        await client.initialize()
        return tuple(
            sorted(
                (RedisNode(node.name, _role(node.server_type)) for node in client.get_nodes()),
                key=lambda node: (node.role != "primary", node.address),
            )
        )
    pool = client.connection_pool
    if isinstance(pool, SentinelConnectionPool):
        host, port = await pool.get_master_address()  # type: ignore[no-untyped-call]
        replicas = await pool.sentinel_manager.discover_slaves(pool.service_name)
        return (
            RedisNode(f"{host}:{port}", "primary"),
            *(RedisNode(f"{r_host}:{r_port}", "replica") for r_host, r_port in replicas),
        )
    kwargs = pool.connection_kwargs
    if "path" in kwargs:
        return (RedisNode(str(kwargs["path"]), "primary"),)
    return (RedisNode(f"{kwargs.get('host')}:{kwargs.get('port')}", "primary"),)


def _role(server_type: str | None) -> Role:
    return "primary" if server_type == "primary" else "replica"


async def _info(client: RedisClient, section: str, **target: Any) -> dict[str, Any]:
    """One INFO section; empty where INFO is not allowed (some managed services forbid it)."""
    try:
        info: dict[str, Any] = await client.info(section, **target)
    except ResponseError as error:
        if unavailable(error) is not None:
            raise
        return {}
    return info
