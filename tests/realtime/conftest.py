"""Real Redis for the realtime tests: the embedded server, ROBOSCOPE_TEST_REDIS_URL, and (for
the tests in tests/conftest.py's ON_CLUSTER) the test run's Redis Cluster.

No fakes: Lua semantics and key expiry are exactly what these tests are about. The external
server is skipped when its URL is unset, except in CI, where a skip would hide a gap.
Each test starts from an empty database (FLUSHDB of that database only, never FLUSHALL; on
the cluster, of every primary).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from roboscope.realtime.connection import create_redis
from roboscope.realtime.embedded import EmbeddedRedis

from ..conftest import runs_on_cluster

COMMAND_TIMEOUT = 20.0


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "redis_url" in metafunc.fixturenames:
        kinds = ["embedded", "external"]
        if runs_on_cluster(metafunc.definition):
            kinds.append("cluster")
        if "proxied" in metafunc.fixturenames:
            kinds = ["external"]  # a TCP proxy stands before one server's port only
        metafunc.parametrize("redis_url", kinds, indirect=True, scope="session")


@pytest.fixture(scope="session")
def embedded_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("embedded-redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest) -> str:
    if request.param == "embedded":
        server: EmbeddedRedis = request.getfixturevalue("embedded_redis")
        return server.url
    if request.param == "cluster":
        return str(request.getfixturevalue("redis_cluster_url"))
    url = os.environ.get("ROBOSCOPE_TEST_REDIS_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("ROBOSCOPE_TEST_REDIS_URL must be set in CI")
        pytest.skip("ROBOSCOPE_TEST_REDIS_URL not set")
    return url


async def redis_time_past(redis: Redis, moment: datetime) -> bool:
    """Whether Redis's clock (the one TTLs and sweeps run on) has passed `moment`."""
    seconds, micros = await redis.time()
    return datetime.fromtimestamp(seconds + micros / 1e6, tz=UTC) > moment


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    # What Redis does is tested here, not an outage: a command timeout far above the
    # server's 2 s keeps a busy machine (parallel workers on 2 cores) from turning a late
    # answer into a failure. The timeouts have tests of their own (test_realtime_stalls.py).
    # (Typed as one Redis for the tests' sake: a cluster client offers the same commands.)
    client: Redis = create_redis(redis_url, timeout=COMMAND_TIMEOUT)  # type: ignore[assignment]
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()
