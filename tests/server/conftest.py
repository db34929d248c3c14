"""Fixtures shared by the tests of real server processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from roboscope.realtime import EmbeddedRedis

from ..conftest import app_redis_url


@pytest.fixture
def shared_redis_url(
    request: pytest.FixtureRequest, redis_backend: str, tmp_path: Path
) -> Iterator[str]:
    """The CI Redis when there is one, else an embedded Redis of the test's own; the Redis
    Cluster for the cluster runs (tests/conftest.py's ON_CLUSTER)."""
    external = app_redis_url(request, redis_backend)
    if external:
        yield external
        return
    with EmbeddedRedis(tmp_path / "redis") as redis:
        yield redis.url
