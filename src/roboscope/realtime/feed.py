"""Redis pub/sub as the live streams' wake-up call, across every API process.

One channel for the whole deployment; a message only says which work sessions changed (or
carries a presence or lock event, which has no other record). The change log stays the
truth: a message lost while a process was reconnecting delays its streams until the next
poll, it never loses a data change.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ..metrics import REDIS_ERRORS
from .connection import unavailable

CHANNEL = "roboscope:live"

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
    """Send `message` to every process; a Redis outage is logged, not raised (the writer's
    change is committed already, and the streams' poll will find it)."""
    try:
        await redis.publish(CHANNEL, json.dumps(message, separators=(",", ":")))
    except (RedisError, OSError) as error:
        if unavailable(error) is None:
            raise
        REDIS_ERRORS.inc()
        log.warning("live wake-up not published (%s); streams will catch up by polling", error)


async def listen(
    redis: Redis,
    on_message: Callable[[dict[str, Any]], None],
    on_connected: Callable[[], None],
    *,
    channel: str = CHANNEL,
    max_backoff: float = 5.0,
) -> None:
    """Deliver every message of `channel` (JSON objects) until cancelled, reconnecting
    after outages.

    `on_connected` runs after every (re)subscription: messages may have been missed while
    disconnected, so the caller polls once then.
    """
    backoff = 0.1
    while True:
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(channel)
            on_connected()
            backoff = 0.1
            while True:
                # A bounded wait, below the client's socket timeout: an idle channel is not
                # an outage (the client's health checks still notice a dead connection).
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is None:
                    continue
                try:
                    payload = json.loads(message["data"])
                except (TypeError, ValueError):
                    log.warning("ignored a malformed live message: %r", message["data"])
                    continue
                on_message(payload)
        except (RedisError, OSError) as error:
            if unavailable(error) is None:
                raise
            REDIS_ERRORS.inc()
            log.warning("live channel lost (%s); reconnecting in %.1f s", error, backoff)
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, max_backoff)
