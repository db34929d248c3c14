"""A Redis outage is logged once: one warning when it starts, one line when Redis answers
again with what failed meanwhile; no line per failed call, undo or sweeper round, and no
traceback. Against a real outage: the proxy before a real Redis stops, then starts again."""

from __future__ import annotations

import asyncio
import logging
import re
from uuid import uuid4

import pytest

from roboscope.errors import RedisUnavailable
from roboscope.realtime.connection import guard, stop_tasks
from roboscope.realtime.feed import listen
from roboscope.realtime.locks import LockStore
from roboscope.realtime.presence import PresenceStore
from roboscope.realtime.sweeper import Sweeper

from .proxied import Proxied, eventually, proxied

__all__ = ["proxied"]  # the fixture

CALLS = 30
TTL_MS = 300  # the undos of acquires made during the outage give up after this


async def test_an_outage_is_logged_once_with_counts(
    proxied: Proxied, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    client = proxied.through
    locks, presence = LockStore(client), PresenceStore(client)
    outages = guard(client).outages
    background = [
        asyncio.create_task(Sweeper(client, interval=0.05).run()),
        asyncio.create_task(listen(client, lambda _: None, lambda: None, max_backoff=0.1)),
    ]
    try:
        await proxied.proxy.stop()
        for _ in range(CALLS):
            with pytest.raises(RedisUnavailable):
                await locks.acquire(uuid4(), ttl_ms=TTL_MS, owner=None)
            with pytest.raises(RedisUnavailable):
                await presence.heartbeat(
                    uuid4(), "ann", device_id=None, display_name=None, meta=None, ttl_ms=10_000
                )

        async def undos_over_and_swept() -> bool:
            # The undos retried until their lock's TTL had passed, the sweeper kept failing.
            return locks.undoing == 0 and outages.failed_calls >= 2 * CALLS + 10

        await eventually(undos_over_and_swept, "the undos did not end", within=10)
        await proxied.proxy.start()

        def ended() -> list[logging.LogRecord]:
            return [r for r in caplog.records if r.getMessage().startswith("redis answers again")]

        async def back() -> bool:
            return bool(ended())

        await eventually(back, "the end of the outage was not logged")
    finally:
        # As the app stops them: a cancel that lands while redis-py reconnects can be
        # swallowed (the task carries on), so a single cancel and wait could wait forever.
        assert await stop_tasks(background) == 0
        await locks.aclose()

    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert [r.name for r in noisy] == ["roboscope.redis"], [r.getMessage() for r in noisy]
    # (Its reason is the first failed call's: a pooled connection that breaks mid-command may
    # time out before a new one is refused.)
    assert re.fullmatch(
        r"redis is unavailable \((unreachable|timed out)\): presence, locks and fenced "
        r"writes get 503 until it answers again",
        noisy[0].getMessage(),
    )
    [end] = ended()
    assert end.levelno == logging.INFO
    assert end.failed_calls >= 2 * CALLS + 10  # type: ignore[attr-defined]
    message = end.getMessage()
    assert f"{CALLS} lock acquires undone (answer lost)" in message
    assert f"{CALLS} lock undos dropped after the lock's TTL" in message
    assert not outages.down
