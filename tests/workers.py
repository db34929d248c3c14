"""Parallel test workers (pytest-xdist) that never meet in a shared service.

Each worker `gwN` rewrites, in its own process and before any test runs, the two variables
every test reads its services from:

- `ROBOSCOPE_TEST_DATABASE_URL` names a PostgreSQL database of the worker's own, created
  beside the given one (`test` becomes `test_gw0`, `test_gw1`, ...). Databases that tests
  derive from it (`test_gw0_live`, ...) are then the worker's own too.
- `ROBOSCOPE_TEST_REDIS_URL` names a Redis database of the worker's own, counting down from
  the given one (`/15` becomes `/15`, `/14`, ...), since Redis numbers its databases from 0
  and the example URL takes the last of the default 16. Pub/sub channels are server-wide,
  but the live channel's name carries the database number (`roboscope.realtime.feed`), so
  the workers' wake-ups stay apart too.

So a new test is isolated by reading the variables as usual. Everything else a worker starts
is its own already: temporary folders (pytest gives each worker its own), embedded Redis
servers (unix sockets in those folders) and server processes (free ports).
"""

from __future__ import annotations

import asyncio
import os
import re
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

DATABASE_VARIABLE = "ROBOSCOPE_TEST_DATABASE_URL"
REDIS_VARIABLE = "ROBOSCOPE_TEST_REDIS_URL"


def worker_number(worker_id: str) -> int:
    """0 for xdist's `gw0`, 1 for `gw1`, ..."""
    match = re.fullmatch(r"gw(\d+)", worker_id)
    if match is None:
        raise ValueError(f"not an xdist worker id: {worker_id!r}")
    return int(match.group(1))


def worker_database_url(shared: str, worker_id: str) -> str:
    """The URL of `worker_id`'s own database on the server of `shared`."""
    url = make_url(shared)
    return url.set(database=f"{url.database}_{worker_id}").render_as_string(hide_password=False)


def worker_redis_url(shared: str, number: int) -> str:
    """`shared` with the database `number` below its own (a `/N` path; none means 0)."""
    parts = urlsplit(shared)
    if parts.scheme == "unix":
        raise ValueError(f"{REDIS_VARIABLE}: parallel workers need a redis:// URL, not unix://")
    if "db=" in parts.query:
        raise ValueError(f"{REDIS_VARIABLE} ({shared}): name the database as a path, e.g. /15")
    path = parts.path.strip("/") or "0"
    if not path.isdigit():
        raise ValueError(f"{REDIS_VARIABLE} ({shared}): the path must be a database number")
    database = int(path) - number
    if database < 0:
        raise ValueError(
            f"{REDIS_VARIABLE} names database {path}: worker {number} would need database "
            f"{database}; name a database of at least {number} (e.g. /15)"
        )
    return urlunsplit(parts._replace(path=f"/{database}"))


def create_postgres_database(shared: URL, name: str, *, fresh: bool = False) -> str:
    """A database `name` on the server of `shared` (dropped first when `fresh`); its URL."""

    async def create() -> None:
        engine = create_async_engine(shared, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                if fresh:
                    await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                exists = await conn.scalar(
                    text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                )
                if not exists:
                    await conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            await engine.dispose()

    asyncio.run(create())
    return shared.set(database=name).render_as_string(hide_password=False)


def isolate(worker_id: str) -> None:
    """Point this worker's test variables at services of its own (see the module's doc)."""
    number = worker_number(worker_id)
    if shared := os.environ.get(DATABASE_VARIABLE):
        own = worker_database_url(shared, worker_id)
        create_postgres_database(make_url(shared), make_url(own).database or "")
        os.environ[DATABASE_VARIABLE] = own
    if shared := os.environ.get(REDIS_VARIABLE):
        os.environ[REDIS_VARIABLE] = worker_redis_url(shared, number)
