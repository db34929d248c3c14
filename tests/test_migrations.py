"""Migrations: they build exactly the schema the code expects, and they run both ways."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from roboscope.db.migrate import downgrade, upgrade
from roboscope.db.tables import metadata

from .conftest import create_postgres_database, require_service


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
    assert result.stdout.endswith(" (head)\n")
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
