"""Redis pub/sub as the live streams' wake-up call, across every API process.

One channel for the whole deployment (`channel()`); a message only says which work sessions
changed (or carries a presence or lock event, which has no other record). The change log stays the
truth: a message lost while a process was reconnecting delays its streams until the next
poll, it never loses a data change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from redis.asyncio import Redis

from .connection import RedisUnavailable, guard

CHANNEL = "roboscope:live"


def channel(redis: Redis, base: str = CHANNEL) -> str:
    """The channel `base` (by default the live channel) of the Redis database `redis` works in.

    Keys belong to one database, but pub/sub channels are server-wide: a deployment (or a
    test run) on another database of the same Redis must not wake these streams, so the name
    carries the database number. Database 0 keeps the plain name, which is what processes of
    an earlier version use (and Redis Cluster has database 0 only).
    """
    pool = getattr(redis, "connection_pool", None)
    database = int(getattr(pool, "connection_kwargs", {}).get("db") or 0)
    return base if database == 0 else f"{base}:{database}"


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


async def publish(redis: Redis, message: dict[str, Any]) -> None:
    """Send `message` to every process; a Redis outage is not raised (the writer's change is
    committed already, and the streams' poll will find it) and is logged once, by the guard."""
    with contextlib.suppress(RedisUnavailable):
        async with guard(redis):
            await redis.publish(channel(redis), json.dumps(message, separators=(",", ":")))


async def listen(
    redis: Redis,
    on_message: Callable[[dict[str, Any]], None],
    on_connected: Callable[[], None],
    *,
    base: str = CHANNEL,
    max_backoff: float = 5.0,
) -> None:
    """Deliver every message of channel `base` (JSON objects) until cancelled, reconnecting
    after outages.

    `on_connected` runs after every (re)subscription: messages may have been missed while
    disconnected, so the caller polls once then.
    """
    backoff = 0.1
    # A lost channel is logged once per outage, by the guard.
    redis_calls = guard(redis).failures_only()
    while True:
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        try:
            async with redis_calls:
                await pubsub.subscribe(channel(redis, base))
            on_connected()
            backoff = 0.1
            while True:
                # A bounded wait, below the client's socket timeout: an idle channel is not
                # an outage (the client's health checks still notice a dead connection).
                async with redis_calls:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is None:
                    continue
                try:
                    payload = json.loads(message["data"])
                except (TypeError, ValueError):
                    log.warning("ignored a malformed live message: %r", message["data"])
                    continue
                on_message(payload)
        except RedisUnavailable:
            pass
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, max_backoff)
