"""What the live channels carry while a test runs, heard as an API process's listener hears
them (on a Redis Cluster too: sharded channels, one subscription per primary)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

from roboscope.realtime import feed
from roboscope.realtime.connection import RedisClient


@contextlib.asynccontextmanager
async def listening(client: RedisClient) -> AsyncIterator[list[dict[str, Any]]]:
    """Every announcement on the live channels while the block runs, in order per channel."""
    messages: list[dict[str, Any]] = []
    subscribed = asyncio.Event()
    task = asyncio.create_task(feed.listen(client, messages.append, subscribed.set))
    try:
        async with asyncio.timeout(10):
            await subscribed.wait()
        yield messages
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def all_heard(client: RedisClient, heard: list[dict[str, Any]]) -> None:
    """Until everything published so far is in `heard`: Redis delivers a channel's messages
    in the order it runs their PUBLISH, so a marker published now on every live channel
    arrives after all of it (a duplicate announcement included). Fails after 5 s."""
    markers = []
    for name in feed.live_channels(client):
        marker = {"e": "test.marker", "s": str(uuid4())}
        markers.append(marker)
        await feed.publish(client, name, marker)
    deadline = time.monotonic() + 5
    while any(marker not in heard for marker in markers):
        assert time.monotonic() < deadline, "the live channels did not deliver"
        await asyncio.sleep(0.02)
    for marker in markers:
        heard.remove(marker)
