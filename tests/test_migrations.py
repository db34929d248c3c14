"""Migrations: they build exactly the schema the code expects, and they run both ways."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from asgi_lifespan import LifespanManager
from sqlalchemy import insert, inspect, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from roboscope.db import markers as marker_rows
from roboscope.db.migrate import downgrade, upgrade
from roboscope.db.tables import marker_details, markers, metadata, spaces, work_sessions
from roboscope.server.app import create_app
from roboscope.settings import Settings

from .conftest import api_client, create_postgres_database, require_service


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own, so going down to nothing disturbs no other test."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
        return
    shared = make_url(require_service("ROBOSCOPE_TEST_DATABASE_URL", "PostgreSQL"))
    name = f"{shared.database}_migrations"
    url = create_postgres_database(shared, name)
    downgrade(url, "base")
    yield url
    downgrade(url, "base")


def _schema_differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection)
    return list(compare_metadata(context, metadata))


async def _differences(url: str) -> list[object]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_schema_differences)
    finally:
        await engine.dispose()


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    return set(names) - {"alembic_version"}


def test_migrations_build_the_schema_of_tables_py(empty_database: str) -> None:
    upgrade(empty_database)
    assert asyncio.run(_differences(empty_database)) == []


def test_migrations_go_down_and_up_again(empty_database: str) -> None:
    upgrade(empty_database)
    assert asyncio.run(_tables(empty_database)) == set(metadata.tables)
    downgrade(empty_database, "base")
    assert asyncio.run(_tables(empty_database)) == set()
    upgrade(empty_database)
    assert asyncio.run(_tables(empty_database)) == set(metadata.tables)


def test_cli_db_upgrade(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli' / 'roboscope.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "roboscope", "db", "upgrade", "--create-database"],
        env={"ROBOSCOPE_DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("(head)"), result.stdout
    assert asyncio.run(_tables(url)) == set(metadata.tables)


def test_serve_refuses_a_database_that_is_not_migrated(empty_database: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "roboscope", "serve", "--port", "0"],
        env={
            "ROBOSCOPE_DATABASE_URL": empty_database,
            "ROBOSCOPE_DATA_DIR": str(tmp_path),
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "roboscope db upgrade" in result.stderr


async def _marker_rows(url: str) -> list[tuple[object, ...]]:
    """Each marker with its session and details (what 0007's copy of the table must keep)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(
                    markers.c.id,
                    markers.c.work_session_id,
                    markers.c.label,
                    marker_details.c.long_size,
                )
                .select_from(markers.outerjoin(marker_details))
                .order_by(markers.c.id)
            )
            return [tuple(row) for row in rows]
    finally:
        await engine.dispose()


async def _seed_markers(url: str, *, lock_fence: bool = True) -> None:
    """Three markers with details, written as the revision before 0007 (`lock_fence`: with
    the column 0007 drops set) or 0007 writes them."""
    now = datetime.now(UTC)
    stamps = {"created_at": now, "updated_at": now}
    space, session = uuid.uuid4(), uuid.uuid4()
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(spaces).values(
                    id=space, key="k", name="n", meta={}, is_active=True, **stamps
                )
            )
            await conn.execute(
                insert(work_sessions).values(
                    id=session,
                    space_id=space,
                    session_type="inspection",
                    status="draft",
                    version=0,
                    meta={},
                    **stamps,
                )
            )
            for n in range(3):
                marker = uuid.uuid4()
                corner = [0, 0, n]
                await conn.execute(
                    insert(markers).values(
                        id=marker,
                        work_session_id=session,
                        label=f"m{n}",
                        p1=corner,
                        p2=corner,
                        p3=corner,
                        p4=corner,
                        version=0,
                        meta={},
                        custom_props={},
                        **stamps,
                    )
                )
                sizes = dict.fromkeys(
                    (
                        "center_location_long",
                        "center_location_cross",
                        "x_negative",
                        "x_positive",
                        "z_positive",
                        "z_negative",
                        "cross_size",
                    ),
                    0.0,
                )
                await conn.execute(
                    insert(marker_details).values(
                        marker_id=marker, long_size=float(n), custom_props={}, **sizes, **stamps
                    )
                )
            if lock_fence:
                await conn.execute(text("UPDATE markers SET lock_fence = 7"))
    finally:
        await engine.dispose()


def test_dropping_the_marker_lock_fence_keeps_markers_and_their_details(
    empty_database: str,
) -> None:
    """0007 drops an unused column (SQLite copies the whole table to do it): every marker,
    its session and its details survive, both ways."""
    upgrade(empty_database, "0006")
    asyncio.run(_seed_markers(empty_database))
    before = asyncio.run(_marker_rows(empty_database))
    assert len(before) == 3

    upgrade(empty_database, "0007")
    assert asyncio.run(_marker_rows(empty_database)) == before
    assert "lock_fence" not in asyncio.run(_columns(empty_database, "markers"))
    downgrade(empty_database, "0006")
    assert asyncio.run(_marker_rows(empty_database)) == before
    assert "lock_fence" in asyncio.run(_columns(empty_database, "markers"))


async def _columns(url: str, table: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            found = await conn.run_sync(lambda sync: inspect(sync).get_columns(table))
    finally:
        await engine.dispose()
    return {column["name"] for column in found}


async def test_markers_of_an_earlier_release_are_listed_then_stored_at_start(
    empty_database: str, tmp_path: Path
) -> None:
    """0008 adds the markers' list texts, empty: lists render such rows from their columns,
    and a server's start stores them all in the background (services/listed_markers.py)."""
    await asyncio.to_thread(upgrade, empty_database, "0007")
    await _seed_markers(empty_database, lock_fence=False)
    await asyncio.to_thread(upgrade, empty_database)
    settings = Settings(
        database_url=empty_database,
        redis_url=os.environ.get("ROBOSCOPE_TEST_REDIS_URL"),
        data_dir=tmp_path,
        rate_limits=False,
    )
    app = create_app(settings)
    async with LifespanManager(app), api_client(app) as client:
        db = app.state.roboscope.database
        listed = await client.get("/markers")
        assert sorted(marker["label"] for marker in listed.json()) == ["m0", "m1", "m2"]
        singly = [(await client.get(f"/markers/{m['id']}")).json() for m in listed.json()]
        assert listed.json() == singly
        for _ in range(500):  # the start's background task
            async with db.snapshot() as conn:
                if not await marker_rows.unlisted(conn, 10):
                    break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the markers' texts were not stored")
        assert (await client.get("/markers")).json() == singly
    await asyncio.to_thread(downgrade, empty_database, "0007")
    assert "listed" not in await _columns(empty_database, "markers")
