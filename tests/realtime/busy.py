"""A private Redis that tests may stall or fill: a Lua busy loop blocks the whole server and
`CONFIG SET maxmemory` changes it for every client, so never the Redis other tests share."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from roboscope.realtime.embedded import EmbeddedRedis

# Spins on TIME for ARGV[1] ms and returns: it writes nothing, so SCRIPT KILL could stop it.
BUSY_LOOP = """
local function micros()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local stop = micros() + tonumber(ARGV[1]) * 1000
while micros() < stop do end
return 1
"""


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """An embedded Redis (6.2) of this test alone; stopped (killed if need be) afterwards."""
    with EmbeddedRedis(tmp_path / "private-redis") as server:
        yield server


def admin(url: str) -> Redis:
    """A client that outwaits any test's busy loop."""
    client: Redis = Redis.from_url(url, decode_responses=True, socket_timeout=60)
    return client


@contextlib.asynccontextmanager
async def busy(url: str, ms: int) -> AsyncIterator[None]:
    """Redis runs a Lua busy loop of `ms` for the duration of the block; every client waits
    (and, past the server's busy threshold, 5 s by default, gets `BUSY` errors). At the end
    of the block the loop is over and Redis answers again."""
    blocker = admin(url)
    connection = await blocker.connection_pool.get_connection()  # type: ignore[no-untyped-call]
    # Sent, not yet answered: Redis reads its clients' commands in the order they arrive
    # (epoll hands it the ready sockets first come, first served), so whatever the test sends
    # from here on reaches Redis after the EVAL and waits for the loop. (No sleep: the loop
    # starts as soon as Redis reads it, and the test's commands cannot overtake it.)
    await connection.send_command("EVAL", BUSY_LOOP, 0, ms)
    loop = asyncio.create_task(connection.read_response())
    try:
        yield
    finally:
        try:
            async with asyncio.timeout(ms / 1000 + 30):
                await loop
        except TimeoutError:
            async with admin(url) as killer:
                with contextlib.suppress(ResponseError):
                    await killer.script_kill()
        finally:
            await blocker.connection_pool.release(connection)
            await blocker.aclose()


async def wait_until_busy_replies(url: str) -> None:
    """Until Redis answers `BUSY` (past its busy threshold), polling at most 30 s."""
    async with admin(url) as probe, asyncio.timeout(30):
        while True:
            try:
                await probe.ping()
            except ResponseError as error:
                if str(error).startswith("BUSY"):
                    return
                raise
            await asyncio.sleep(0.05)
