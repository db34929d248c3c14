"""Redis pub/sub as the live streams' wake-up call, across every API process.

One channel per shard of work sessions (`keys.live_channels`), in the slot of the shard's
keys; every process listens to all of them. A message only says which work sessions changed
(or carries a presence or lock event, which has no other record). The change log stays the
truth: a message lost while a process was reconnecting delays its streams until the next
poll, it never loses a data change.

Pub/sub channels are server-wide while keys belong to one Redis database, so on a single
Redis (or Sentinel set) every channel name carries the database number (`channel`): a
deployment or a test run on another database of the same Redis hears nothing of this one.
Other broadcasts (token revocations) use one plain channel of their own (`listen(base=…)`),
which on a cluster is an ordinary `PUBLISH`: Redis Cluster forwards it to every node.

On a Redis Cluster the channels are sharded (`SPUBLISH`/`SSUBSCRIBE`): a message goes to the
primary serving its slot and to nobody else's node, instead of being copied to every node
of the cluster. Each process then holds one subscription per primary, for the channels whose
slots it serves, and subscribes anew (reading the topology afresh) whenever one of them
ends: a node that fails, a slot that moves (Redis ends the subscriptions of a slot that
leaves a node).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import SlotNotCoveredError

from ..errors import RedisUnavailable
from . import keys
from .connection import REDIS_FAILURES, RedisClient, guard


def database_suffix(redis: RedisClient) -> str:
    """What ends every channel name of the Redis database `redis` works in: nothing for
    database 0 (the names earlier versions use; Redis Cluster has database 0 only), else
    `:<number>`."""
    pool = getattr(redis, "connection_pool", None)
    database = int(getattr(pool, "connection_kwargs", {}).get("db") or 0)
    return "" if database == 0 else f":{database}"


def channel(redis: RedisClient, base: str) -> str:
    """The channel `base` of the Redis database `redis` works in (see `database_suffix`)."""
    return f"{base}{database_suffix(redis)}"


log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LiveNotice:
    """A presence or lock event as a script announced it (see lua/live_common.lua)."""

    session_id: UUID
    name: str
    fields: dict[str, Any]


def notice(payload: dict[str, Any]) -> LiveNotice | None:
    """The announcement in a channel message, in Python values; None for a wake-up."""
    if "e" not in payload:
        return None
    name = str(payload["e"])
    fields: dict[str, Any]
    if name.startswith("presence."):
        profile = json.loads(payload["p"]) if "p" in payload else {}
        fields = {
            "user_id": payload["u"],
            "device_id": payload["d"],
            "display_name": profile.get("display_name"),
            "meta": profile.get("meta"),
            "expires_at": _utc(payload.get("x")),
            "reason": payload.get("r"),
        }
    else:
        fields = {
            "owner": payload.get("o"),
            "fence": int(payload["f"]),
            "expires_at": _utc(payload.get("x")),
            "reason": payload.get("r"),  # `forced`: an admin's forced release
        }
    return LiveNotice(UUID(payload["s"]), name, fields)


def _utc(ms: Any) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(int(ms) / 1000, tz=UTC)


async def wake(redis: RedisClient, session_ids: Iterable[UUID]) -> None:
    """Tell every process that these work sessions changed (one message per shard); a Redis
    outage is not raised (the writer's change is committed already, and the streams' poll
    will find it) and is logged once, by the guard."""
    changed: defaultdict[str, list[str]] = defaultdict(list)
    for session_id in session_ids:
        changed[channel(redis, keys.live_channel(session_id))].append(str(session_id))
    for name, sessions in changed.items():
        await publish(redis, name, {"changed": sessions})


async def publish(redis: RedisClient, name: str, message: dict[str, Any]) -> None:
    """Send `message` on live channel `name` (sharded on a cluster); an outage is not raised
    (see `wake`)."""
    payload = json.dumps(message, separators=(",", ":"))
    with contextlib.suppress(RedisUnavailable):
        async with guard(redis):
            if isinstance(redis, RedisCluster):
                await redis.spublish(name, payload)
            else:
                await redis.publish(name, payload)


class _Resubscribe(Exception):
    """A node ended its subscriptions (its slots moved): subscribe anew."""


async def listen(
    redis: RedisClient,
    on_message: Callable[[dict[str, Any]], None],
    on_connected: Callable[[], None],
    *,
    base: str | None = None,
    max_backoff: float = 5.0,
) -> None:
    """Deliver every message of the live channels (or, given `base`, of that one broadcast
    channel of this database) until cancelled, reconnecting after outages.

    `on_connected` runs after every (re)subscription: messages may have been missed while
    disconnected, so the caller polls once then.
    """
    backoff = 0.1
    moved = False
    # A lost channel is logged once per outage, by the guard.
    redis_calls = guard(redis).failures_only()
    while True:
        try:
            async with redis_calls:
                if isinstance(redis, RedisCluster):
                    if base is None:
                        await _listen_cluster(redis, on_message, on_connected, refresh=moved)
                    else:
                        await _listen_broadcast(
                            redis, base, on_message, on_connected, refresh=moved
                        )
                else:
                    names = [channel(redis, base)] if base is not None else live_channels(redis)
                    await _listen_one(redis, names, on_message, on_connected)
        except _Resubscribe:
            log.info("live channels moved to another node; subscribing anew")
            backoff = 0.1
            moved = True
            continue
        except RedisUnavailable:
            moved = True
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, max_backoff)


def live_channels(redis: RedisClient) -> list[str]:
    """Every shard's live channel in the database of `redis`: what each process listens to."""
    return [channel(redis, name) for name in keys.live_channels()]


