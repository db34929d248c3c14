"""The metrics scrape: every process's counters (or this one's) and what Redis holds now.

A scrape always answers: when Redis cannot be read within `CENSUS_SECONDS`, the presence and
lock gauges are left out (and `roboscope_redis_errors_total` counts the failure) rather than
failing the scrape, which would also hide the error counters an operator needs then.
"""

from __future__ import annotations

import asyncio

from .. import metrics
from ..errors import ServiceUnavailable
from ..realtime import census
from ..realtime.connection import RedisClient

CENSUS_SECONDS = 3.0


async def scrape(redis: RedisClient) -> bytes:
    try:
        async with asyncio.timeout(CENSUS_SECONDS):
            counted: metrics.Census | None = await census.take(redis)
    except (ServiceUnavailable, TimeoutError):
        counted = None
    return metrics.exposition(counted)
