"""Shared fixtures: real databases, real Redis, and the app served over ASGI to an httpx client.

Every API test runs twice: on a SQLite file and on PostgreSQL (ROBOSCOPE_TEST_DATABASE_URL).
Without that variable the PostgreSQL run is skipped on a developer machine and fails in CI
(CI=true), so CI can never pass by silently testing less.

Under parallel workers (`./dev test` runs pytest-xdist) each worker first points both test
variables at services of its own (tests/workers.py), so tests never see each other's data.

The tests of what Redis holds and carries (`ON_CLUSTER`: presence, locks, fencing, rate
limits, live streams, the change log) run once more on a Redis Cluster of three primaries
with a replica each, started by the tests for the whole run (tests/redis_topologies.py),
on PostgreSQL (the production pairing). The same rule holds: without a Redis 7
`redis-server` that run is skipped locally and fails in CI.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from roboscope.db.engine import Database
from roboscope.db.migrate import upgrade
from roboscope.db.tables import change_counter, metadata
from roboscope.server.app import create_app
from roboscope.settings import Settings

from .api.contract import OpenApiConformance
from .redis_topologies import missing_tools, redis_cluster
from .workers import create_postgres_database as create_postgres_database
from .workers import isolate

IOS_HEADERS = {"content-type": "application/json", "accept": "application/json"}


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        try:
            isolate(worker)
        except (ValueError, OSError, SQLAlchemyError) as error:
            raise pytest.UsageError(f"worker {worker}: {error}") from error


def pytest_sessionstart(session: pytest.Session) -> None:
    """A run stopped with SIGTERM (CI cancelling a job, a closed terminal) ends as after
    Ctrl-C: pytest tears the fixtures down, so the embedded Redis and the server processes
    they started are stopped instead of left running."""
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def require_service(variable: str, what: str) -> str:
    """The URL of a real service for tests, or skip (locally) / fail (in CI) without it."""
    url = os.environ.get(variable)
    if url:
        return url
    message = f"{variable} is not set: tests against {what} cannot run"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


async def _drop_everything(url: str) -> None:
    database = Database(url)
    try:
        async with database.transaction() as conn:
            for table in reversed(metadata.sorted_tables):
                await conn.execute(text(f'DROP TABLE IF EXISTS "{table.name}" CASCADE'))
            await conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        await database.dispose()


ON_CLUSTER = (
    "tests/api/test_presence.py",
    "tests/api/test_locks.py",
    "tests/api/test_fencing.py",
    "tests/api/test_rate_limits.py",
    "tests/api/test_changes.py",
    "tests/realtime/test_realtime_presence.py",
    "tests/realtime/test_realtime_locks.py",
    "tests/realtime/test_realtime_sweeper.py",
    "tests/server/test_live.py::test_a_write_on_one_process_reaches_a_subscriber_on_another",
    "tests/server/test_live.py::test_presence_and_lock_events_arrive_once_with_two_processes",
    "tests/server/test_live.py::test_one_subscriber_sees_every_change_of_8_writers_exactly_once"
    "_and_resumes",
    "tests/server/test_limits.py::test_two_processes_draw_on_one_budget",
    "tests/server/test_processes.py::test_two_processes_agree_on_presence_and_locks",
    "tests/server/test_auth_processes.py::test_the_stream_takes_the_header_or_a_query_token"
    "_from_another_process",
)
"""Tests (modules, or single tests) that also run on a Redis Cluster."""


def runs_on_cluster(definition: pytest.Item) -> bool:
    nodeid = definition.nodeid
    return any(nodeid == entry or nodeid.startswith(f"{entry}::") for entry in ON_CLUSTER)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`redis_backend` is `single` everywhere, and also `cluster` for the `ON_CLUSTER` tests."""
    if "redis_backend" in metafunc.fixturenames and runs_on_cluster(metafunc.definition):
        metafunc.parametrize("redis_backend", ["single", "cluster"], indirect=True, scope="session")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The cluster runs pair with PostgreSQL only: SQLite adds nothing there but time."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        params = (
            item.callspec.params
            if isinstance(item, pytest.Function) and hasattr(item, "callspec")
            else {}
        )
        on_sqlite = "sqlite" in (params.get("database_url"), params.get("database_env"))
        (dropped if params.get("redis_backend") == "cluster" and on_sqlite else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def redis_backend(request: pytest.FixtureRequest) -> str:
    """`single` (ROBOSCOPE_TEST_REDIS_URL, else an embedded Redis) or `cluster`."""
    return str(getattr(request, "param", "single"))


def require_topologies(*, tls: bool = False) -> None:
    """Skip (locally) or fail (in CI) where Redis Clusters and Sentinel sets cannot start."""
    reason = missing_tools(tls=tls)
    if reason is not None:
        message = f"no Redis Cluster or Sentinel set can be started here: {reason}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def redis_cluster_url() -> Iterator[str]:
    """One Redis Cluster (three primaries, one replica each) for the whole run."""
    require_topologies()
    with redis_cluster() as cluster:
        yield cluster.url


def app_redis_url(request: pytest.FixtureRequest, redis_backend: str) -> str | None:
    """The Redis of a test's app: the cluster's URL, ROBOSCOPE_TEST_REDIS_URL, or None (the
    app then starts an embedded Redis)."""
    if redis_backend == "cluster":
        return str(request.getfixturevalue("redis_cluster_url"))
    return os.environ.get("ROBOSCOPE_TEST_REDIS_URL")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A freshly migrated database of each kind, once per test session."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "roboscope.db"
        url = f"sqlite+aiosqlite:///{path}"
    else:
        url = require_service("ROBOSCOPE_TEST_DATABASE_URL", "PostgreSQL")
        asyncio.run(_drop_everything(url))
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def settings(
    request: pytest.FixtureRequest,
    database_url: str,
    redis_backend: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    """ROBOSCOPE_TEST_REDIS_URL when set (CI), else the app starts an embedded Redis; the
    cluster for the cluster runs."""
    return Settings(
        database_url=database_url,
        redis_url=app_redis_url(request, redis_backend),
        data_dir=tmp_path_factory.mktemp("data"),
        # Every test calls from one address, far faster than clients do: the budgets are
        # tested on their own (tests/api/test_rate_limits.py), with small rates.
        rate_limits=False,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The session's app. Its background tasks (change-log retention, live polls) run only
    while the test loop does: a test that lets another process write to its database keeps
    the loop running (async, the blocking waits in threads: tests/api/test_openapi_fuzz.py),
    or a task left inside a SQLite write transaction holds the file's lock meanwhile."""
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def database(app: FastAPI) -> AsyncIterator[Database]:
    """The app's database, emptied before each test."""
    db: Database = app.state.roboscope.database
    async with db.transaction() as conn:
        for table in reversed(metadata.sorted_tables):
            if table is not change_counter:  # its one row is part of the schema
                await conn.execute(table.delete())
    yield db


def conformance(app: FastAPI) -> OpenApiConformance:
    """The app's OpenAPI document as a checker, built once per app."""
    checker: OpenApiConformance | None = getattr(app.state, "test_conformance", None)
    if checker is None:
        checker = app.state.test_conformance = OpenApiConformance(app.openapi())
    return checker


@asynccontextmanager
async def api_client(
    app: FastAPI, *, address: str = "127.0.0.1"
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on `app`, shaped like the iOS clients (JSON headers on every request).

    Every answer is checked against the app's OpenAPI document (status documented, content
    type, body schema, headers), so the whole API suite holds the document to the truth.
    `address` is the client address the app sees.
    """
    checker = conformance(app)

    async def conforms(response: httpx.Response) -> None:
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            return  # a live stream: never read to its end here
        await response.aread()
        checker.check(response)

    transport = httpx.ASGITransport(app=app, client=(address, 123))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://roboscope.test/api/v1",
        headers=IOS_HEADERS,
        event_hooks={"response": [conforms]},
    ) as http:
        yield http


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A separate app with its own settings, started and stopped around the block."""
    app = create_app(settings)
    async with LifespanManager(app), api_client(app) as http:
        yield http


@pytest.fixture
async def client(app: FastAPI, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(app) as http:
        yield http