async def _listen_one(
    redis: aioredis.Redis,
    names: list[str],
    on_message: Callable[[dict[str, Any]], None],
    on_connected: Callable[[], None],
) -> None:
    """One Redis (or a Sentinel set's primary): one subscription to every channel."""
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.subscribe(*names)
        on_connected()
        await _drain(pubsub, on_message)
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]


async def _listen_cluster(
    cluster: RedisCluster,
    on_message: Callable[[dict[str, Any]], None],
    on_connected: Callable[[], None],
    *,
    refresh: bool,
) -> None:
    """A Redis Cluster: on each primary, a sharded subscription to the channels it serves;
    returns (raises) as soon as any of them ends, so that all are made anew. With `refresh`
    (a node was lost or slots moved) the topology is read afresh first: the client learns
    of a change only when a command of its own is redirected or fails."""
    await cluster.initialize()
    if refresh:
        await cluster.nodes_manager.initialize()
    by_node: defaultdict[str, list[str]] = defaultdict(list)
    nodes: dict[str, ClusterNode] = {}
    for channel in keys.live_channels():
        node = cluster.get_node_from_key(channel)
        if node is None:  # a slot nobody serves now: a failover in progress
            raise SlotNotCoveredError(f"no node serves the live channel {channel}")
        nodes[node.name] = node
        by_node[node.name].append(channel)
    subscriptions: list[tuple[aioredis.Redis, PubSub]] = []
    try:
        for name, channels in by_node.items():
            client = _node_client(nodes[name])
            # (Not ignoring subscribe messages: that would hide the `sunsubscribe` of a slot
            # that moved.)
            pubsub = client.pubsub()
            subscriptions.append((client, pubsub))
            for channel in channels:  # one slot per SSUBSCRIBE
                await pubsub.ssubscribe(channel)
        on_connected()
        drains = [asyncio.ensure_future(_drain(p, on_message)) for _, p in subscriptions]
        try:
            finished, _ = await asyncio.wait(drains, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in drains:
                task.cancel()
            await asyncio.gather(*drains, return_exceptions=True)
        for task in finished:
            task.result()  # the error that ended it
        raise _Resubscribe
    finally:
        for client, pubsub in subscriptions:
            with contextlib.suppress(*REDIS_FAILURES):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            with contextlib.suppress(*REDIS_FAILURES):
                await client.aclose()


async def _listen_broadcast(
    cluster: RedisCluster,
    base: str,
    on_message: Callable[[dict[str, Any]], None],
    on_connected: Callable[[], None],
    *,
    refresh: bool,
) -> None:
    """A Redis Cluster's plain channel `base`: a `PUBLISH` reaches every node of the
    cluster, so one subscription on any primary hears all of it; it ends (raises) when that
    node is lost, and `listen` subscribes anew on another."""
    await cluster.initialize()
    if refresh:  # the node of the last subscription may be gone
        await cluster.nodes_manager.initialize()
    primaries = cluster.get_primaries()
    if not primaries:
        raise SlotNotCoveredError("no primary serves the cluster now")
    client = _node_client(primaries[0])
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.subscribe(base)
        on_connected()
        await _drain(pubsub, on_message)
    finally:
        with contextlib.suppress(*REDIS_FAILURES):
            await pubsub.aclose()  # type: ignore[no-untyped-call]
        with contextlib.suppress(*REDIS_FAILURES):
            await client.aclose()


def _node_client(node: ClusterNode) -> aioredis.Redis:
    """A client of one cluster node, with the cluster client's settings (password, TLS,
    timeouts), for a subscription of its own."""
    # No reconnecting inside redis-py: a lost node ends the subscription, and `listen`
    # subscribes anew on the topology of then.
    options = {
        **node.connection_kwargs,
        "health_check_interval": 15,
        "retry": Retry(NoBackoff(), 0),
    }
    pool = ConnectionPool(connection_class=node.connection_class, **options)
    return aioredis.Redis.from_pool(pool)


async def _drain(pubsub: PubSub, on_message: Callable[[dict[str, Any]], None]) -> None:
    """Hand every message to `on_message` until the subscription ends (sharded channels
    end when their slot leaves the node: `_Resubscribe`)."""
    while True:
        # A bounded wait, below the client's socket timeout: an idle channel is not an outage
        # (the client's health checks still notice a dead connection).
        message = await pubsub.get_message(ignore_subscribe_messages=False, timeout=1.0)
        if message is None:
            continue
        kind = message["type"]
        if kind == "sunsubscribe":
            raise _Resubscribe
        if kind not in ("message", "smessage"):
            continue
        try:
            payload = json.loads(message["data"])
        except (TypeError, ValueError):
            log.warning("ignored a malformed live message: %r", message["data"])
            continue
        on_message(payload)
