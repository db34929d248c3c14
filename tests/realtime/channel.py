"""What the live channel carries while a test runs, heard on a connection of the test's own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

from redis.asyncio import Redis

from roboscope.realtime.feed import channel


@contextlib.asynccontextmanager
async def listening(client: Redis) -> AsyncIterator[list[dict[str, Any]]]:
    """Every announcement on the live channel, in order, while the block runs."""
    messages: list[dict[str, Any]] = []
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel(client))

    async def listen() -> None:
        while True:
            message = await pubsub.get_message(timeout=0.2)
            if message is not None:
                messages.append(json.loads(message["data"]))

    task = asyncio.create_task(listen())
    try:
        yield messages
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pubsub.aclose()  # type: ignore[no-untyped-call]


async def all_heard(client: Redis, heard: list[dict[str, Any]]) -> None:
    """Until everything published so far is in `heard`: Redis delivers a channel's messages
    in the order it runs their PUBLISH, so a marker published now arrives after all of it
    (a duplicate announcement included). Fails after 5 s."""
    marker = {"e": "test.marker", "s": str(uuid4())}
    await client.publish(channel(client), json.dumps(marker))
    deadline = time.monotonic() + 5
    while marker not in heard:
        assert time.monotonic() < deadline, "the live channel did not deliver"
        await asyncio.sleep(0.02)
    heard.remove(marker)
