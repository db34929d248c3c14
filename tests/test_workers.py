"""Parallel workers' own services (tests/workers.py): names derived from the given ones."""

from __future__ import annotations

import os

import pytest

from .workers import worker_database_url, worker_number, worker_redis_url


def test_each_worker_has_a_database_beside_the_given_one() -> None:
    shared = "postgresql+asyncpg://ci:pw@127.0.0.1:5432/test"
    assert (
        worker_database_url(shared, "gw0") == "postgresql+asyncpg://ci:pw@127.0.0.1:5432/test_gw0"
    )
    assert worker_database_url(shared, "gw12").endswith("/test_gw12")


def test_each_worker_counts_down_from_the_given_redis_database() -> None:
    assert worker_redis_url("redis://127.0.0.1:6379/15", 0) == "redis://127.0.0.1:6379/15"
    assert worker_redis_url("redis://127.0.0.1:6379/15", 3) == "redis://127.0.0.1:6379/12"
    assert worker_redis_url("redis://:pw@host:1/2", 2) == "redis://:pw@host:1/0"
    assert worker_redis_url("redis://host", 0) == "redis://host/0"


@pytest.mark.parametrize(
    ("url", "number", "message"),
    [
        ("redis://host/2", 3, "name a database of at least 3"),
        ("redis://host/?db=3", 0, "name the database as a path"),
        ("redis://host/cache", 0, "must be a database number"),
        ("unix:///run/redis.sock", 0, "need a redis:// URL"),
    ],
)
def test_a_redis_url_workers_cannot_share_is_refused(url: str, number: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        worker_redis_url(url, number)


def test_worker_numbers() -> None:
    assert worker_number("gw0") == 0
    assert worker_number("gw7") == 7
    with pytest.raises(ValueError):
        worker_number("master")


def test_this_worker_uses_its_own_database() -> None:
    """(Read from xdist's variable, not its `worker_id` fixture: that one is missing when a
    run turns the plugin off, `-p no:xdist`, as a run of a few files on a shared machine may.)"""
    worker_id = os.environ.get("PYTEST_XDIST_WORKER")
    database = os.environ.get("ROBOSCOPE_TEST_DATABASE_URL")
    if worker_id is None or database is None:
        pytest.skip("not running under parallel workers, or without PostgreSQL")
    assert database.endswith(f"_{worker_id}")
