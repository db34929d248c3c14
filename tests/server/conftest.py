"""Fixtures shared by the tests of real server processes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from roboscope.realtime import EmbeddedRedis


@pytest.fixture
def shared_redis_url(tmp_path: Path) -> Iterator[str]:
    """The CI Redis when there is one, else an embedded Redis of the test's own."""
    external = os.environ.get("ROBOSCOPE_TEST_REDIS_URL")
    if external:
        yield external
        return
    with EmbeddedRedis(tmp_path / "redis") as redis:
        yield redis.url
